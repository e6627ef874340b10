"""`run` with nothing changed since the last run answers from ML Metadata before anything imports
TensorFlow, and records no run; a changed option, --rerun, or files removed since make it run the
pipeline. Through the command line on a few hundred generated images; the runs build on each other
(one output dir).
"""

import shutil
import subprocess
import sys
from pathlib import Path
from typing import List, Tuple

import pytest

from helpers import REPO_ROOT, write_dataset
from mlmd import run_summary
from mlmd import store as mlmd_store
from pipeline import configs

pytestmark = pytest.mark.e2e

_THRESHOLD = 0.5
# The console script's own entry point, in a fresh process that then says whether TensorFlow was
# imported (on stderr, after the command's output).
_CLI_THEN_MODULES = '''
import sys
import pipeline_runner
sys.argv[0] = 'fashion-pipeline'
exit_code = pipeline_runner.cli()
print('tensorflow imported:', 'tensorflow' in sys.modules, file=sys.stderr)
sys.exit(exit_code)
'''


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp('unchanged')
  return write_dataset(root / 'data'), root / 'out'


def _run(workspace, *extra) -> Tuple[subprocess.CompletedProcess, bool]:
  """The run's result and whether it imported TensorFlow."""
  data_dir, output_dir = workspace
  result = subprocess.run(
      [sys.executable, '-c', _CLI_THEN_MODULES, 'run', '--data-dir', str(data_dir),
       '--output-dir', str(output_dir), '--epochs', '1',
       '--accuracy-threshold', str(_THRESHOLD), *extra],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr[-5000:]
  return result, result.stderr.strip().endswith('tensorflow imported: True')


def _config(workspace) -> configs.PipelineConfig:
  return configs.build(output_dir=workspace[1], environ={})


def _runs(workspace) -> List[str]:
  config = _config(workspace)
  return [run.name for run in mlmd_store.pipeline_runs(mlmd_store.open_store(config), config)]


def _assert_answered_from_ml_metadata(workspace, result, tensorflow, runs_before):
  assert not tensorflow
  assert _runs(workspace) == runs_before  # no new pipeline_run context
  first, *rest = result.stdout.splitlines()
  assert first == (f'Nothing changed since run {runs_before[-1]} (same data, schema, code, '
                   'options and stack): its results stand; no new run recorded (--rerun runs '
                   "the pipeline, answered by TFX's cache).")
  summary = run_summary.summarize(_config(workspace))
  assert '\n'.join(rest).startswith(summary.format(_THRESHOLD))


def _assert_ran_the_pipeline(workspace, result, tensorflow, runs_before) -> str:
  """The new run's id."""
  assert tensorflow and 'Nothing changed' not in result.stdout
  runs = _runs(workspace)
  assert runs[:-1] == runs_before
  assert f'Run {runs[-1]}:' in result.stdout
  return runs[-1]


@pytest.fixture(scope='module')
def first_run(workspace):
  result, tensorflow = _run(workspace)
  assert tensorflow and 'Blessed: yes' in result.stdout
  return result


def test_a_run_with_nothing_changed_answers_from_ml_metadata_without_tensorflow(workspace,
                                                                                first_run):
  runs = _runs(workspace)
  _assert_answered_from_ml_metadata(workspace, *_run(workspace), runs)
  # Retention still runs, as after a real run.
  result, tensorflow = _run(workspace, '--retain-runs', '3')
  _assert_answered_from_ml_metadata(workspace, result, tensorflow, runs)
  assert result.stdout.splitlines()[-1].startswith('Removed 0 items')


def test_a_changed_option_runs_the_pipeline_and_then_stands(workspace, first_run):
  runs = _runs(workspace)
  new = _assert_ran_the_pipeline(workspace, *_run(workspace, '--accuracy-threshold', '0.6'), runs)
  result, tensorflow = _run(workspace, '--accuracy-threshold', '0.6')
  assert not tensorflow and result.stdout.startswith(f'Nothing changed since run {new} ')
  assert _runs(workspace) == [*runs, new]


def test_rerun_runs_the_pipeline_and_tfxs_cache_answers_it(workspace, first_run):
  runs = _runs(workspace)
  _assert_ran_the_pipeline(workspace, *_run(workspace, '--rerun'), runs)
  summary = run_summary.summarize(_config(workspace))
  assert {c.state for c in summary.components if not c.is_resolver} == {'cached'}
  _assert_answered_from_ml_metadata(workspace, *_run(workspace), _runs(workspace))


def test_a_removed_artifact_folder_or_pushed_version_runs_the_pipeline(workspace, first_run):
  summary = run_summary.summarize(_config(workspace))
  shutil.rmtree(Path(summary.report_path).parent)
  runs = _runs(workspace)
  result, tensorflow = _run(workspace)
  new = _assert_ran_the_pipeline(workspace, result, tensorflow, runs)
  assert 'Files gone' in result.stderr
  assert run_summary.summarize(_config(workspace), new).state_of('RunReport') == 'ran'

  shutil.rmtree(summary.pushed_path)
  _assert_ran_the_pipeline(workspace, *_run(workspace), [*runs, new])
