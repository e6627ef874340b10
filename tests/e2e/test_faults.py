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
from pathlib import Path
from typing import List

import pytest

from components import pusher
from helpers import REPO_ROOT, cli_command, run_cli, write_dataset
from mlmd import run_summary
from pipeline import configs
from reliability import chaos

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
  trained = chaos.trained_digests(output_dir)
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


# Faults of the environment, each injected for real on a run that completed before: the line on
# stderr, the exit code (pipeline/faults.py), the log under the output dir; and that nothing
# half-done is left live. Disk full is a real tmpfs of 20 MB (root mounts it; skipped otherwise),
# filled to the last byte by a file.

_ERROR_LINE = re.compile(r'^fashion-pipeline: error: (.*) \(exit (\d+); traceback in (\S+)\)$')


def _fault_line(result) -> re.Match:
  """The failed command's last stderr line, parsed: the fault, its exit code and the log's path;
  the command printed no traceback and its exit code is the one the line names."""
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  line = _ERROR_LINE.match(result.stderr.strip().splitlines()[-1])
  assert line and int(line[2]) == result.returncode, result.stderr[-3000:]
  assert 'Traceback (most recent call last)' in Path(line[3]).read_text()
  return line


@pytest.fixture(scope='module')
def finished(tmp_path_factory):
  """A data dir and the output dir of a completed run on it, and the run's arguments."""
  root = tmp_path_factory.mktemp('environment')
  data_dir, output_dir = write_dataset(root / 'data'), root / 'out'
  args = ['run', '--data-dir', str(data_dir), '--output-dir', str(output_dir), '--epochs', '1',
          '--accuracy-threshold', '0.5']
  result = run_cli(*args)
  assert result.returncode == 0, result.stderr[-3000:]
  return data_dir, output_dir, args


@pytest.fixture
def full_disk(tmp_path):
  """A 20 MB tmpfs, and a function that fills it to the last byte."""
  if os.geteuid() != 0:
    pytest.skip('mounting a tmpfs needs root')
  mount_point = tmp_path / 'disk'
  mount_point.mkdir()
  subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=20m', 'tmpfs', str(mount_point)],
                 check=True)

  def fill():
    with open(mount_point / 'filler', 'wb') as f:
      try:
        while True:
          f.write(bytes(1 << 20))
          f.flush()
      except OSError:
        pass
  yield mount_point, fill
  subprocess.run(['umount', '-l', str(mount_point)], check=True)


def _run_paused_at(component: str, args: List[str], action) -> subprocess.CompletedProcess:
  """Runs the pipeline; as component's executor starts, stops the whole process group
  (SIGSTOP), calls action(), and lets it go on (SIGCONT); returns the finished run."""
  process = subprocess.Popen(cli_command(*args, '--verbose'), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
  running, lines, paused = None, [], False
  for line in process.stderr:
    lines.append(line)
    progress = _PROGRESS.search(line)
    if progress and progress[2] == 'running':
      running = progress[1]
    elif running == component and _EXECUTOR_STARTS in line and not paused:
      os.killpg(process.pid, signal.SIGSTOP)
      try:
        action()
      finally:
        os.killpg(process.pid, signal.SIGCONT)
      paused = True
  assert paused, f'{component} never started: ' + ''.join(lines[-40:])
  return subprocess.CompletedProcess(args, process.wait(), None, ''.join(lines))


def test_a_data_file_with_0_images_is_refused_before_the_run(tmp_path):
  data_dir = write_dataset(tmp_path / 'data', num_test=0)
  result = run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(tmp_path / 'out'))
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1] == (
      f'fashion-pipeline: error: {data_dir}/t10k-images-idx3-ubyte.gz: holds 0 images')
  assert not (tmp_path / 'out' / 'metadata.sqlite').exists()


def test_a_moved_clone_reuses_the_cache(finished, tmp_path):
  data_dir, output_dir, args = finished
  code = tmp_path / 'clone'
  for name in ('components', 'engines', 'fashion_mnist', 'mlmd', 'models', 'pipeline', 'report',
               'serving', 'schemas', 'pipeline_runner.py'):
    copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
    copy(REPO_ROOT / name, code / name)
  # --rerun: the pipeline runs, and TFX's cache must reuse what the clone elsewhere made.
  result = run_cli(*args, '--rerun', env={**os.environ, 'PYTHONPATH': str(code)})
  assert result.returncode == 0, result.stderr[-3000:]
  states = _states(run_summary.summarize(_config(output_dir), _run_id(result.stdout)))
  assert {component: states[component] for component in (
      'ImportSchemaGen', 'StatisticsGen', 'Transform', 'Trainer', 'Evaluator', 'Pusher')} == {
          component: 'cached' for component in (
              'ImportSchemaGen', 'StatisticsGen', 'Transform', 'Trainer', 'Evaluator', 'Pusher')}


@pytest.mark.parametrize('damage', ['garbage pages', 'a folder'])
def test_a_corrupt_or_unreadable_store_exits_6_naming_it(finished, tmp_path, damage):
  _, output_dir, args = finished
  store = tmp_path / 'metadata.sqlite'
  if damage == 'a folder':
    store.mkdir()
  else:
    data = bytearray((output_dir / 'metadata.sqlite').read_bytes())
    data[4096:] = os.urandom(len(data) - 4096)  # every page after the first
    store.write_bytes(bytes(data))
  result = run_cli(*args, '--metadata-path', str(store))
  assert result.returncode == 6
  line = _fault_line(result)
  assert line[1].startswith(f'ML Metadata store: {store}: ')
  assert Path(line[3]).parent == output_dir / 'logs' and line[3].endswith('-metadata.log')


def test_a_moved_output_dir_exits_7_saying_so(finished):
  _, output_dir, args = finished
  moved = output_dir.with_name('moved')
  output_dir.rename(moved)
  try:
    result = run_cli(*[str(moved) if arg == str(output_dir) else arg for arg in args])
    assert result.returncode == 7
    assert 'the output dir was moved or copied' in _fault_line(result)[1]
  finally:
    moved.rename(output_dir)


def test_a_full_disk_exits_5_naming_the_file(finished, full_disk, tmp_path):
  data_dir, _, _ = finished
  disk, fill = full_disk
  fill()
  output_dir = tmp_path / 'out'
  result = run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir),
                   '--pipeline-root', str(disk / 'root'))
  assert result.returncode == 5
  line = _fault_line(result)
  assert line[1].startswith(f'disk full: {disk}/root/') and 'No space left on device' in line[1]
  assert Path(line[3]).parent == output_dir / 'logs'


def test_a_full_disk_during_the_push_leaves_no_version_live(finished, full_disk):
  _, output_dir, args = finished
  disk, fill = full_disk
  before = _versions(output_dir)
  # A new model (2 epochs), and the Pusher's archived copy goes to the disk that fills up as its
  # executor starts.
  result = _run_paused_at('Pusher', [*args, '--epochs', '2', '--pipeline-root', str(disk)], fill)
  assert result.returncode == 5, result.stderr[-3000:]
  assert _versions(output_dir) == before
  summary = run_summary.summarize(_config(output_dir))
  assert _states(summary)['Pusher'] == 'failed' and summary.pushed_path is None


def test_a_push_that_ml_metadata_did_not_record_is_withdrawn_after_a_failure(finished):
  from pipeline import runner  # pylint: disable=g-import-not-at-top  (TensorFlow)
  _, output_dir, _ = finished
  recorded = _versions(output_dir)
  unrecorded = output_dir / 'serving' / str(int(recorded[-1].name) + 1)
  shutil.copytree(recorded[-1], unrecorded)  # as if ML Metadata had failed after the rename
  runner.withdraw_unrecorded_pushes(_config(output_dir), [int(v.name) for v in recorded])
  assert _versions(output_dir) == recorded
  assert (unrecorded.parent / f'.{unrecorded.name}.incomplete').is_dir()


def test_an_artifact_deleted_while_the_run_needs_it_exits_7_naming_it(finished):
  _, output_dir, args = finished
  graphs = output_dir / 'pipeline_root' / 'Transform' / 'transform_graph'
  result = _run_paused_at('Trainer', [*args, '--epochs', '3'],
                          lambda: [shutil.rmtree(p) for p in graphs.iterdir()])
  assert result.returncode == 7, result.stderr[-3000:]
  line = _ERROR_LINE.match(result.stderr.strip().splitlines()[-1])
  assert line and line[1].startswith(f'artifact missing: {graphs}/'), result.stderr[-3000:]


def test_any_other_crash_exits_70_with_a_log(finished, tmp_path):
  _, output_dir, _ = finished
  (tmp_path / 'a-file').write_text('')
  first_run = run_summary.history(_config(output_dir))[0].run_id  # it wrote its report
  result = run_cli('report', '--output-dir', str(output_dir), '--run', first_run,
                   '--out', str(tmp_path / 'a-file' / 'report.html'))
  assert result.returncode == 70
  assert _fault_line(result)[1].startswith('unexpected FileExistsError: ')
