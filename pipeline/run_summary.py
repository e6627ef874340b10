"""What a pipeline run did and produced, read back from ML Metadata and the run's artifacts."""

import dataclasses
from typing import Dict, List, Optional

import tensorflow_model_analysis as tfma
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import evaluation
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
    return '\n'.join(lines)


def _store(config: PipelineConfig) -> metadata_store.MetadataStore:
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(config.metadata_path)
  connection.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
  return metadata_store.MetadataStore(connection)


def _outputs(store, execution_id: int) -> List[metadata_store_pb2.Artifact]:
  events = store.get_events_by_execution_ids([execution_id])
  ids = [e.artifact_id for e in events if e.type == metadata_store_pb2.Event.OUTPUT]
  return store.get_artifacts_by_id(ids)


def _overall_metrics(evaluation_uri: str) -> Dict[str, float]:
  """Overall-slice metrics keyed by (model name or '') + '/' + metric name, diffs left out."""
  metrics = {}
  for slice_metrics in tfma.load_metrics(evaluation_uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue
    for key_value in slice_metrics.metric_keys_and_values:
      if not key_value.key.HasField('sub_key') and not key_value.key.is_diff:
        metrics[f'{key_value.key.model_name}/{key_value.key.name}'] = (
            key_value.value.double_value.value)
  return metrics


def _blessing_failures(evaluation_uri: str) -> List[str]:
  """Why the Evaluator did not bless, one sentence per failed threshold."""
  result = tfma.load_validation_result(evaluation_uri)
  failures = []
  for slice_validation in result.metric_validations_per_slice:
    for failure in slice_validation.failures:
      name, value = failure.metric_key.name, failure.metric_value.double_value.value
      threshold = failure.metric_threshold
      if failure.metric_key.is_diff:
        failures.append(f'{name} changed by {value:+.4f} from the baseline, below the allowed '
                        f'{threshold.change_threshold.absolute.value:+.4f}')
      else:
        failures.append(f'{name} {value:.4f} is below the threshold '
                        f'{threshold.value_threshold.lower_bound.value:.4f}')
  return failures


def latest_run(config: PipelineConfig) -> RunSummary:
  """The summary of the newest run of config's pipeline in its metadata store."""
  store = _store(config)
  runs = [
      context for context in store.get_contexts_by_type('pipeline_run')
      if any(parent.name == config.pipeline_name
             for parent in store.get_parent_contexts_by_context(context.id))
  ]
  if not runs:
    raise LookupError(f'{config.metadata_path}: no run of {config.pipeline_name} recorded')
  run = max(runs, key=lambda context: context.create_time_since_epoch)
  components, fields = [], {}
  for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
    node = next(c.name for c in store.get_contexts_by_execution(execution.id) if c.type == 'node')
    component_id = node.split('.', 1)[-1]
    components.append(ComponentRun(
        component_id=component_id,
        state=_STATE_NAMES.get(execution.last_known_state, 'unknown'),
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch)
        / 1000))
    for artifact in _outputs(store, execution.id):
      properties = artifact.custom_properties
      if artifact.type == 'ModelEvaluation':
        metrics = _overall_metrics(artifact.uri)
        candidate = [name for name in metrics if name.endswith('/' + evaluation.ACCURACY_METRIC)
                     and not name.startswith('baseline/')]
        fields['accuracy'] = metrics[candidate[0]] if candidate else None
        fields['baseline_accuracy'] = metrics.get(f'baseline/{evaluation.ACCURACY_METRIC}')
        count = [value for name, value in metrics.items()
                 if name.endswith('/' + evaluation.EXAMPLE_COUNT_METRIC)]
        fields['example_count'] = int(count[0]) if count else None
        fields['blessing_failures'] = _blessing_failures(artifact.uri)
      elif artifact.type == 'ModelBlessing':
        fields['blessed'] = bool(properties['blessed'].int_value)
      elif artifact.type == 'PushedModel' and properties['pushed'].int_value:
        fields['pushed_path'] = properties['pushed_destination'].string_value
  return RunSummary(run_id=run.name, components=components, **fields)
