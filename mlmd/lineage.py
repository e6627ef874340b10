"""Where a pushed model came from (`fashion-pipeline lineage VERSION`), read from ML Metadata.

In: the pipeline's configuration (its metadata file) and a serving version: the PushedModel's
`pushed_version`, the name of the model's folder in the serving dir. Out: a Lineage: the push; the
Trainer's run, time, settings and model; the evaluation and blessing (accuracy, baseline); the
transform graph and the Transform execution that made it; the schema; and the raw Examples that
Transform read (one per span of the training window), each with the run that ingested it,
StatisticsGen's statistics of it, and the anomalies and data gate verdicts on those statistics.
`format` turns it into text.

The walk goes upstream one hop at a time over ML Metadata's events: from an artifact to the
execution that produced it, then to that execution's inputs of one type. An artifact's producer is
the execution that made it: a cached execution of a later run records the same artifact as its
output too, but made nothing."""

import dataclasses
import json
from typing import Dict, List, Optional, Sequence

from ml_metadata.proto import metadata_store_pb2

from fashion_mnist import gate
from mlmd import evaluation
from mlmd import names
from mlmd import run_summary
from mlmd import store as mlmd_store
from mlmd.store import Artifact, Execution
from pipeline.configs import PipelineConfig


@dataclasses.dataclass(frozen=True)
class Step:
  """One execution: which component, in which run, when, how long, and how it ended."""
  component_id: str
  run_id: str
  started: float  # Unix time
  seconds: float
  state: str


@dataclasses.dataclass(frozen=True)
class Verdict:
  """ExampleValidator's anomalies or the data gate's verdict on a set of statistics."""
  uri: str
  made_by: Step
  passed: Optional[bool] = None  # None: ExampleValidator's anomalies, no verdict of their own
  accepted: bool = False
  problems: List[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Statistics:
  uri: str
  made_by: Step
  verdicts: List[Verdict]


@dataclasses.dataclass(frozen=True)
class RawExamples:
  span: Optional[int]
  uri: str
  made_by: Step  # the ExampleGen execution that ingested the span
  statistics: List[Statistics]


@dataclasses.dataclass(frozen=True)
class Lineage:
  version: str
  pushed_path: str
  pusher: Step
  model_uri: str
  trainer: Step
  trainer_config: Dict  # the Trainer's custom_config: epochs, batch size, learning rate, seed...
  base_model_uri: Optional[str]  # the model training started from (warm start)
  evaluation_uri: str
  evaluator: Step
  accuracy: Optional[float]  # None: the evaluation's files were removed
  example_count: Optional[int]
  baseline_accuracy: Optional[float]
  baseline_versions: List[str]  # the serving versions of the baseline model
  blessed: bool
  transform: Step
  transform_graph_uri: str
  schema_uri: str
  examples: List[RawExamples]  # in span order
  labels: List[str] = dataclasses.field(default_factory=list)  # the model config file's labels
  # The URIs above whose files are gone (ML Metadata records them DELETED; the records,
  # and so the history, stay), and whether the evaluation could not be read for that reason.
  removed: List[str] = dataclasses.field(default_factory=list)

  @property
  def spans(self) -> List[int]:
    return [e.span for e in self.examples if e.span is not None]

  def format(self) -> str:
    """The lineage for a person, from the push back to the data; a path whose files were
    removed says so."""
    def made(step: Step) -> str:
      return f'{step.component_id}, run {step.run_id}'

    def where(uri: str) -> str:
      return f'{uri} (removed)' if uri in self.removed else uri

    baseline = 'no baseline'
    if self.baseline_accuracy is not None:
      baseline = f'baseline {self.baseline_accuracy:.4f}'
      if self.baseline_versions:
        baseline += f' (version {", ".join(self.baseline_versions)})'
    lines = [
        f'Model version {self.version}: {where(self.pushed_path)}',
        f'  pushed: {run_summary.format_time(self.pusher.started)} ({made(self.pusher)})',
        f'  trained: {run_summary.format_time(self.trainer.started)}, '
        f'{self.trainer.seconds:.0f}s ({made(self.trainer)})',
        f'    settings: {json.dumps(self.trainer_config, sort_keys=True)}',
        f'    model: {where(self.model_uri)}',
    ]
    if self.labels:
      lines.insert(1, f'  labels: {", ".join(self.labels)}')
    if self.base_model_uri:
      lines.append(f'    warm-started from: {where(self.base_model_uri)}')
    accuracy = ('accuracy unknown (evaluation removed)' if self.accuracy is None else
                f'accuracy {self.accuracy:.4f} on {self.example_count} examples, {baseline}')
    lines += [
        f'  evaluated: {accuracy}, '
        + ('blessed' if self.blessed else 'not blessed') + f' ({made(self.evaluator)})',
        f'    evaluation: {where(self.evaluation_uri)}',
        f'  transformed: {made(self.transform)}',
        f'    transform graph: {where(self.transform_graph_uri)}',
        f'  schema: {where(self.schema_uri)}',
        f'  spans: {run_summary.format_spans(self.spans)}',
    ]
    for examples in self.examples:
      lines += [f'    span {examples.span}: {where(examples.uri)} ({made(examples.made_by)})']
      if not examples.statistics:  # e.g. an older span ingested only to fill the window
        lines.append('      statistics: none')
      for statistics in examples.statistics:
        lines.append(f'      statistics: {where(statistics.uri)} ({made(statistics.made_by)})')
        for verdict in statistics.verdicts:
          lines.append(f'      {_describe(verdict)}: {where(verdict.uri)} '
                       f'({made(verdict.made_by)})')
          lines += [f'        - {problem}' for problem in verdict.problems]
    return '\n'.join(lines)


def _describe(verdict: Verdict) -> str:
  if verdict.passed is None:
    return 'anomalies'
  if not verdict.passed:
    return 'data gate (stopped)'
  return 'data gate (passed, anomalies accepted)' if verdict.accepted else 'data gate (passed)'


class _Events:
  """ML Metadata's events, walked one hop at a time; each execution's events, contexts and
  artifacts are read once. Remembers the URIs of the artifacts it met whose files are gone."""

  def __init__(self, store):
    self._store = store
    self._artifacts_of: Dict[int, Dict[int, Dict[str, List[Artifact]]]] = {}
    self._steps: Dict[int, Step] = {}
    self._producers: Dict[int, Execution] = {}
    self.removed: List[str] = []

  def seen(self, artifacts: List[Artifact]) -> List[Artifact]:
    self.removed += [a.uri for a in artifacts
                     if mlmd_store.is_removed(a) and a.uri not in self.removed]
    return artifacts

  def producer(self, artifact: Artifact) -> Execution:
    """The execution that made artifact (not one that only found it cached)."""
    if artifact.id not in self._producers:
      events = [e for e in self._store.get_events_by_artifact_ids([artifact.id])
                if e.type == metadata_store_pb2.Event.OUTPUT]
      executions = self._store.get_executions_by_id({e.execution_id for e in events})
      self._producers[artifact.id] = min(
          executions, key=lambda e: (e.last_known_state != Execution.COMPLETE, e.id))
    return self._producers[artifact.id]

  def inputs(self, execution: Execution, type_name: str, key: Optional[str] = None):
    """execution's input artifacts of type_name (under key, when given)."""
    return self._of(execution, metadata_store_pb2.Event.INPUT, type_name, key)

  def outputs(self, execution: Execution, type_name: str, key: Optional[str] = None):
    return self._of(execution, metadata_store_pb2.Event.OUTPUT, type_name, key)

  def upstream(self, artifact: Artifact, type_name: str,
               key: Optional[str] = None) -> List[Artifact]:
    """What the producer of artifact read of type_name (under key, when given)."""
    return self.inputs(self.producer(artifact), type_name, key)

  def downstream(self, artifact: Artifact, type_name: str, input_key: Optional[str] = None,
                 output_key: Optional[str] = None) -> List[Artifact]:
    """What the executions that read artifact (under input_key) made of type_name (under
    output_key), each artifact once, oldest first."""
    events = [e for e in self._store.get_events_by_artifact_ids([artifact.id])
              if e.type == metadata_store_pb2.Event.INPUT
              and input_key in (None, e.path.steps[0].key)]
    found = {}
    for execution in self._store.get_executions_by_id({e.execution_id for e in events}):
      found.update((a.id, a) for a in self.outputs(execution, type_name, output_key))
    return [found[i] for i in sorted(found)]

  def step(self, execution: Execution) -> Step:
    if execution.id not in self._steps:
      contexts = mlmd_store.execution_contexts(self._store, execution.id)
      self._steps[execution.id] = Step(
          component_id=mlmd_store.component_id(contexts),
          run_id=contexts.get(names.RUN_CONTEXT, ''),
          started=execution.create_time_since_epoch / 1000,
          seconds=(execution.last_update_time_since_epoch
                   - execution.create_time_since_epoch) / 1000,
          state=mlmd_store.state_name(execution))
    return self._steps[execution.id]

  def made_by(self, artifact: Artifact) -> Step:
    return self.step(self.producer(artifact))

  def _of(self, execution, event_type, type_name, key):
    by_type = self._artifacts_of.setdefault(execution.id, {})
    if event_type not in by_type:
      by_type[event_type] = mlmd_store.artifacts_of(self._store, execution.id, event_type)
    return self.seen([a for k, artifacts in by_type[event_type].items() if key in (None, k)
                      for a in artifacts if a.type == type_name])


def _one(artifacts: List[Artifact], what: str) -> Artifact:
  if len(artifacts) != 1:
    raise LookupError(f'expected one {what} in ML Metadata, found {len(artifacts)}')
  return artifacts[0]


def _find_push(store, config: PipelineConfig, version: str) -> Artifact:
  found = pushes(store)
  if version not in found:
    raise LookupError(f'{config.metadata_path}: no model version {version} was pushed '
                      f'(versions pushed: {", ".join(found) or "none"})')
  return found[version]


def pushes(store) -> Dict[str, Artifact]:
  """The PushedModel that made each serving version recorded in the store (a cached Pusher
  records it again), by version, oldest first."""
  found: Dict[str, Artifact] = {}
  for a in sorted(store.get_artifacts_by_type(names.PUSHED_MODEL), key=lambda a: a.id):
    if a.custom_properties[names.PUSHED].int_value:
      found.setdefault(a.custom_properties[names.PUSHED_VERSION].string_value, a)
  return found


def _verdict(events: _Events, anomalies: Artifact) -> Verdict:
  properties = anomalies.custom_properties
  if gate.PASSED not in properties:
    return Verdict(uri=anomalies.uri, made_by=events.made_by(anomalies))
  return Verdict(uri=anomalies.uri, made_by=events.made_by(anomalies),
                 passed=bool(properties[gate.PASSED].int_value),
                 accepted=bool(properties[gate.ACCEPTED].int_value),
                 problems=json.loads(properties[gate.PROBLEMS].string_value))


def _raw_examples(events: _Events, examples: Artifact) -> RawExamples:
  """A span's Examples, with StatisticsGen's statistics of them and the verdicts on those."""
  statistics = [
      Statistics(
          uri=s.uri, made_by=events.made_by(s),
          # Read as `statistics`: the data gate also reads the previous run's, as another key.
          verdicts=[_verdict(events, a) for a in events.downstream(
              s, names.EXAMPLE_ANOMALIES,
              input_key=names.STATISTICS_KEY)])
      for s in events.downstream(examples, names.EXAMPLE_STATISTICS,
                                 output_key=names.STATISTICS_KEY)
  ]
  return RawExamples(span=mlmd_store.span_of(examples), uri=examples.uri,
                     made_by=events.made_by(examples), statistics=statistics)


def trace(config: PipelineConfig, version: str, labels: Sequence[str] = ()) -> Lineage:
  """The lineage of serving version `version` of config's pipeline, with the model config file's
  labels naming it; LookupError if no such version was pushed."""
  store = mlmd_store.open_store(config)
  events = _Events(store)
  pushed = _find_push(store, config, version)
  destination = pushed.custom_properties[names.PUSHED_DESTINATION].string_value
  model = _one(events.upstream(pushed, names.MODEL), 'pushed model')
  blessing = _one(events.upstream(pushed, names.MODEL_BLESSING), 'blessing')
  evaluator = events.producer(blessing)
  evaluation_artifact = _one(events.outputs(evaluator, names.MODEL_EVALUATION), 'evaluation')
  result = (None if mlmd_store.is_removed(evaluation_artifact)
            else evaluation.summarize(evaluation_artifact.uri))
  baseline_versions = [
      a.custom_properties[names.PUSHED_VERSION].string_value
      for baseline in events.inputs(evaluator, names.MODEL, names.BASELINE_MODEL_KEY)
      for a in events.downstream(baseline, names.PUSHED_MODEL,
                                 input_key=names.MODEL_KEY)
      if a.custom_properties[names.PUSHED].int_value
  ]
  trainer = events.producer(model)
  transform_graph = _one(events.upstream(model, names.TRANSFORM_GRAPH),
                         'transform graph')
  base_models = events.upstream(model, names.MODEL, names.BASE_MODEL_KEY)
  raw_examples = [_raw_examples(events, e)
                  for e in events.upstream(transform_graph, names.EXAMPLES)]
  return Lineage(
      version=version,
      pushed_path=destination,
      pusher=events.made_by(pushed),
      model_uri=model.uri,
      trainer=events.step(trainer),
      trainer_config=json.loads(trainer.custom_properties[
          names.CUSTOM_CONFIG].string_value or '{}'),
      base_model_uri=base_models[0].uri if base_models else None,
      evaluation_uri=evaluation_artifact.uri,
      evaluator=events.step(evaluator),
      accuracy=result and result.accuracy,
      example_count=result and result.example_count,
      baseline_accuracy=result and result.baseline_accuracy,
      baseline_versions=baseline_versions,
      blessed=bool(blessing.custom_properties[names.BLESSED].int_value),
      transform=events.made_by(transform_graph),
      transform_graph_uri=transform_graph.uri,
      schema_uri=_one(events.upstream(transform_graph, names.SCHEMA),
                      'schema').uri,
      examples=sorted(raw_examples, key=lambda e: (e.span is None, e.span, e.uri)),
      labels=list(labels),
      # The pushed model's own folder is the serving version's.
      removed=[destination] * mlmd_store.is_removed(pushed) + events.removed)
