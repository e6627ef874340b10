"""A real ML Metadata store (SQLite) that a test fills with the artifacts and executions it needs,
linked by events as TFX's orchestrator links them: for the resolvers, scheduling and the read side.
And generate_history: a store of hundreds of runs as the pipeline records them, for `runs`,
`lineage` and the report's history section at scale (bench/history_bench.py).
"""

import itertools
import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types

from mlmd import names

Execution = metadata_store_pb2.Execution
_CACHE_CONTEXT = 'execution_cache'  # TFX's context of the executions that share a cache key


class MetadataBuilder:
  """Puts artifacts and the executions that read and wrote them into a new SQLite store."""

  def __init__(self, path: Path, pipeline_name: str = 'fashion-pipeline'):
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)  # read-write, created
    self.store = metadata_store.MetadataStore(connection)
    self._pipeline = self._context(names.PIPELINE_CONTEXT, pipeline_name)
    self._pipeline_name = pipeline_name
    self._artifacts = []  # every TFX artifact made, in order
    self._type_ids: Dict[tuple, int] = {}
    self._contexts: Dict[tuple, metadata_store_pb2.Context] = {}

  def _context(self, type_name: str, name: str) -> metadata_store_pb2.Context:
    type_id = self.store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
    [context_id] = self.store.put_contexts([metadata_store_pb2.Context(type_id=type_id,
                                                                       name=name)])
    return self.store.get_contexts_by_id([context_id])[0]

  def artifact(self, artifact_class, span: Optional[int] = None, uri: Optional[str] = None,
               **properties):
    """A TFX artifact of artifact_class, stored (LIVE), with a span and custom properties (int
    or string by their values' type)."""
    artifact = artifact_class()
    if (artifact_class, None) not in self._type_ids:
      self._type_ids[artifact_class, None] = self.store.put_artifact_type(artifact.artifact_type)
    artifact.type_id = self._type_ids[artifact_class, None]
    artifact.uri = uri or f'/root/{artifact_class.TYPE_NAME}/{len(self._artifacts) + 1}'
    artifact.state = types.artifact.ArtifactState.PUBLISHED
    if span is not None:
      artifact.set_int_custom_property(names.SPAN, span)
    for name, value in properties.items():
      if isinstance(value, str):
        artifact.set_string_custom_property(name, value)
      else:
        artifact.set_int_custom_property(name, value)
    artifact.mlmd_artifact.state = metadata_store_pb2.Artifact.LIVE
    [artifact.id] = self.store.put_artifacts([artifact.mlmd_artifact])
    self._artifacts.append(artifact)
    return artifact

  def all(self, artifact_class) -> List:
    """Every artifact of artifact_class made so far, oldest first: what a resolver's channel of
    that type holds."""
    return [a for a in self._artifacts if a.type_name == artifact_class.TYPE_NAME]

  def execution(self, type_name: str, inputs: Optional[Dict[str, List]] = None,
                outputs: Optional[Dict[str, List]] = None, state=Execution.COMPLETE,
                component_id: Optional[str] = None, run_id: str = 'run-1',
                cache_key: Optional[str] = None, **string_properties) -> Execution:
    """An execution of type type_name (by default also its component id) in run_id that read
    inputs and wrote outputs (by key), with string custom properties; cache_key names its
    execution_cache context, as TFX gives one to each component execution (a cached one
    shares the original's)."""
    if (type_name,) not in self._type_ids:
      self._type_ids[type_name,] = self.store.put_execution_type(
          metadata_store_pb2.ExecutionType(name=type_name))
    type_id = self._type_ids[type_name,]
    artifacts_and_events = []
    for event_type, by_key in ((metadata_store_pb2.Event.INPUT, inputs or {}),
                               (metadata_store_pb2.Event.OUTPUT, outputs or {})):
      for key, artifacts in by_key.items():
        for index, artifact in enumerate(artifacts):
          event = metadata_store_pb2.Event(type=event_type)
          event.path.steps.add().key = key
          event.path.steps.add().index = index
          artifacts_and_events.append((artifact.mlmd_artifact, event))
    contexts = [self._pipeline, self._run(run_id), self._node(component_id or type_name)]
    if cache_key:
      contexts.append(self._get_or_put(_CACHE_CONTEXT, cache_key))
    execution = Execution(type_id=type_id, last_known_state=state)
    for name, value in string_properties.items():
      execution.custom_properties[name].string_value = value
    execution_id, _, _ = self.store.put_execution(execution, artifacts_and_events, contexts)
    return self.store.get_executions_by_id([execution_id])[0]

  def _run(self, run_id: str) -> metadata_store_pb2.Context:
    return self._get_or_put(names.RUN_CONTEXT, run_id)

  def _node(self, component_id: str) -> metadata_store_pb2.Context:
    return self._get_or_put(names.NODE_CONTEXT, f'{self._pipeline_name}.{component_id}')

  def _get_or_put(self, type_name: str, name: str) -> metadata_store_pb2.Context:
    if (type_name, name) in self._contexts:
      return self._contexts[type_name, name]
    context = self.store.get_context_by_type_and_name(type_name, name)
    if context is not None:
      self._contexts[type_name, name] = context
      return context
    context = self._contexts[type_name, name] = self._context(type_name, name)
    if type_name == names.RUN_CONTEXT:  # a run belongs to the pipeline, as TFX records it
      self.store.put_parent_contexts([metadata_store_pb2.ParentContext(
          child_id=context.id, parent_id=self._pipeline.id)])
    return context


def write_evaluation(uri: str, accuracy: float, example_count: int,
                     baseline_accuracy: Optional[float] = None, failures=()) -> None:
  """TFMA's output files, as the Evaluator writes them: the overall slice's metrics (the
  candidate's, and the baseline's under the model name 'baseline') and the validation result
  with its failures (metric names whose threshold failed), one TFRecord each."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (only tests that need it)
  from tensorflow_model_analysis.proto import metrics_for_slice_pb2  # pylint: disable=g-import-not-at-top
  from tensorflow_model_analysis.proto import validation_result_pb2  # pylint: disable=g-import-not-at-top
  from fashion_mnist import metrics  # pylint: disable=g-import-not-at-top
  tf.io.gfile.makedirs(uri)
  overall = metrics_for_slice_pb2.MetricsForSlice()
  models = [('', accuracy)] + ([('baseline', baseline_accuracy)]
                               if baseline_accuracy is not None else [])
  for model_name, value in models:
    for name, metric in ((metrics.ACCURACY, value), (metrics.LOSS, 0.3),
                         (metrics.EXAMPLE_COUNT, example_count)):
      key_value = overall.metric_keys_and_values.add()
      key_value.key.name = name
      key_value.key.model_name = model_name
      key_value.value.double_value.value = metric
  with tf.io.TFRecordWriter(f'{uri}/metrics-00000-of-00001.tfrecord') as writer:
    writer.write(overall.SerializeToString())
  validation = validation_result_pb2.ValidationResult(validation_ok=not failures)
  if failures:
    per_slice = validation.metric_validations_per_slice.add()
    for name in failures:
      failure = per_slice.failures.add()
      failure.metric_key.name = name
      failure.metric_value.double_value.value = accuracy
      failure.metric_threshold.value_threshold.lower_bound.value = 0.85
  with tf.io.TFRecordWriter(f'{uri}/validations.tfrecord') as writer:
    writer.write(validation.SerializeToString())


# The pipeline's nodes as a real run records them (pipeline/pipeline.py; a store of a small run
# compared): component id, execution type.
_RESOLVER = names.RESOLVER_EXECUTION_TYPE
_NODES = dict((
    ('FileBasedExampleGen', 'tfx.components.example_gen.component.FileBasedExampleGen'),
    ('ImportSchemaGen', 'tfx.components.schema_gen.import_schema_gen.component.ImportSchemaGen'),
    ('StatisticsGen', 'tfx.components.statistics_gen.component.StatisticsGen'),
    ('ExampleValidator', 'tfx.components.example_validator.component.ExampleValidator'),
    ('previous_statistics_resolver', _RESOLVER),
    ('DataGate', 'components.data_gate.DataGate'),
    ('training_window_resolver', _RESOLVER),
    ('analyzer_cache_resolver', _RESOLVER),
    ('Transform', 'tfx.components.transform.component.Transform'),
    ('Trainer', 'tfx.components.trainer.component.Trainer'),
    ('baseline_model_resolver', _RESOLVER),
    ('Evaluator', 'tfx.components.evaluator.component.Evaluator'),
    ('Pusher', 'tfx.components.pusher.component.Pusher'),
    ('RunReport', 'report.component.RunReport'),
))
# One cycle of the generated history: new data trained and evaluated (blessed and pushed, or
# not), a rerun with nothing changed, a retraining on the same data, a run the data gate stops,
# a run killed in the Trainer, and one killed between Transform and the Trainer.
_CYCLE = ('new', 'cached', 'retrain', 'new', 'killed_in_trainer', 'new',
          'killed_after_transform', 'stopped', 'new', 'cached')


def generate_history(root: Path, runs: int = 500, keep: int = 100, seed: int = 0):
  """A store in root/metadata.sqlite of `runs` runs cycling through _CYCLE, recorded as the
  pipeline records them (the same nodes, execution types, contexts, event keys and
  properties; cached executions sharing the original's artifacts and cache context), with
  TFMA's files for the evaluations. Retention has removed the outputs of all but the last
  `keep` runs: their records are DELETED, their evaluation files never written.
  Returns the run ids, oldest first."""
  from tfx.types import standard_artifacts  # pylint: disable=g-import-not-at-top
  from fashion_mnist import gate  # pylint: disable=g-import-not-at-top
  from report import component as report_component  # pylint: disable=g-import-not-at-top
  rng = random.Random(seed)
  # Built in memory's file system and copied: ML Metadata commits (and SQLite syncs to disk) each
  # put, 105 s for 200 runs on this machine's disk against 22 s in /dev/shm.
  scratch = Path(tempfile.mkdtemp(dir='/dev/shm' if os.path.isdir('/dev/shm') else None))
  builder = MetadataBuilder(scratch / 'metadata.sqlite')
  keys = itertools.count(1)
  made: Dict[str, tuple] = {}  # component id -> (its last execution's outputs, cache key)
  run_ids, live_evaluations, made_in_run = [], [], []

  def artifact(cls, key, run_index, **properties):
    found = builder.artifact(cls, uri=str(root / 'pipeline_root' / key / str(len(
        builder._artifacts) + 1)), tfx_version='1.16.0', is_external=0, **properties)  # pylint: disable=protected-access
    made_in_run.append((run_index, found))
    return found

  def execute(component, run_id, inputs, outputs, cached=False, state=None, **properties):
    if cached:
      outputs, key = made[component]
    else:
      key = None if _NODES[component] == _RESOLVER else f'cache-{next(keys)}'
      made[component] = (outputs, key)
    builder.execution(_NODES[component], inputs, {} if state else outputs,
                      state=state or (Execution.CACHED if cached else Execution.COMPLETE),
                      component_id=component, run_id=run_id, cache_key=key, **properties)
    return outputs

  span, blessed_accuracy, blessed_model, version = 0, None, None, 1796000000
  data = None
  for index in range(runs):
    kind = _CYCLE[index % len(_CYCLE)]
    # TFX's run ids are the start times; one a minute, made unique by the microseconds.
    run_id = (f'2026-12-{1 + index // 1440:02d}T{index // 60 % 24:02d}:{index % 60:02d}:00.'
              f'{index:06d}')
    run_ids.append(run_id)
    new_data = kind in ('new', 'stopped', 'killed_in_trainer') or data is None
    passed = kind != 'stopped'
    if new_data:
      span += 1
      examples = artifact(standard_artifacts.Examples, 'FileBasedExampleGen/examples', index,
                          span=span, payload_format='FORMAT_TF_EXAMPLE',
                          file_format='tfrecords_gzip')
    schema_cached = 'ImportSchemaGen' in made
    out = execute('FileBasedExampleGen', run_id, {}, {'examples': [examples]} if new_data
                  else None, cached=not new_data)
    examples = out['examples'][0]
    (schema,) = execute('ImportSchemaGen', run_id, {}, None if schema_cached else {
        'schema': [artifact(standard_artifacts.Schema, 'ImportSchemaGen/schema', index)]},
                        cached=schema_cached)['schema']
    statistics = execute('StatisticsGen', run_id, {'examples': [examples], 'schema': [schema]}, {
        'statistics': [artifact(standard_artifacts.ExampleStatistics,
                                'StatisticsGen/statistics', index)]} if new_data else None,
                         cached=not new_data)['statistics']
    anomalies = execute('ExampleValidator', run_id, {'statistics': statistics,
                                                     'schema': [schema]}, {
        'anomalies': [artifact(standard_artifacts.ExampleAnomalies,
                               'ExampleValidator/anomalies', index)]} if new_data else None,
                        cached=not new_data)['anomalies']
    execute('previous_statistics_resolver', run_id, {}, {})
    problems = [] if passed else ['train split, feature "label": The Linfty distance is 0.4']
    verdict = execute('DataGate', run_id, {'statistics': statistics, 'anomalies': anomalies,
                                           'schema': [schema]}, {
        'result': [artifact(standard_artifacts.ExampleAnomalies, 'DataGate/result', index, **{
            gate.PASSED: int(passed), gate.ACCEPTED: 0, gate.PROBLEMS: json.dumps(problems),
            gate.DRIFT: '[]'})]} if new_data else None, cached=not new_data)['result']
    report_inputs = {'examples': [examples], 'statistics': statistics, 'schema': [schema],
                     'gate_result': verdict}
    if passed:
      data = examples
      gated = {'_DataGate.result': verdict}
      execute('training_window_resolver', run_id, {}, {})
      execute('analyzer_cache_resolver', run_id, {}, {})
      transformed = kind in ('cached',) or not new_data and kind != 'retrain'
      graph = execute('Transform', run_id, {'examples': [examples], 'schema': [schema], **gated}, {
          'transform_graph': [artifact(standard_artifacts.TransformGraph,
                                       'Transform/transform_graph', index)]}
                      if not transformed else None, cached=transformed)['transform_graph']
      if kind == 'killed_after_transform':
        continue
      settings = json.dumps({'batch_size': 32, 'epochs': 10, 'learning_rate': 0.001,
                             'seed': index if kind == 'retrain' else 0})
      trainer_inputs = {'examples': [examples], 'schema': [schema], 'transform_graph': graph,
                        **gated}
      if kind == 'killed_in_trainer':
        execute('Trainer', run_id, trainer_inputs, {}, state=Execution.CANCELED,
                custom_config=settings)
        continue
      cached = kind == 'cached'
      (model,) = execute('Trainer', run_id, trainer_inputs, None if cached else {
          'model': [artifact(standard_artifacts.Model, 'Trainer/model', index)]},
                         cached=cached, custom_config=settings)['model']
      execute('baseline_model_resolver', run_id, {}, {})
      if not cached:
        accuracy = round(rng.uniform(0.845, 0.895), 4)
        failures = ([names.BLESSED] if accuracy < 0.85 or blessed_accuracy is not None
                    and accuracy < blessed_accuracy - 0.005 else [])
        evaluation = artifact(standard_artifacts.ModelEvaluation, 'Evaluator/evaluation', index)
        live_evaluations.append((evaluation, accuracy, blessed_accuracy, failures))
        blessing = artifact(standard_artifacts.ModelBlessing, 'Evaluator/blessing', index,
                            blessed=int(not failures), current_model_id=model.id)
      baseline = ({'baseline_model': [blessed_model]}
                  if blessed_model and blessed_model.id != model.id else {})
      outputs = execute('Evaluator', run_id, {'examples': [examples], 'model': [model],
                                              **baseline, **gated},
                        None if cached else {'evaluation': [evaluation], 'blessing': [blessing]},
                        cached=cached)
      blessing = outputs['blessing'][0]
      if not cached:
        is_blessed = bool(blessing.get_int_custom_property(names.BLESSED))
        if is_blessed:
          version += 600
          blessed_accuracy, blessed_model = accuracy, model
        push = artifact(standard_artifacts.PushedModel, 'Pusher/pushed_model', index,
                        pushed=int(is_blessed),
                        **({names.PUSHED_DESTINATION: str(root / 'serving' / str(version)),
                            names.PUSHED_VERSION: str(version)} if is_blessed else {}))
      pushed = execute('Pusher', run_id, {'model': [model], 'model_blessing': [blessing],
                                          **gated}, None if cached else {'pushed_model': [push]},
                       cached=cached)['pushed_model']
      report_inputs.update(model=[model], evaluation=outputs['evaluation'],
                           blessing=[blessing], pushed_model=pushed)
    cached = kind == 'cached'
    execute('RunReport', run_id, report_inputs, None if cached else {'report': [artifact(
        report_component.HtmlReport, 'RunReport/report', index)]}, cached=cached)
  removed = [a.mlmd_artifact for run_index, a in made_in_run
             if run_index < runs - keep and a.type_name != standard_artifacts.Schema.TYPE_NAME]
  for a in removed:
    a.state = metadata_store_pb2.Artifact.DELETED
  builder.store.put_artifacts(removed)
  builder.store = None  # closed, so that the file is complete
  shutil.move(str(scratch / 'metadata.sqlite'), str(root / 'metadata.sqlite'))
  scratch.rmdir()
  removed_ids = {a.id for a in removed}
  for evaluation, accuracy, baseline, failures in live_evaluations:
    if evaluation.id not in removed_ids:
      write_evaluation(evaluation.uri, accuracy, 10000, baseline, failures)
  return run_ids
