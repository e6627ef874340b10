"""Killed and overlapping runs, through the command line on a few hundred generated images.

The runs build on each other (one output dir), to keep the time down:
1. a run killed with kill -9 (its whole process group) as the Trainer starts executing;
2. its rerun, killed the same way as the Pusher starts executing;
3. the next run, which completes and pushes the model once; while it runs, a run started on the
   same output dir is refused (exit code 3).
A run is killed once TFX's launcher logs "Going to run a new execution" (shown by --verbose)
after "Component X is running": the execution is then RUNNING in ML Metadata and the executor is
starting (the Trainer's lasts over ten seconds, even with few epochs).
"""

import collections
import os
import re
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import List

import pytest

from components import pusher
from helpers import cli_command, run_cli, write_dataset
from mlmd import run_summary
from pipeline import configs
from serving import warmup

pytestmark = pytest.mark.e2e

_PROGRESS = re.compile(r'Component (\S+) is (running|finished)')
_EXECUTOR_STARTS = 'Going to run a new execution'


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp('faults')
  return write_dataset(root / 'data'), root / 'out'


def _args(workspace) -> List[str]:
  data_dir, output_dir = workspace
  return ['run', '--data-dir', str(data_dir), '--output-dir', str(output_dir), '--epochs', '3',
          '--accuracy-threshold', '0.5']


def _config(output_dir: Path) -> configs.PipelineConfig:
  return configs.build(output_dir=output_dir, environ={})


def _run_id(stdout: str) -> str:
  return re.search(r'^Run (\S+):', stdout, re.MULTILINE)[1]


def _run_until_killed(component: str, args: List[str]) -> List[str]:
  """Runs the pipeline and kills its process group with SIGKILL as component's executor starts;
  returns the components that finished before."""
  process = subprocess.Popen(cli_command(*args, '--verbose'), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
  finished, running, tail = [], None, collections.deque(maxlen=40)
  with process.stderr:
    for line in process.stderr:
      tail.append(line)
      progress = _PROGRESS.search(line)
      if progress and progress[2] == 'finished':
        finished.append(progress[1])
      elif progress:
        running = progress[1]
      elif running == component and _EXECUTOR_STARTS in line:
        os.killpg(process.pid, signal.SIGKILL)
        break
  assert process.wait() == -signal.SIGKILL, f'{component} never started: ' + ''.join(tail)
  return finished


def _model_digests(output_dir: Path) -> set:
  """The digests of every model the Trainer finished, as the Pusher publishes it (with TF
  Serving's warm-up file added)."""
  digests = set()
  for path in (output_dir / 'pipeline_root/Trainer/model').glob('*/Format-Serving'):
    with tempfile.TemporaryDirectory() as tmp:
      published = Path(tmp) / 'model'
      shutil.copytree(path, published)
      warmup.write(str(published))
      digests.add(pusher.model_digest(str(published)))
  return digests


def _versions(output_dir: Path) -> List[Path]:
  """The serving versions: integer-named folders (TF Serving ignores the rest)."""
  serving = output_dir / 'serving'
  return sorted(p for p in serving.iterdir() if p.name.isdigit()) if serving.exists() else []


@pytest.fixture(scope='module')
def killed_in_trainer(workspace):
  """What the run killed during the Trainer left: its finished components, versions, summary."""
  output_dir = workspace[1]
  finished = _run_until_killed('Trainer', _args(workspace))
  return finished, _versions(output_dir), run_summary.summarize(_config(output_dir))


@pytest.fixture(scope='module')
def killed_in_pusher(workspace, killed_in_trainer):
  """The same for the rerun, killed as the Pusher starts."""
  output_dir = workspace[1]
  finished = _run_until_killed('Pusher', _args(workspace))
  return finished, _versions(output_dir), run_summary.summarize(_config(output_dir))


@pytest.fixture(scope='module')
def completed_and_refused(workspace, killed_in_pusher):
  """The run after both kills, and a run started on the same output dir while it runs."""
  rerun = subprocess.Popen(cli_command(*_args(workspace)), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
  for line in rerun.stderr:
    if _PROGRESS.search(line):  # the first component is running: the lock is held
      break
  refused = run_cli(*_args(workspace))
  stdout, stderr = rerun.communicate()
  assert rerun.returncode == 0, stderr[-5000:]
  return rerun.pid, run_summary.summarize(_config(workspace[1]), _run_id(stdout)), refused


def _states(summary: run_summary.RunSummary) -> dict:
  return {c.component_id: c.state for c in summary.components}


def _all_complete(versions: List[Path], output_dir: Path) -> bool:
  """Whether every version is byte for byte a model the Trainer finished."""
  trained = _model_digests(output_dir)
  return all(pusher.model_digest(str(version)) in trained for version in versions)


def test_a_kill_during_the_trainer_leaves_no_version_and_readable_metadata(killed_in_trainer):
  finished, versions, summary = killed_in_trainer
  assert 'Transform' in finished and 'Trainer' not in finished
  assert not versions  # nothing was blessed yet
  states = _states(summary)
  assert states['Trainer'] == 'running'
  assert all(states[component] == 'ran' for component in finished), states


def test_the_rerun_reuses_what_the_killed_run_finished(workspace, killed_in_trainer,
                                                       killed_in_pusher):
  finished_before, _, _ = killed_in_trainer
  finished, versions, summary = killed_in_pusher
  states = _states(summary)
  # Resolvers look at ML Metadata afresh on every run; they are never cached.
  assert all(states[component] == 'cached' for component in finished_before
             if not component.endswith('_resolver')), states
  assert states['Trainer'] == states['Evaluator'] == 'ran' and summary.blessed
  # 'ran' only if the kill came late, after the Pusher's few milliseconds of work.
  assert 'Evaluator' in finished and states['Pusher'] in ('running', 'ran')
  assert _all_complete(versions, workspace[1])  # whether or not the copy was renamed in time


def test_a_second_run_on_the_same_output_dir_is_refused_while_the_first_completes(
    workspace, completed_and_refused):
  pid, _, refused = completed_and_refused
  assert refused.returncode == 3
  assert refused.stderr.startswith(f'fashion-pipeline: {workspace[1]} is in use by another run '
                                   f'(pid {pid}, started ')
  assert refused.stderr.count('\n') == 1 and ' run --data-dir ' in refused.stderr


def test_after_both_kills_a_run_completes_and_the_model_is_pushed_exactly_once(
    workspace, killed_in_trainer, killed_in_pusher, completed_and_refused):
  output_dir = workspace[1]
  _, summary, _ = completed_and_refused
  pusher_killed = _states(killed_in_pusher[2])['Pusher'] == 'running'
  states = _states(summary)
  assert all(state == 'cached' for component, state in states.items()
             if component not in ('Pusher', 'RunReport') and not component.endswith('_resolver')
            ), states
  assert states['Pusher'] == ('ran' if pusher_killed else 'cached')
  (version,) = _versions(output_dir)
  assert summary.pushed_path == str(version) and _all_complete([version], output_dir)
  # The killed runs' unfinished components are no longer shown as running.
  for killed, component in ((killed_in_trainer, 'Trainer'), (killed_in_pusher, 'Pusher')):
    if _states(killed[2])[component] == 'running':
      run_id = killed[2].run_id
      assert _states(run_summary.summarize(_config(output_dir), run_id))[component] == 'canceled'
