"""Runs the pipeline locally: LocalDagRunner, ML Metadata in SQLite, Beam's DirectRunner.

In: the configuration and the run's inputs, checked (pipeline/preflight.py: a bad file, a corrupt
store or a moved output dir is refused by name before anything runs). Out: the run's summary;
after a failed run, no version it pushed stays live unless ML Metadata recorded the push.
"""

import logging
import os
from typing import Sequence

from tfx.dsl.compiler import compiler
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.orchestration.local.local_dag_runner import LocalDagRunner
from tfx.proto.orchestration import pipeline_pb2

from components import pusher
from engines import beam_options  # noqa: F401  (declares --files_to_stage for Beam)
from engines import beam_services
from mlmd import killed_runs
from mlmd import run_summary
from mlmd import soundness
from models import keras_autograph
from pipeline import beam_packaging
from pipeline import in_process
from pipeline import preflight
from pipeline import spans
from pipeline.configs import PipelineConfig
from pipeline.pipeline import create_pipeline


def withdraw_unrecorded_pushes(config: PipelineConfig, versions_before: Sequence[int]) -> None:
  """After a failed run: takes out of service each version that this run pushed but whose push
  ML Metadata did not record (the run failed after the Pusher's rename, while TFX published the
  execution), so that the serving dir agrees with `fashion-pipeline runs`."""
  serving_dir = str(config.serving_dir)
  new = [os.path.join(serving_dir, str(version)) for version in pusher.versions(serving_dir)
         if version not in versions_before]
  if not new:
    return
  recorded = soundness.recorded_pushes(config)
  for path in new:
    if path not in recorded:
      pusher.withdraw(path)
      logging.error('Withdrew %s: the run failed before ML Metadata recorded its push', path)


def compile_pipeline(pipeline: tfx_pipeline.Pipeline) -> pipeline_pb2.Pipeline:
  """The pipeline's IR, what LocalDagRunner runs."""
  return compiler.Compiler().compile(pipeline)


def run(config: PipelineConfig, inputs: preflight.RunInputs) -> run_summary.RunSummary:
  """Runs the whole pipeline once on inputs (what preflight.check returned) and returns what that
  run produced. Call it holding the output dir's run lock (pipeline/run_lock.py): it takes
  unfinished executions for a killed run's."""
  data_dir = inputs.data_dir
  beam_services.check_reachable(config.beam_args)
  logging.info('Data: %s', config.examples_dir or data_dir)
  killed_runs.cancel_unfinished_executions(config)
  # Components run in this process: the Evaluator's model and metrics call Keras too.
  keras_autograph.exempt_keras_and_transform_from_autograph()
  in_process.use_one_tensorflow_thread()
  in_process.shorten_beam_state_sampling()
  in_process.reuse_beam_type_options_views()
  in_process.summarise_long_array_reprs()
  beam_packaging.skip_tfx_package_for_own_workers()
  ir = compile_pipeline(create_pipeline(
      config, data_dir and str(data_dir),
      with_spans=bool(data_dir and spans.span_dirs(data_dir)),
      backfill_spans=inputs.backfill_spans))
  versions_before = pusher.versions(str(config.serving_dir))
  try:
    try:
      LocalDagRunner().run_with_ir(ir)
    except RuntimeError as e:
      failure = beam_services.as_job_failure(e, config.beam_args)
      if failure is None:
        raise
      raise failure from e
  except BaseException:
    try:
      withdraw_unrecorded_pushes(config, versions_before)
    except Exception:  # pylint: disable=broad-except  (the run's own error is the one to report)
      logging.exception('Could not check the serving dir against ML Metadata')
    raise
  return run_summary.summarize(config)
