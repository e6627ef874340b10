"""The scheduled retraining loop through the command line, on a small generated training set cut
into spans: run on span 1; nothing new; add span 2 and retrain on both (warm start, baseline,
analyzer cache); a rerun (--rerun) that is fully cached; a degraded span that is refused; and a
first run on a data root that already holds several spans.
"""

import json
import shutil

import numpy as np
import pytest
from ml_metadata.proto import metadata_store_pb2

from fashion_mnist import dataset
from fashion_mnist import idx
from helpers import run_cli, write_dataset
from pipeline import configs
from mlmd import run_summary
from mlmd import store as mlmd_store

pytestmark = pytest.mark.e2e

_INPUT = metadata_store_pb2.Event.INPUT
_OUTPUT = metadata_store_pb2.Event.OUTPUT
RESOLVERS = {'previous_statistics_resolver', 'training_window_resolver', 'analyzer_cache_resolver',
             'warm_start_model_resolver', 'baseline_model_resolver'}


class Workspace:
  """A generated release cut into three parts, a data root of spans and an output dir."""

  def __init__(self, root):
    self.release = write_dataset(root / 'release', num_train=900, num_test=200)
    self.incoming = root / 'incoming'
    self.data = root / 'spans'
    self.output = root / 'out'
    result = run_cli('split', '--data-dir', str(self.release), '--parts', '3',
                     '--out', str(self.incoming))
    assert result.returncode == 0, result.stderr

  def add_span(self, part, *extra):
    files = sorted(str(p) for p in (self.incoming / f'part-{part}').iterdir())
    result = run_cli('add-span', '--data-dir', str(self.data), *files, *extra)
    assert result.returncode == 0, result.stderr
    return result

  def run(self, *extra, output=None):
    return run_cli('run', '--data-dir', str(self.data), '--output-dir', str(output or self.output),
                   '--epochs', '2', '--accuracy-threshold', '0.5', '--spans', '2', *extra)

  def store(self, output=None):
    return mlmd_store.open_store(configs.build(output_dir=output or self.output, environ={}))

  def versions(self):
    return sorted(p.name for p in (self.output / 'serving').iterdir())


def _newest_run(store, output_dir):
  return mlmd_store.find_run(store, configs.build(output_dir=output_dir, environ={}))


def _artifacts(workspace, component_id, event_type, output=None):
  """The newest run's component's input or output artifacts by key."""
  output = output or workspace.output
  store = workspace.store(output)
  executions = dict(mlmd_store.component_executions(store, _newest_run(store, output)))
  return mlmd_store.artifacts_of(store, executions[component_id].id, event_type)


def _spans(artifacts):
  return [a.custom_properties['span'].int_value for a in artifacts]


def _run_count(workspace):
  return len(workspace.store().get_contexts_by_type('pipeline_run'))


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
  return Workspace(tmp_path_factory.mktemp('retraining'))


@pytest.fixture(scope='module')
def first_run(workspace):
  workspace.add_span(1, '--test-set', str(workspace.release))
  result = workspace.run()
  assert result.returncode == 0, result.stderr[-5000:]
  return result


def test_the_first_run_trains_on_span_1_and_pushes(workspace, first_run):
  assert _spans(_artifacts(workspace, 'Transform', _INPUT)['examples']) == [1]
  assert _spans(_artifacts(workspace, 'FileBasedExampleGen', _OUTPUT)['examples']) == [1]
  assert len(workspace.versions()) == 1 and 'Blessed: yes' in first_run.stdout


def test_if_new_data_with_nothing_new_exits_at_once(workspace, first_run):
  runs = _run_count(workspace)
  result = workspace.run('--if-new-data')
  assert result.returncode == 0, result.stderr
  assert result.stdout.startswith(f'No new data: the newest span in {workspace.data} is 1')
  assert _run_count(workspace) == runs


@pytest.fixture(scope='module')
def second_run(workspace, first_run):
  workspace.add_span(2)  # training files only: the test set comes from span 1
  result = workspace.run('--warm-start', '--if-new-data')
  assert result.returncode == 0, result.stderr[-5000:]
  return result


def test_a_new_span_retrains_on_the_window_from_the_blessed_model(workspace, second_run):
  store = workspace.store()
  first, second = sorted(store.get_contexts_by_type('pipeline_run'),
                         key=lambda context: context.create_time_since_epoch)
  first_outputs = {
      component: mlmd_store.artifacts_of(store, execution.id, _OUTPUT)
      for component, execution in mlmd_store.component_executions(store, first)}
  transform_inputs = _artifacts(workspace, 'Transform', _INPUT)
  assert _spans(transform_inputs['examples']) == [1, 2]
  # The analyzer cache of span 1's window is reused; the model of run 1 is both the warm start
  # and the baseline.
  assert [a.id for a in transform_inputs['analyzer_cache']] == [
      a.id for a in first_outputs['Transform']['updated_analyzer_cache']]
  first_model = [a.id for a in first_outputs['Trainer']['model']]
  assert [a.id for a in _artifacts(workspace, 'Trainer', _INPUT)['base_model']] == first_model
  assert [a.id for a in _artifacts(workspace, 'Evaluator', _INPUT)['baseline_model']] == (
      first_model)
  assert 'Epoch 1/3' in second_run.stdout  # --warm-start-epochs' default, not --epochs 2
  assert second.name in second_run.stdout and 'Blessed: yes' in second_run.stdout
  assert len(workspace.versions()) == 2


def test_a_rerun_with_nothing_new_is_fully_cached(workspace, second_run):
  versions = workspace.versions()
  # --rerun: the pipeline runs (else the unchanged run would be answered from ML Metadata), and
  # TFX's cache answers every component, the warm start's resolved base model included.
  result = workspace.run('--warm-start', '--rerun')
  assert result.returncode == 0, result.stderr[-5000:]
  store = workspace.store()
  states = {component: execution.last_known_state for component, execution in
            mlmd_store.component_executions(store, _newest_run(store, workspace.output))}
  assert all(state == metadata_store_pb2.Execution.CACHED
             for component, state in states.items() if component not in RESOLVERS), states
  assert workspace.versions() == versions


def test_a_degraded_candidate_is_recorded_not_blessed_and_not_pushed(workspace, second_run,
                                                                    tmp_path):
  part = tmp_path / 'part-3-shuffled'
  shutil.copytree(workspace.incoming / 'part-3', part)
  labels = idx.read_labels(part / dataset.TRAIN.labels_file).copy()
  np.random.default_rng(0).shuffle(labels)
  idx.write_labels(part / dataset.TRAIN.labels_file, labels)
  result = run_cli('add-span', '--data-dir', str(workspace.data),
                   *sorted(str(p) for p in part.iterdir()))
  assert result.returncode == 0, result.stderr
  versions = workspace.versions()
  result = workspace.run('--spans', '1')
  assert result.returncode == 0, result.stderr[-5000:]
  assert _spans(_artifacts(workspace, 'Transform', _INPUT)['examples']) == [3]
  summary = run_summary.summarize(configs.build(output_dir=workspace.output, environ={}))
  assert summary.blessed is False and summary.accuracy < summary.baseline_accuracy
  assert 'Blessed: no: ' in result.stdout and 'from the baseline' in result.stdout
  assert 'Pushed: nothing' in result.stdout
  assert workspace.versions() == versions


def test_a_first_run_on_several_spans_reads_the_older_ones_too(workspace, second_run, tmp_path):
  data = tmp_path / 'spans'
  for span in ('span-1', 'span-2'):
    shutil.copytree(workspace.data / span, data / span)
  output = tmp_path / 'out'
  result = run_cli('run', '--data-dir', str(data), '--output-dir', str(output), '--epochs', '1',
                   '--accuracy-threshold', '0.5', '--spans', '2')
  assert result.returncode == 0, result.stderr[-5000:]
  assert _spans(_artifacts(workspace, 'span_1_example_gen', _OUTPUT, output)['examples']) == [1]
  assert sorted(_spans(_artifacts(workspace, 'Transform', _INPUT, output)['examples'])) == [1, 2]


def test_runs_and_lineage_show_the_spans_and_versions(workspace, second_run):
  result = run_cli('runs', '--output-dir', str(workspace.output), '--json')
  assert result.returncode == 0, result.stderr
  runs = json.loads(result.stdout)
  pushed = [run['pushed_version'] for run in runs]
  assert [run['spans'] for run in runs][:2] == [[1], [1, 2]]
  assert pushed[:2] == workspace.versions()[:2]
  result = run_cli('lineage', '--output-dir', str(workspace.output), pushed[1], '--json')
  assert result.returncode == 0, result.stderr
  lineage = json.loads(result.stdout)
  assert [examples['span'] for examples in lineage['examples']] == [1, 2]
  assert lineage['baseline_versions'] == [pushed[0]]
