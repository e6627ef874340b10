"""Retention and lost artifacts through the command line, on a store of real small runs: span 1
blessed and pushed; span 2 warm-started from it, blessed and pushed. Then `gc --dry-run` (changes
nothing), a gc killed with SIGKILL part-way and run again, a rerun (--rerun) fully cached, files
deleted by hand (the baseline model, the previous statistics, the cached transform graph) that the
next run, a refused candidate, notices and works around, and a new span with `run --retain-runs 1
--retain-versions 1` on that store. Five runs, two of them mostly cached: 263 s on 2 cores busy
with other work (load 5), of which 145 s for the first two runs.
"""

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2

from helpers import REPO_ROOT, run_cli, write_dataset
from mlmd import names
from mlmd import retention
from mlmd import store as mlmd_store
from pipeline import configs

pytestmark = pytest.mark.e2e

Artifact = metadata_store_pb2.Artifact
_INPUT = metadata_store_pb2.Event.INPUT
_TRAINING = ('--epochs', '1', '--accuracy-threshold', '0.5', '--max-accuracy-drop', '0.05')
_WARM_START = ('--warm-start',)
# One epoch of steps this small leaves the initial weights: far below the threshold, refused.
_REFUSED = ('--learning-rate', '0.000001')


class Workspace:
  """A generated release cut into three parts, a data root of spans and an output dir."""

  def __init__(self, root: Path):
    self.release = write_dataset(root / 'release', num_train=600, num_test=200)
    self.incoming = root / 'incoming'
    self.data = root / 'spans'
    self.output = root / 'out'
    self.config = configs.build(output_dir=self.output, environ={})
    _ok(run_cli('split', '--data-dir', str(self.release), '--parts', '3', '--out',
                str(self.incoming)))

  def add_span(self, part: int):
    files = sorted(str(p) for p in (self.incoming / f'part-{part}').iterdir())
    _ok(run_cli('add-span', '--data-dir', str(self.data), *files, '--test-set',
                str(self.release)))

  def run(self, *extra):
    return _ok(run_cli('run', '--data-dir', str(self.data), '--output-dir', str(self.output),
                       *_TRAINING, *extra))

  def gc(self, *extra):
    return _ok(run_cli('gc', '--output-dir', str(self.output), '--keep-runs', '1',
                       '--keep-versions', '1', *extra))

  def store(self):
    return mlmd_store.open_store(self.config)

  def artifacts(self):
    return {a.id: a for a in retention.pipeline_artifacts(self.store(), self.config)}

  def versions(self):
    return sorted(p.name for p in (self.output / 'serving').iterdir())

  def newest_run(self):
    """{component id: (state, {input key: [artifact]})} of the newest run."""
    store = self.store()
    found = {}
    for component_id, execution in mlmd_store.component_executions(
        store, mlmd_store.find_run(store, self.config)):
      found[component_id] = (mlmd_store.state_name(execution),
                             mlmd_store.artifacts_of(store, execution.id, _INPUT))
    return found


def _ok(result):
  assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
  return result


def _assert_consistent(workspace):
  """No LIVE artifact lacks its files, and none retention marked DELETED has any left (those
  MARKED_FOR_DELETION, by a killed gc, may have some)."""
  for artifact in workspace.artifacts().values():
    if artifact.state == Artifact.LIVE:
      assert not retention.files_missing(artifact), artifact
    elif artifact.custom_properties[names.REMOVED].string_value == names.REMOVED_BY_RETENTION:
      assert artifact.state in (Artifact.DELETED, Artifact.MARKED_FOR_DELETION), artifact
      if artifact.state == Artifact.DELETED:
        assert not Path(artifact.uri).exists(), artifact


def _assert_inputs_live(run):
  for component_id, (_, inputs) in run.items():
    for artifact in (a for artifacts in inputs.values() for a in artifacts):
      assert artifact.state == Artifact.LIVE and Path(artifact.uri).exists(), (component_id,
                                                                                artifact)


def _by_component(run, component_id, key):
  return [a.id for a in run[component_id][1].get(key, [])]


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
  """Two runs: span 1 (the first version), span 2 warm-started from it (the second)."""
  workspace = Workspace(tmp_path_factory.mktemp('gc'))
  workspace.add_span(1)
  workspace.run(*_WARM_START)
  workspace.add_span(2)
  workspace.run(*_WARM_START)
  assert len(workspace.versions()) == 2
  return workspace


def _snapshot(workspace):
  files = {str(p): (p.stat().st_size, p.stat().st_mtime_ns)
           for p in workspace.output.rglob('*') if p.is_file() and p.name != 'run.lock'}
  return files, {a.id: (a.state, dict(a.custom_properties)) for a in
                 workspace.artifacts().values()}


def test_a_dry_run_lists_what_would_go_and_changes_nothing(workspace):
  before = _snapshot(workspace)
  result = workspace.gc('--dry-run')
  first_version = workspace.versions()[0]
  assert 'Would remove' in result.stdout
  assert f'serving version: {workspace.output / "serving" / first_version}' in result.stdout
  assert _snapshot(workspace) == before


def test_a_gc_killed_part_way_leaves_a_consistent_store_and_the_next_gc_finishes(workspace):
  versions = workspace.versions()
  # SIGKILL at the second folder it removes: a real kill -9, at a point chosen by the test.
  script = '''
import os, shutil, signal, sys
real_rmtree, calls = shutil.rmtree, []
def rmtree(path, *args, **kwargs):
  calls.append(path)
  if len(calls) == 2:
    os.kill(os.getpid(), signal.SIGKILL)
  real_rmtree(path, *args, **kwargs)
shutil.rmtree = rmtree
import pipeline_runner
sys.exit(pipeline_runner.main(sys.argv[1:]))
'''
  killed = subprocess.run(
      [sys.executable, '-c', script, 'gc', '--output-dir', str(workspace.output),
       '--keep-runs', '1', '--keep-versions', '1'],
      cwd=REPO_ROOT, capture_output=True, text=True, check=False)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  states = [a.state for a in workspace.artifacts().values()]
  assert Artifact.MARKED_FOR_DELETION in states and Artifact.DELETED not in states
  _assert_consistent(workspace)
  assert workspace.versions() == versions  # the versions go after the artifacts

  result = workspace.gc()
  assert 'Removed' in result.stdout
  _assert_consistent(workspace)
  artifacts = workspace.artifacts()
  assert Artifact.MARKED_FOR_DELETION not in {a.state for a in artifacts.values()}
  assert workspace.versions() == versions[1:]  # the newest stays
  span_1 = [a for a in artifacts.values() if mlmd_store.span_of(a) == 1]
  assert span_1 and all(a.state == Artifact.DELETED for a in span_1)  # outside the window
  # The runs' records stay: `runs` still lists the history.
  assert len(mlmd_store.pipeline_runs(workspace.store(), workspace.config)) == 2
  assert 'Removed 0 items' in workspace.gc().stdout


def test_a_rerun_after_gc_is_fully_cached(workspace):
  # --rerun: TFX's cache, not the answer from ML Metadata, must find everything it reuses kept.
  workspace.run(*_WARM_START, '--rerun')
  run = workspace.newest_run()
  assert {state for component_id, (state, _) in run.items()
          if not component_id.endswith('_resolver')} == {'cached'}
  _assert_inputs_live(run)


def test_files_deleted_by_hand_are_marked_and_the_next_run_goes_on_without_them(workspace):
  before = workspace.newest_run()
  # The next candidate's baseline: the newest blessed model, the one this rerun evaluated.
  [baseline] = _by_component(before, 'Pusher', names.MODEL_KEY)
  [previous_statistics] = _by_component(before, 'DataGate', 'previous_statistics')
  [transform_graph] = _by_component(before, 'Trainer', names.TRANSFORM_GRAPH_KEY)
  artifacts = workspace.artifacts()
  for artifact_id in (baseline, previous_statistics, transform_graph):
    subprocess.run(['rm', '-rf', artifacts[artifact_id].uri], check=True)

  result = workspace.run(*_REFUSED)  # a new candidate, refused: the store gc works on next
  assert 'Blessed: no' in result.stdout
  assert 'Files gone' in result.stderr
  artifacts = workspace.artifacts()
  for artifact_id in (baseline, previous_statistics, transform_graph):
    assert artifacts[artifact_id].state == Artifact.DELETED
    assert (artifacts[artifact_id].custom_properties[names.REMOVED].string_value
            == names.REMOVED_FILES_MISSING)
  run = workspace.newest_run()
  assert run['Transform'][0] == 'ran'  # its cached graph is gone
  assert baseline not in _by_component(run, 'Evaluator', names.BASELINE_MODEL_KEY)
  assert previous_statistics not in _by_component(run, 'DataGate', 'previous_statistics')
  _assert_inputs_live(run)
  _assert_consistent(workspace)


def test_a_new_span_after_gc_with_retention_at_the_end_of_the_run(workspace):
  [labelled] = workspace.versions()
  _ok(run_cli('promote', labelled, '--label', 'stable', '--output-dir', str(workspace.output)))
  workspace.add_span(3)
  result = workspace.run(*_WARM_START, '--retain-runs', '1', '--retain-versions', '1')
  assert 'Removed' in result.stdout
  run = workspace.newest_run()
  assert run['Trainer'][0] == 'ran'
  _assert_inputs_live(run)
  _assert_consistent(workspace)
  # The labelled version stays beside the newest (this run's, when it pushed one).
  versions = workspace.versions()
  assert versions[0] == labelled and len(versions) == (2 if 'Blessed: yes' in result.stdout
                                                        else 1)
  assert not [p for p in (workspace.output / 'serving').iterdir() if p.name.startswith('.')]


def test_gc_without_runs_or_with_nothing_to_keep_is_an_error_in_one_line(tmp_path):
  result = run_cli('gc', '--output-dir', str(tmp_path))
  assert result.returncode == 2
  assert result.stderr.startswith(f'fashion-pipeline: error: {tmp_path / "metadata.sqlite"}: '
                                  'no such file')
  result = run_cli('gc', '--output-dir', str(tmp_path), '--keep-runs', '0')
  assert (result.returncode, result.stderr) == (
      2, 'fashion-pipeline: error: the runs to keep must be at least 1, not 0\n')
