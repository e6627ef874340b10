"""The pipeline process's own settings: TensorFlow on one thread, Beam's short state sampling, one
TypeOptions view per Beam options object, summarised array reprs."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import apache_beam as beam
from apache_beam.options import pipeline_options
from apache_beam.runners.worker import statesampler
from apache_beam.testing import util as beam_testing
from apache_beam.utils import counters

from pipeline import configs
from pipeline import in_process

_REPO_ROOT = Path(__file__).resolve().parents[2]


def _python(code: str) -> subprocess.CompletedProcess:
  """code in a fresh interpreter: TensorFlow's thread pools are made once per process."""
  return subprocess.run([sys.executable, '-c', textwrap.dedent(code)], capture_output=True,
                        text=True, cwd=_REPO_ROOT, timeout=300,
                        env={**os.environ, 'TF_CPP_MIN_LOG_LEVEL': '3'})


def test_tensorflow_runs_on_one_thread():
  result = _python("""
      from pipeline import in_process
      import tensorflow as tf
      in_process.use_one_tensorflow_thread()
      print(tf.constant(2) * 3)
      print(tf.config.threading.get_intra_op_parallelism_threads(),
            tf.config.threading.get_inter_op_parallelism_threads())
      """)
  assert result.returncode == 0, result.stderr
  assert result.stdout.splitlines()[-1] == '1 1'


def test_the_threads_cannot_be_set_once_tensorflow_has_run():
  # Why runner.run sets them before any component runs.
  result = _python("""
      import tensorflow as tf
      from pipeline import in_process
      tf.constant(2) * 3
      in_process.use_one_tensorflow_thread()
      """)
  assert result.returncode != 0 and 'RuntimeError' in result.stderr


def test_beam_samples_bundle_states_every_20_ms_and_still_runs():
  default = statesampler.StateSampler.__init__.__defaults__
  try:
    in_process.shorten_beam_state_sampling()
    assert statesampler.StateSampler('step', counters.CounterFactory()).sampling_period_ms == 20
    with beam.Pipeline(argv=list(configs.DEFAULT_BEAM_ARGS)) as pipeline:
      squares = pipeline | beam.Create(range(5)) | beam.Map(lambda x: x * x)
      beam_testing.assert_that(squares, beam_testing.equal_to([0, 1, 4, 9, 16]))
  finally:
    statesampler.StateSampler.__init__.__defaults__ = default


def test_beam_reuses_one_type_options_view_and_its_values_follow_the_options():
  view_as = pipeline_options.PipelineOptions.view_as
  try:
    in_process.reuse_beam_type_options_views()
    options = pipeline_options.PipelineOptions(['--no_pipeline_type_check'])
    view = options.view_as(pipeline_options.TypeOptions)
    assert options.view_as(pipeline_options.TypeOptions) is view
    assert view.pipeline_type_check is False
    options.view_as(pipeline_options.TypeOptions).runtime_type_check = True
    assert view.runtime_type_check is True
    # Each options object has its own view; other option classes are Beam's as they were.
    other = pipeline_options.PipelineOptions([])
    assert other.view_as(pipeline_options.TypeOptions).pipeline_type_check is True
    assert other.view_as(pipeline_options.TypeOptions) is not view
    assert options.view_as(pipeline_options.StandardOptions) is not options.view_as(
        pipeline_options.StandardOptions)
    with beam.Pipeline(argv=list(configs.DEFAULT_BEAM_ARGS)) as pipeline:
      doubled = pipeline | beam.Create([1, 2]) | beam.Map(lambda x: 2 * x).with_output_types(int)
      beam_testing.assert_that(doubled, beam_testing.equal_to([2, 4]))
  finally:
    pipeline_options.PipelineOptions.view_as = view_as


def test_long_tensor_reprs_are_summarised():
  result = _python("""
      import tensorflow as tf
      from pipeline import in_process
      in_process.summarise_long_array_reprs()
      print(len(repr(tf.constant([b'x' * 1000] * 1000))))
      """)
  assert result.returncode == 0, result.stderr
  assert int(result.stdout.splitlines()[-1]) < 10_000
