"""Opening the pipeline's ML Metadata store (a SQLite file) and the queries the read side shares.

In: the pipeline's configuration (its metadata file and pipeline name). Out: the store, its runs
(pipeline_run contexts), each run's component executions, an execution's input or output
artifacts, an Examples artifact's span, whether an artifact's files were removed, the spans
ingested so far, and a History: every run's executions, events and artifacts read at once.
"""

import dataclasses
import sqlite3
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from mlmd import names
from pipeline.configs import PipelineConfig

Artifact = metadata_store_pb2.Artifact
Execution = metadata_store_pb2.Execution

_STATE_NAMES = {
    Execution.COMPLETE: 'ran',
    Execution.CACHED: 'cached',
    Execution.FAILED: 'failed',
    Execution.RUNNING: 'running',
    Execution.CANCELED: 'canceled',
}
_FINISHED = (Execution.COMPLETE, Execution.CACHED)
# What retention records when an artifact's files are gone or going (its record stays): DELETED
# (by gc, or found missing: mlmd/retention.py), MARKED_FOR_DELETION (a gc killed part-way).
_REMOVED = (Artifact.DELETED, Artifact.MARKED_FOR_DELETION)


def connect(metadata_path: Path, writable: bool = False) -> metadata_store.MetadataStore:
  """The store in metadata_path, read-only unless writable (the file must exist)."""
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(metadata_path)
  connection.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE if writable else
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY)
  return metadata_store.MetadataStore(connection)


def open_store(config: PipelineConfig) -> metadata_store.MetadataStore:
  """The pipeline's ML Metadata store, read-only; LookupError if there is none yet."""
  if not config.metadata_path.is_file():
    raise LookupError(f'{config.metadata_path}: no such file, so no run is recorded there '
                      '(see --output-dir and --metadata-path)')
  return connect(config.metadata_path)


def pipeline_runs(store, config: PipelineConfig) -> List[metadata_store_pb2.Context]:
  """The pipeline_run contexts of config's pipeline, oldest first; LookupError if none."""
  pipeline = store.get_context_by_type_and_name(names.PIPELINE_CONTEXT, config.pipeline_name)
  runs = [context for context in ([] if pipeline is None else
                                  store.get_children_contexts_by_context(pipeline.id))
          if context.type == names.RUN_CONTEXT]
  if not runs:
    raise LookupError(f'{config.metadata_path}: no run of {config.pipeline_name} recorded')
  return sorted(runs, key=lambda context: (context.create_time_since_epoch, context.id))


def find_run(store, config: PipelineConfig, run_id: Optional[str] = None):
  """The pipeline_run context of run_id, or of the newest run when run_id is None."""
  runs = pipeline_runs(store, config)
  if run_id is None:
    return runs[-1]
  matching = [run for run in runs if run.name == run_id]
  if not matching:
    raise LookupError(f'{config.metadata_path}: no run {run_id} of {config.pipeline_name} '
                      'recorded')
  return matching[-1]


def execution_contexts(store, execution_id: int) -> Dict[str, str]:
  """An execution's context names by context type: 'node' (<pipeline>.<component id>),
  'pipeline_run' (the run id), ..."""
  return {c.type: c.name for c in store.get_contexts_by_execution(execution_id)}


def component_id(contexts: Dict[str, str]) -> str:
  """The component id in an execution's contexts (see execution_contexts)."""
  return contexts[names.NODE_CONTEXT].split('.', 1)[-1]


def component_executions(store, run) -> List[Tuple[str, Execution]]:
  """(component id, execution) of each component that ran in the run, in order."""
  return [(component_id(execution_contexts(store, execution.id)), execution)
          for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id)]


def artifacts_of(store, execution_id: int, event_type) -> Dict[str, List[Artifact]]:
  """An execution's input or output artifacts (event_type INPUT or OUTPUT) by key."""
  events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
  by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  result: Dict[str, List[Artifact]] = {}
  for event in events:
    result.setdefault(event.path.steps[0].key, []).append(by_id[event.artifact_id])
  return result


def is_removed(artifact: Artifact) -> bool:
  """Whether ML Metadata records the artifact's files as removed, or being removed."""
  return artifact.state in _REMOVED


def state_name(execution: Execution) -> str:
  """ran, cached, failed, running, canceled or unknown."""
  return _STATE_NAMES.get(execution.last_known_state, 'unknown')


def span_of(artifact: Artifact) -> Optional[int]:
  """The data span of an ExampleGen's Examples; None for any other artifact."""
  if artifact.type != names.EXAMPLES:
    return None
  for properties in (artifact.custom_properties, artifact.properties):
    if names.SPAN in properties:
      return properties[names.SPAN].int_value
  return None


def ingested_spans(metadata_path: Path) -> Set[int]:
  """The spans of every Examples artifact an ExampleGen finished writing (also on failed runs)."""
  if not metadata_path.is_file():
    return set()
  store = connect(metadata_path)
  examples = {artifact.id: artifact for artifact in store.get_artifacts_by_type(names.EXAMPLES)
              if artifact.state == Artifact.LIVE}
  if not examples:
    return set()
  producers = {event.artifact_id: event.execution_id
               for event in store.get_events_by_artifact_ids(list(examples))
               if event.type == metadata_store_pb2.Event.OUTPUT}
  executions = store.get_executions_by_id(set(producers.values()))
  type_names = {t.id: t.name for t in store.get_execution_types_by_id(
      list({execution.type_id for execution in executions}))}
  example_gens = {execution.id for execution in executions
                  if type_names[execution.type_id].endswith('ExampleGen')
                  and execution.last_known_state in _FINISHED}
  return {span_of(examples[artifact_id])
          for artifact_id, execution_id in producers.items() if execution_id in example_gens}


@dataclasses.dataclass(frozen=True)
class History:
  """Runs of a pipeline with their executions, events and artifacts, read in bulk: four calls
  to ML Metadata and one SQL query, however many runs: 0.3 s on 500 runs. With a few queries
  per execution `runs` took 25 s there, and still 0.65 s in 500 calls of
  get_executions_by_context with the rest in bulk (bench/history_bench.py)."""
  runs: List[metadata_store_pb2.Context]  # oldest first
  executions: Dict[int, List[Tuple[str, Execution]]]  # by run context id: (component id, execution)
  events: Dict[int, List[metadata_store_pb2.Event]]  # by execution id
  artifacts: Dict[int, Artifact]  # by id

  def artifacts_of(self, execution_id: int) -> List[Tuple[metadata_store_pb2.Event, Artifact]]:
    """An execution's events (but a resolver's), each with its artifact."""
    return [(event, self.artifacts[event.artifact_id])
            for event in self.events.get(execution_id, ())]


def _associations(metadata_path: Path) -> List[Tuple[int, int]]:
  """(execution id, context id) of every execution's contexts, in one query of ML Metadata's
  SQLite table Association (id, context_id, execution_id: the same in every schema version
  since 0.13). ML Metadata's API gives them only per context or per execution: 1 ms a call."""
  connection = sqlite3.connect(f'{metadata_path.absolute().as_uri()}?mode=ro', uri=True)
  try:
    return connection.execute('SELECT execution_id, context_id FROM Association').fetchall()
  finally:
    connection.close()


def history(store, config: PipelineConfig, runs: List[metadata_store_pb2.Context]) -> History:
  """The History of runs (pipeline_run contexts of config's pipeline, see pipeline_runs)."""
  prefix = f'{config.pipeline_name}.'
  nodes = {node.id: node.name[len(prefix):]
           for node in store.get_contexts_by_type(names.NODE_CONTEXT)
           if node.name.startswith(prefix)}
  wanted = {run.id for run in runs}
  run_of, component_of = {}, {}
  for execution_id, context_id in _associations(config.metadata_path):
    if context_id in wanted:
      run_of[execution_id] = context_id
    elif context_id in nodes:
      component_of[execution_id] = nodes[context_id]
  executions: Dict[int, List[Tuple[str, Execution]]] = {run.id: [] for run in runs}
  found = sorted(store.get_executions_by_id(list(run_of)), key=lambda e: e.id) if run_of else []
  for execution in found:
    executions[run_of[execution.id]].append((component_of.get(execution.id, '?'), execution))
  # Resolvers' events are only what they looked up (INTERNAL_OUTPUT), read by nothing here.
  with_events = [e.id for e in found if e.type != names.RESOLVER_EXECUTION_TYPE]
  events: Dict[int, List[metadata_store_pb2.Event]] = {}
  for event in store.get_events_by_execution_ids(with_events) if with_events else ():
    events.setdefault(event.execution_id, []).append(event)
  artifact_ids = list({e.artifact_id for found in events.values() for e in found})
  artifacts = {a.id: a for a in store.get_artifacts_by_id(artifact_ids)} if artifact_ids else {}
  return History(runs=runs, executions=executions, events=events, artifacts=artifacts)
