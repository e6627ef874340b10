"""Opening the pipeline's ML Metadata store (a SQLite file) and the queries the read side shares.

In: the pipeline's configuration (its metadata file and pipeline name). Out: the store, its runs
(pipeline_run contexts), each run's component executions, an execution's input or output
artifacts, an Examples artifact's span, and the spans ingested so far.
"""

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
  runs = [
      context for context in store.get_contexts_by_type(names.RUN_CONTEXT)
      if any(parent.name == config.pipeline_name
             for parent in store.get_parent_contexts_by_context(context.id))
  ]
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
