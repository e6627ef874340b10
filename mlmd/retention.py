"""What retention keeps, what it may remove, and which artifacts' files are gone: ML Metadata
queries only (no TensorFlow), so `gc --dry-run` and the check before every run are quick.

In: the pipeline's ML Metadata store and configuration; for a plan, how many runs and serving
versions to keep, the serving versions on disk and those a label names. Out: `plan`: a Plan (the
LIVE artifacts whose files nothing needs any more, the serving versions to remove, what is kept);
`lost_artifacts`: the LIVE artifacts whose files are missing (deleted by hand, a disk restored
from an older backup); `set_state` marks artifacts MARKED_FOR_DELETION or DELETED, saying why in
their `removed` property: `by retention`, or `files missing` for the lost ones.

Lost artifacts are DELETED, not a state of their own: ML Metadata has no LOST state (its states
are UNKNOWN, PENDING, LIVE, MARKED_FOR_DELETION, DELETED, ABANDONED, REFERENCE on both stacks),
and DELETED says what matters to every reader, that the files are gone; ABANDONED means a
producer that never finished, MARKED_FOR_DELETION files that are still there. The `removed`
property tells the two causes apart.

Kept, so that every later run resolves, cache-hits and reads only what is there:
- everything of the last N runs: every artifact an execution of theirs read or wrote, so a rerun
  with nothing new resolves the same inputs and stays cached;
- the lineage of each serving version kept: the model, its blessing and evaluation, the transform
  graph, the schema, and for each span it was trained on the examples, their statistics and the
  verdicts on them (what `lineage VERSION` shows);
- the two newest blessed models with their blessings: the next run's baseline, and a rerun's (which
  skips the cached candidate, itself the newest); with the warm-start base their Trainers read;
- the two newest statistics of StatisticsGen: what the next run's drift check compares with, and a
  rerun's (which skips its own, cached);
- the newest analyzer cache and the one its Transform read: the next run's and a rerun's;
- the newest examples of each span in the current training window (config.num_spans spans ending
  at the newest span ingested).
Anything else LIVE of the pipeline may go. Removed artifacts stay in ML Metadata, DELETED, with
their events, so `runs` and `lineage` still tell the history.
"""

import collections
import logging
import dataclasses
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence, Set

from ml_metadata.proto import metadata_store_pb2

from mlmd import names
from mlmd import store as mlmd_store
from mlmd.store import Artifact, Execution
from pipeline.configs import PipelineConfig

_INPUT = metadata_store_pb2.Event.INPUT
_OUTPUT = metadata_store_pb2.Event.OUTPUT

# Artifact types whose folder may rightly be empty: Transform's analyzer cache when the
# preprocessing_fn has no analyzer (today's scaling by 1/255), and the PushedModel of a model that
# was not pushed. Their folders must exist (TFX's cache lookup checks that too).
_MAY_BE_EMPTY = frozenset({names.TRANSFORM_CACHE, names.PUSHED_MODEL})


def files_missing(artifact: Artifact) -> bool:
  """Whether a local artifact's files are gone: no file or folder at its URI, or an empty folder
  where the type always writes something. URIs such as gs://... are not checked (that would need
  TensorFlow's filesystems)."""
  if '://' in artifact.uri:
    return False
  path = Path(artifact.uri)
  if path.is_file():
    return False
  if not path.is_dir():
    return True
  return artifact.type not in _MAY_BE_EMPTY and next(path.iterdir(), None) is None


def pipeline_artifacts(store, config: PipelineConfig) -> List[Artifact]:
  """Every artifact of config's pipeline (TFX attributes each to the pipeline's context), by id."""
  pipeline = store.get_context_by_type_and_name(names.PIPELINE_CONTEXT, config.pipeline_name)
  if pipeline is None:
    return []
  return sorted(store.get_artifacts_by_context(pipeline.id), key=lambda a: a.id)


def lost_artifacts(store, config: PipelineConfig) -> List[Artifact]:
  """The LIVE artifacts of config's pipeline whose files are missing."""
  return [a for a in pipeline_artifacts(store, config)
          if a.state == Artifact.LIVE and files_missing(a)]


def set_state(store, artifacts: Sequence[Artifact], state, reason: str) -> None:
  """Marks artifacts with state (Artifact.MARKED_FOR_DELETION or DELETED) and why
  (names.REMOVED_BY_RETENTION or REMOVED_FILES_MISSING), all in one ML Metadata transaction."""
  changed = []
  for artifact in artifacts:
    copy = Artifact()
    copy.CopyFrom(artifact)
    copy.state = state
    copy.custom_properties[names.REMOVED].string_value = reason
    changed.append(copy)
  if changed:
    store.put_artifacts(changed)


class _Graph:
  """The pipeline's events, loaded at once: who made each artifact, what each execution read."""

  def __init__(self, store, artifacts: List[Artifact]):
    self.artifacts = {a.id: a for a in artifacts}
    events = store.get_events_by_artifact_ids(list(self.artifacts)) if artifacts else []
    self.executions = {e.id: e for e in store.get_executions_by_id(
        {e.execution_id for e in events})}
    type_ids = list({e.type_id for e in self.executions.values()})
    type_names = {t.id: t.name for t in store.get_execution_types_by_id(type_ids)}
    self.execution_type = {i: type_names[e.type_id] for i, e in self.executions.items()}
    self.inputs = collections.defaultdict(list)  # execution id -> [(key, artifact id)]
    self.outputs = collections.defaultdict(list)
    self.readers = collections.defaultdict(list)  # artifact id -> [(key, execution id)]
    self._writers = collections.defaultdict(list)
    for event in events:
      key = event.path.steps[0].key if event.path.steps else ''
      if event.type == _INPUT:
        self.inputs[event.execution_id].append((key, event.artifact_id))
        self.readers[event.artifact_id].append((key, event.execution_id))
      elif event.type == _OUTPUT:
        self.outputs[event.execution_id].append((key, event.artifact_id))
        self._writers[event.artifact_id].append(event.execution_id)

  def producer(self, artifact_id: int) -> Optional[int]:
    """The execution that made the artifact (a cached execution of a later run only found it)."""
    writers = [self.executions[i] for i in self._writers[artifact_id] if i in self.executions]
    if not writers:
      return None
    return min(writers, key=lambda e: (e.last_known_state != Execution.COMPLETE, e.id)).id

  def read_by(self, execution_id: Optional[int], *keys: str) -> Set[int]:
    return {a for k, a in self.inputs.get(execution_id, []) if not keys or k in keys}

  def written_by(self, execution_id: Optional[int]) -> Set[int]:
    return {a for _, a in self.outputs.get(execution_id, [])}

  def made_by_component(self, artifact_id: int, suffix: str) -> bool:
    """Whether the artifact's producer is of an execution type ending with suffix."""
    producer = self.producer(artifact_id)
    return producer is not None and self.execution_type[producer].endswith(suffix)

  def downstream(self, artifact_ids: Iterable[int], input_key: str, suffix: str) -> Set[int]:
    """What executions of a type ending with suffix made from the artifacts read as input_key."""
    return {a for artifact_id in artifact_ids
            for key, execution_id in self.readers.get(artifact_id, [])
            if key == input_key and self.execution_type[execution_id].endswith(suffix)
            for a in self.written_by(execution_id)}


@dataclasses.dataclass(frozen=True)
class Plan:
  """What retention removes and keeps."""
  artifacts: List[Artifact]  # LIVE artifacts whose files go, by id
  versions: List[str]  # serving versions whose folders go, oldest first
  runs_kept: List[str]  # run ids, oldest first
  versions_kept: List[str]


def _live(graph: _Graph, type_name: str) -> List[Artifact]:
  return [a for a in graph.artifacts.values() if a.type == type_name and a.state == Artifact.LIVE]


def _version_lineage(graph: _Graph, version: str) -> Set[int]:
  """The artifacts `lineage VERSION` shows: the push, model, blessing, evaluation, transform
  graph, schema, and each span's examples, statistics and the verdicts on them."""
  keep = set()
  for pushed in graph.artifacts.values():
    properties = pushed.custom_properties
    if (pushed.type != names.PUSHED_MODEL or not properties[names.PUSHED].int_value
        or properties[names.PUSHED_VERSION].string_value != version):
      continue
    keep.add(pushed.id)
    pushed_inputs = graph.read_by(graph.producer(pushed.id))
    keep |= pushed_inputs
    for artifact_id in pushed_inputs:
      producer = graph.producer(artifact_id)
      if graph.artifacts[artifact_id].type == names.MODEL_BLESSING:
        keep |= graph.written_by(producer)  # the evaluation and the blessing
      elif graph.artifacts[artifact_id].type == names.MODEL:
        keep |= graph.written_by(producer)  # the model and its TensorBoard logs
        trained_on = graph.read_by(producer, names.EXAMPLES_KEY, names.TRANSFORM_GRAPH_KEY,
                                   names.SCHEMA_KEY)
        keep |= trained_on
        for graph_id in trained_on:
          if graph.artifacts[graph_id].type == names.TRANSFORM_GRAPH:
            transform = graph.producer(graph_id)
            keep |= graph.written_by(transform)
            keep |= graph.read_by(transform, names.EXAMPLES_KEY, names.SCHEMA_KEY)
  examples = [a for a in keep if graph.artifacts[a].type == names.EXAMPLES]
  statistics = graph.downstream(examples, names.EXAMPLES_KEY, 'StatisticsGen')
  verdicts = graph.downstream(statistics, names.STATISTICS_KEY, 'ExampleValidator')
  verdicts |= graph.downstream(statistics, names.STATISTICS_KEY, 'DataGate')
  return keep | statistics | verdicts


def _newest_two(artifacts: Iterable[Artifact]) -> List[Artifact]:
  return sorted(artifacts, key=lambda a: a.id)[-2:]


def _what_next_runs_resolve(graph: _Graph, num_spans: int) -> Set[int]:
  """The baseline, warm-start base, drift statistics, analyzer cache and training window that
  the next run, a new span's or a rerun's, would resolve (see the module's docstring)."""
  keep = set()
  blessings = {b.custom_properties[names.CURRENT_MODEL_ID].int_value: b
               for b in _live(graph, names.MODEL_BLESSING)
               if b.custom_properties[names.BLESSED].int_value == 1}
  for model in _newest_two(m for m in _live(graph, names.MODEL) if m.id in blessings):
    keep |= {model.id, blessings[model.id].id}
    keep |= graph.read_by(graph.producer(model.id), names.BASE_MODEL_KEY)
  keep |= {a.id for a in _newest_two(
      s for s in _live(graph, names.EXAMPLE_STATISTICS)
      if graph.made_by_component(s.id, 'StatisticsGen'))}
  caches = _live(graph, names.TRANSFORM_CACHE)
  if caches:
    newest = max(caches, key=lambda a: a.id)
    keep |= {newest.id} | graph.read_by(graph.producer(newest.id), names.ANALYZER_CACHE_KEY)
  by_span: Dict[int, Artifact] = {}
  for examples in sorted(_live(graph, names.EXAMPLES), key=lambda a: a.id):
    span = mlmd_store.span_of(examples)
    if span is not None and graph.made_by_component(examples.id, 'ExampleGen'):
      by_span[span] = examples
  if by_span:
    newest_span = max(by_span)
    keep |= {a.id for span, a in by_span.items() if span > newest_span - num_spans}
  return keep


def plan(store, config: PipelineConfig, keep_runs: Optional[int], keep_versions: Optional[int],
         versions_on_disk: Iterable[str], labelled: Iterable[str]) -> Plan:
  """What to remove keeping the last keep_runs runs and the newest keep_versions serving versions
  (None: all), besides those labels name and the newest. LookupError if no run is recorded."""
  runs = mlmd_store.pipeline_runs(store, config)
  runs_kept = runs[-keep_runs:] if keep_runs else runs
  graph = _Graph(store, pipeline_artifacts(store, config))
  keep: Set[int] = set()
  for run in runs_kept:
    for execution in store.get_executions_by_context(run.id):
      keep |= graph.read_by(execution.id) | graph.written_by(execution.id)
  versions = sorted(versions_on_disk, key=int)
  versions_kept = set(versions[-keep_versions:] if keep_versions else versions)
  versions_kept |= set(versions[-1:]) | (set(labelled) & set(versions))
  for version in versions_kept:
    keep |= _version_lineage(graph, version)
  keep |= _what_next_runs_resolve(graph, config.num_spans)
  # A kept model is still blessed: the baseline and warm-start resolvers look for its blessing.
  keep |= {b.id for b in _live(graph, names.MODEL_BLESSING)
           if b.custom_properties[names.CURRENT_MODEL_ID].int_value in keep}
  return Plan(
      artifacts=[a for a in graph.artifacts.values() if a.state == Artifact.LIVE
                 and a.id not in keep],
      versions=[v for v in versions if v not in versions_kept],
      runs_kept=[run.name for run in runs_kept],
      versions_kept=[v for v in versions if v in versions_kept])


def mark_lost_artifacts(config: PipelineConfig) -> List[Artifact]:
  """Marks DELETED (`files missing`) the LIVE artifacts of config's pipeline whose files are gone,
  so that no resolver hands them to a component and TFX's cache never returns them (both take
  LIVE artifacts only); returns them. Call it under the run lock, before the DAG runs:
  checking a few hundred folders takes milliseconds."""
  if not config.metadata_path.is_file():
    return []
  store = mlmd_store.connect(config.metadata_path, writable=True)
  lost = lost_artifacts(store, config)
  set_state(store, lost, Artifact.DELETED, names.REMOVED_FILES_MISSING)
  for artifact in lost:
    # ERROR, so that it shows without --verbose: someone removed files a run may need.
    logging.error('Files gone: %s %d (%s); marked DELETED in ML Metadata, no run will use it',
                  artifact.type, artifact.id, artifact.uri)
  return lost
