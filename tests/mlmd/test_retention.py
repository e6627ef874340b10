"""What retention keeps and removes, and which artifacts it finds without their files, on a real
ML Metadata store filled here as TFX records three runs: two models blessed and pushed, then a
refused one warm-started from the second."""

import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from helpers import REPO_ROOT
from metadata_builder import MetadataBuilder
from mlmd import names
from mlmd import retention
from mlmd import store as mlmd_store
from pipeline import configs

Artifact = metadata_store_pb2.Artifact


class ThreeRuns:
  """run-1 and run-2 each ingest a span, train, bless and push (versions 100 and 200, run-2
  warm-started from run-1's model); run-3 ingests span 3 and trains a model that is refused."""

  def __init__(self, tmp_path: Path):
    self.config = configs.build(output_dir=tmp_path, environ={})
    self.builder = MetadataBuilder(self.config.metadata_path)
    self.root = tmp_path / 'pipeline_root'
    self.runs = {}
    previous_model, previous_statistics = None, None
    for run, version in (('run-1', '100'), ('run-2', '200'), ('run-3', None)):
      span = int(run[-1])
      made = self.runs[run] = {}
      made['examples'] = self._artifact(standard_artifacts.Examples, span=span)
      self._execution('FileBasedExampleGen', run, outputs={'examples': [made['examples']]})
      made['statistics'] = self._artifact(standard_artifacts.ExampleStatistics)
      self._execution('StatisticsGen', run, inputs={'examples': [made['examples']]},
                      outputs={'statistics': [made['statistics']]})
      made['verdict'] = self._artifact(standard_artifacts.ExampleAnomalies)
      self._execution('DataGate', run, inputs={
          'statistics': [made['statistics']],
          'previous_statistics': [previous_statistics] if previous_statistics else []},
                      outputs={'result': [made['verdict']]})
      made['graph'] = self._artifact(standard_artifacts.TransformGraph)
      self._execution('Transform', run, inputs={'examples': [made['examples']]},
                      outputs={'transform_graph': [made['graph']]})
      made['model'] = self._artifact(standard_artifacts.Model)
      self._execution('Trainer', run, inputs={
          'examples': [made['examples']], 'transform_graph': [made['graph']],
          'base_model': [previous_model] if previous_model else []},
                      outputs={'model': [made['model']]})
      made['blessing'] = self._artifact(standard_artifacts.ModelBlessing,
                                        blessed=int(version is not None),
                                        current_model_id=made['model'].id)
      made['evaluation'] = self._artifact(standard_artifacts.ModelEvaluation)
      self._execution('Evaluator', run, inputs={'model': [made['model']]}, outputs={
          'blessing': [made['blessing']], 'evaluation': [made['evaluation']]})
      made['push'] = self._artifact(standard_artifacts.PushedModel, pushed=int(bool(version)),
                                    pushed_version=version or '')
      self._execution('Pusher', run, inputs={'model': [made['model']],
                                             'model_blessing': [made['blessing']]},
                      outputs={'pushed_model': [made['push']]})
      made['report'] = self._artifact(standard_artifacts.Examples)  # any type: a run's own
      self._execution('RunReport', run, inputs={'statistics': [made['statistics']]},
                      outputs={'report': [made['report']]})
      previous_statistics = made['statistics']
      if version:
        previous_model = made['model']

  def _artifact(self, artifact_class, **properties):
    artifact = self.builder.artifact(artifact_class, **properties)
    folder = self.root / artifact_class.TYPE_NAME / str(artifact.id)
    folder.mkdir(parents=True)
    (folder / 'data').write_bytes(b'x' * 10)
    artifact.mlmd_artifact.uri = str(folder)
    self.builder.store.put_artifacts([artifact.mlmd_artifact])
    return artifact

  def _execution(self, type_name, run, inputs=None, outputs=None):
    self.builder.execution(f'tfx.components.{type_name}', inputs=inputs, outputs=outputs,
                           component_id=type_name, run_id=run)

  def plan(self, keep_runs=1, keep_versions=1, labelled=(), num_spans=1):
    config = configs.build(output_dir=self.config.output_dir, environ={}, num_spans=num_spans)
    return retention.plan(self.builder.store, config, keep_runs, keep_versions, ['100', '200'],
                          labelled)

  def removed(self, plan):
    """(run, what) of each artifact the plan removes."""
    ids = {a.id for a in plan.artifacts}
    return {(run, what) for run, made in self.runs.items() for what, a in made.items()
            if a.id in ids}


@pytest.fixture
def three_runs(tmp_path):
  return ThreeRuns(tmp_path)


def test_keeps_the_last_runs_the_kept_versions_lineage_and_what_the_next_run_resolves(
    three_runs):
  plan = three_runs.plan(keep_runs=1, keep_versions=1)
  assert plan.runs_kept == ['run-3']
  assert plan.versions == ['100'] and plan.versions_kept == ['200']
  # Everything of run-3 and version 200's lineage stay (run-2's statistics too: a rerun's drift
  # check compares with them); of run-1 only what the next run resolves: its model (the second
  # newest blessed: a rerun's baseline, run-2's warm-start base) with its blessing.
  assert three_runs.removed(plan) == {
      ('run-1', 'examples'), ('run-1', 'statistics'), ('run-1', 'verdict'), ('run-1', 'graph'),
      ('run-1', 'evaluation'), ('run-1', 'push'), ('run-1', 'report'),
      ('run-2', 'report'),
  }


def test_never_removes_a_labelled_version_or_the_newest(three_runs):
  plan = three_runs.plan(keep_runs=1, keep_versions=1, labelled=['100'])
  assert plan.versions == [] and plan.versions_kept == ['100', '200']
  # Version 100's lineage stays: its push, examples, statistics, verdict, graph, evaluation.
  assert three_runs.removed(plan) == {('run-1', 'report'), ('run-2', 'report')}
  assert three_runs.plan(keep_runs=3, keep_versions=1).versions == ['100']


def test_keeps_the_examples_of_the_training_window(three_runs):
  removed = three_runs.removed(three_runs.plan(keep_runs=1, keep_versions=1, num_spans=3))
  assert ('run-1', 'examples') not in removed and ('run-1', 'graph') in removed


def test_keeping_every_run_and_version_removes_nothing(three_runs):
  plan = three_runs.plan(keep_runs=None, keep_versions=None)
  assert plan.artifacts == [] and plan.versions == []


def test_removed_artifacts_are_not_planned_again(three_runs):
  store = three_runs.builder.store
  plan = three_runs.plan()
  retention.set_state(store, plan.artifacts, Artifact.DELETED, names.REMOVED_BY_RETENTION)
  assert three_runs.plan().artifacts == []
  states = {a.id: a for a in store.get_artifacts_by_id([a.id for a in plan.artifacts])}
  assert {a.state for a in states.values()} == {Artifact.DELETED}
  assert {a.custom_properties[names.REMOVED].string_value
          for a in states.values()} == {names.REMOVED_BY_RETENTION}


def test_artifacts_whose_files_are_gone_are_marked_deleted_before_a_run(three_runs, tmp_path):
  model = three_runs.runs['run-2']['model']
  statistics = three_runs.runs['run-3']['statistics']
  for folder in (Path(model.uri), Path(statistics.uri)):
    for path in folder.iterdir():
      path.unlink()
  Path(model.uri).rmdir()  # gone; the statistics' folder is left empty
  cache = three_runs.builder.artifact(standard_artifacts.TransformCache,
                                      uri=str(tmp_path / 'empty-cache'))
  (tmp_path / 'empty-cache').mkdir()  # no analyzer: an empty analyzer cache is complete
  lost = retention.mark_lost_artifacts(three_runs.config)
  assert sorted(a.id for a in lost) == sorted([model.id, statistics.id])
  store = mlmd_store.connect(three_runs.config.metadata_path)
  for artifact in store.get_artifacts_by_id([model.id, statistics.id, cache.id]):
    expected = Artifact.LIVE if artifact.id == cache.id else Artifact.DELETED
    assert artifact.state == expected
    if expected == Artifact.DELETED:
      assert artifact.custom_properties[names.REMOVED].string_value == names.REMOVED_FILES_MISSING
  assert retention.mark_lost_artifacts(three_runs.config) == []


def test_a_gs_uri_is_not_checked():
  artifact = Artifact(uri='gs://bucket/root/Model/1', type=names.MODEL)
  assert not retention.files_missing(artifact)


def test_tfx_cache_never_returns_an_execution_whose_outputs_are_not_live(tmp_path):
  """What retention and the lost check rely on, checked at the installed TFX (both stacks): its
  cache lookup (orchestration/portable/cache_utils) skips an execution with an output that is
  not LIVE, even when the files are still there (a gc killed part-way)."""
  # pylint: disable=g-import-not-at-top  (TFX's orchestrator: only this test needs it)
  from tfx.orchestration import metadata
  from tfx.orchestration.portable import cache_utils
  from tfx.orchestration.portable.mlmd import context_lib
  builder = MetadataBuilder(tmp_path / 'metadata.sqlite')
  model = builder.artifact(standard_artifacts.Model, uri=str(tmp_path / 'model'))
  (tmp_path / 'model').mkdir()
  (tmp_path / 'model' / 'saved_model.pb').write_bytes(b'x')
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(tmp_path / 'metadata.sqlite')
  with metadata.Metadata(connection) as handle:
    cache = context_lib.register_context_if_not_exists(
        handle, context_lib.CONTEXT_TYPE_EXECUTION_CACHE, 'the-trainer-cache-key')
    type_id = handle.store.put_execution_type(metadata_store_pb2.ExecutionType(name='Trainer'))
    event = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
    event.path.steps.add().key = names.MODEL_KEY
    event.path.steps.add().index = 0
    handle.store.put_execution(
        metadata_store_pb2.Execution(type_id=type_id,
                                     last_known_state=metadata_store_pb2.Execution.COMPLETE),
        [(model.mlmd_artifact, event)], [cache])
    assert [a.id for a in cache_utils.get_cached_outputs(handle, cache)[names.MODEL_KEY]] == [
        model.id]
    for state in (Artifact.MARKED_FOR_DELETION, Artifact.DELETED):
      [stored] = handle.store.get_artifacts_by_id([model.id])
      retention.set_state(handle.store, [stored], state, names.REMOVED_BY_RETENTION)
      assert cache_utils.get_cached_outputs(handle, cache) is None


def test_retention_and_gc_import_no_tensorflow():
  """So that `gc` and the check before every run cost no TensorFlow start-up."""
  script = ('import sys, pipeline_runner; from pipeline import garbage_collection; '
            "print([m for m in ('tensorflow', 'tfx') if m in sys.modules])")
  result = subprocess.run([sys.executable, '-c', script], cwd=REPO_ROOT, capture_output=True,
                          text=True, check=False)
  assert (result.returncode, result.stdout.strip()) == (0, '[]'), result.stderr[-2000:]
