"""TFX packages itself for Beam workers only when they do not run this environment."""

import sys
import tempfile

import pytest
from tfx.components.statistics_gen import executor as statistics_gen_executor
from tfx.dsl.components.base import base_beam_executor

from pipeline import beam_packaging
from pipeline import configs


@pytest.mark.parametrize('beam_args', [
    configs.DEFAULT_BEAM_ARGS,
    ('--direct_running_mode=multi_processing', '--direct_num_workers=0'),
    ('--runner=DirectRunner',),
    ('--runner=PortableRunner', '--job_endpoint=embed', '--environment_type=EXTERNAL',
     '--environment_config=127.0.0.1:50000'),
    ('--runner=FlinkRunner', '--flink_master=127.0.0.1:8081', '--environment_type=LOOPBACK'),
])
def test_runners_whose_workers_run_this_environment(beam_args):
  assert beam_packaging.workers_run_this_environment(beam_args)


@pytest.mark.parametrize('beam_args', [
    ('--runner=DataflowRunner', '--project=p'),
    ('--runner=PortableRunner', '--job_endpoint=localhost:8099', '--environment_type=DOCKER'),
    ('--runner=SparkRunner', '--environment_type=PROCESS', '--environment_config={}'),
])
def test_runners_whose_workers_may_lack_tfx(beam_args):
  assert not beam_packaging.workers_run_this_environment(beam_args)


def _executor_args(beam_args, monkeypatch):
  """The Beam args a real TFX executor (StatisticsGen's) ends up with."""
  # It parses sys.argv as absl flags too, where pytest's own -v -rs would be read as -v=-rs.
  monkeypatch.setattr(sys, 'argv', sys.argv[:1])
  context = base_beam_executor.BaseBeamExecutor.Context(beam_pipeline_args=list(beam_args))
  return statistics_gen_executor.Executor(context)._beam_pipeline_args  # pylint: disable=protected-access


def test_a_tfx_beam_executor_gets_no_package_for_its_own_workers(tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))  # where TFX would build the sdist
  beam_packaging.skip_tfx_package_for_own_workers()
  beam_packaging.skip_tfx_package_for_own_workers()  # once is enough; twice changes nothing
  args = _executor_args(configs.DEFAULT_BEAM_ARGS, monkeypatch)
  assert not any(arg.startswith('--extra_package') for arg in args)
  assert list(tmp_path.iterdir()) == []  # no copy of TFX, no sdist


def test_other_runners_keep_tfxs_own_packaging(tmp_path, monkeypatch):
  monkeypatch.setattr(tempfile, 'tempdir', str(tmp_path))  # where TFX would build the sdist
  beam_packaging.skip_tfx_package_for_own_workers()
  args = _executor_args(('--runner=PortableRunner', '--environment_type=DOCKER'), monkeypatch)
  (package,) = [arg for arg in args if arg.startswith('--extra_package=')]
  assert package.endswith('.tar.gz') and package.startswith(f'--extra_package={tmp_path}')
