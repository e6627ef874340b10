"""What a pipeline run did and produced, read back from ML Metadata and the run's artifacts."""

import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from fashion_mnist import gate
from report import component as report_component
from report import evaluation_results
from pipeline.configs import PipelineConfig

_STATE_NAMES = {
    metadata_store_pb2.Execution.COMPLETE: 'ran',
    metadata_store_pb2.Execution.CACHED: 'cached',
    metadata_store_pb2.Execution.FAILED: 'failed',
    metadata_store_pb2.Execution.RUNNING: 'running',
    metadata_store_pb2.Execution.CANCELED: 'canceled',
}


@dataclasses.dataclass(frozen=True)
class ComponentRun:
  component_id: str
  state: str  # ran, cached, failed, ...
  seconds: float


@dataclasses.dataclass(frozen=True)
class RunSummary:
  run_id: str
  components: List[ComponentRun]
  accuracy: Optional[float] = None
  example_count: Optional[int] = None
  baseline_accuracy: Optional[float] = None
  blessed: Optional[bool] = None
  blessing_failures: List[str] = dataclasses.field(default_factory=list)
  pushed_path: Optional[str] = None
  gate_passed: Optional[bool] = None  # None: the data gate did not run
  anomalies_accepted: bool = False
  problems: List[str] = dataclasses.field(default_factory=list)  # the data gate's anomalies
  report_path: Optional[str] = None

  @property
  def seconds(self) -> float:
    return sum(component.seconds for component in self.components)

  def format(self, accuracy_threshold: float) -> str:
    """A few lines for a person: what ran, the accuracy, the blessing and the push."""
    states: Dict[str, int] = {}
    for component in self.components:
      states[component.state] = states.get(component.state, 0) + 1
    lines = [f'Run {self.run_id}: {len(self.components)} components ('
             + ', '.join(f'{count} {state}' for state, count in sorted(states.items())) + ')']
    if self.problems:
      verdict = ('accepted for this run (--accept-anomalies)' if self.anomalies_accepted else
                 'the run stopped before Transform and Trainer: nothing was trained or pushed')
      lines.append(f'Data anomalies ({verdict}):')
      lines.extend(f'  - {problem}' for problem in self.problems)
    if self.accuracy is not None:
      baseline = ('no baseline yet' if self.baseline_accuracy is None
                  else f'baseline {self.baseline_accuracy:.4f}')
      lines.append(f'Test accuracy: {self.accuracy:.4f} on {self.example_count} examples '
                   f'(threshold {accuracy_threshold:.4f}, {baseline})')
    if self.blessed is not None:
      lines.append('Blessed: ' + ('yes' if self.blessed else
                                  'no: ' + '; '.join(self.blessing_failures)))
    pusher_cached = any(c.component_id == 'Pusher' and c.state == 'cached' for c in self.components)
    if not self.pushed_path:
      lines.append('Pushed: nothing')
    elif pusher_cached:
      lines.append(f'Pushed: nothing new (nothing changed; {self.pushed_path} is current)')
    else:
      lines.append(f'Pushed: {self.pushed_path}')
    if self.report_path:
      lines.append(f'Report: {self.report_path}')
    return '\n'.join(lines)


def open_store(config: PipelineConfig) -> metadata_store.MetadataStore:
  """The pipeline's ML Metadata store, read-only."""
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(config.metadata_path)
  connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  return metadata_store.MetadataStore(connection)


def find_run(store, config: PipelineConfig, run_id: Optional[str] = None):
  """The pipeline_run context of run_id, or of the newest run when run_id is None."""
  runs = [
      context for context in store.get_contexts_by_type('pipeline_run')
      if any(parent.name == config.pipeline_name
             for parent in store.get_parent_contexts_by_context(context.id))
  ]
  if run_id is not None:
    runs = [run for run in runs if run.name == run_id]
  if not runs:
    which = f'run {run_id}' if run_id else 'run'
    raise LookupError(f'{config.metadata_path}: no {which} of {config.pipeline_name} recorded')
  return max(runs, key=lambda context: context.create_time_since_epoch)


def component_executions(store, run) -> List[Tuple[str, metadata_store_pb2.Execution]]:
  """(component id, execution) of each component that ran in the run, in order."""
  result = []
  for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
    node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == 'node')
    result.append((node.split('.', 1)[-1], execution))
  return result


def artifacts_of(store, execution_id: int,
                 event_type) -> Dict[str, List[metadata_store_pb2.Artifact]]:
  """An execution's input or output artifacts (event_type INPUT or OUTPUT) by key."""
  events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == event_type]
  by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
  result: Dict[str, List[metadata_store_pb2.Artifact]] = {}
  for event in events:
    result.setdefault(event.path.steps[0].key, []).append(by_id[event.artifact_id])
  return result


def summarize(config: PipelineConfig, run_id: Optional[str] = None) -> RunSummary:
  """The summary of a run (by default the newest) of config's pipeline."""
  store = open_store(config)
  run = find_run(store, config, run_id)
  components, fields = [], {}
  for component_id, execution in component_executions(store, run):
    components.append(ComponentRun(
        component_id=component_id,
        state=_STATE_NAMES.get(execution.last_known_state, 'unknown'),
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch)
        / 1000))
    outputs = artifacts_of(store, execution.id, metadata_store_pb2.Event.OUTPUT)
    for artifact in (a for artifacts in outputs.values() for a in artifacts):
      properties = artifact.custom_properties
      if artifact.type == 'ModelEvaluation':
        result = evaluation_results.load(artifact.uri)
        fields.update(accuracy=result.accuracy, baseline_accuracy=result.baseline_accuracy,
                      example_count=result.example_count,
                      blessing_failures=result.blessing_failures)
      elif artifact.type == 'ModelBlessing':
        fields['blessed'] = bool(properties['blessed'].int_value)
      elif artifact.type == 'PushedModel' and properties['pushed'].int_value:
        fields['pushed_path'] = properties['pushed_destination'].string_value
      elif artifact.type == 'ExampleAnomalies' and gate.PASSED in properties:
        fields['gate_passed'] = bool(properties[gate.PASSED].int_value)
        fields['anomalies_accepted'] = bool(properties[gate.ACCEPTED].int_value)
        fields['problems'] = json.loads(properties[gate.PROBLEMS].string_value)
      elif artifact.type == report_component.HtmlReport.TYPE_NAME:
        fields['report_path'] = os.path.join(artifact.uri, report_component.REPORT_FILE)
  return RunSummary(run_id=run.name, components=components, **fields)
