"""What a pipeline run did and produced, read back from ML Metadata and the run's artifacts.

In: the pipeline's configuration (its metadata file), and a run id (default: the newest run) or,
for the history, nothing.
Out: a RunSummary per run (components and their states, start and duration, the data spans, the
accuracy, blessing and push), and the text shown after a run (`format`) or by
`fashion-pipeline runs` (`format_table`).
"""

import dataclasses
import datetime
import json
import os
from typing import Dict, Iterable, List, Optional

from ml_metadata.proto import metadata_store_pb2

from fashion_mnist import gate
from mlmd import evaluation
from mlmd import killed_runs
from mlmd import names
from mlmd import store as mlmd_store
from pipeline.configs import PipelineConfig

# States that name their components in the runs table (the others are counted).
_NAMED_STATES = ('failed', 'running', 'canceled', 'unknown')


@dataclasses.dataclass(frozen=True)
class ComponentRun:
  component_id: str
  state: str  # ran, cached, failed, ...
  seconds: float
  is_resolver: bool = False


@dataclasses.dataclass(frozen=True)
class RunSummary:
  run_id: str
  components: List[ComponentRun]
  started: Optional[float] = None  # Unix time
  duration: Optional[float] = None  # seconds, from the start to the last component's last update
  spans: List[int] = dataclasses.field(default_factory=list)  # the data spans it ingested or read
  accuracy: Optional[float] = None
  example_count: Optional[int] = None
  baseline_accuracy: Optional[float] = None
  blessed: Optional[bool] = None
  blessing_failures: List[str] = dataclasses.field(default_factory=list)
  pushed_path: Optional[str] = None
  pushed_version: Optional[str] = None
  gate_passed: Optional[bool] = None  # None: the data gate did not run
  anomalies_accepted: bool = False
  problems: List[str] = dataclasses.field(default_factory=list)  # the data gate's anomalies
  report_path: Optional[str] = None
  # complete; failed; running (its process is alive); killed (died part-way, see _status).
  status: str = 'complete'
  removed: List[str] = dataclasses.field(default_factory=list)  # output keys whose files are gone
  pushed_removed: bool = False  # the pushed version's folder was removed
  labels: List[str] = dataclasses.field(default_factory=list)  # the pushed version's labels
  model_uri: Optional[str] = None  # the model the Trainer made (or found cached)
  baseline_model_uri: Optional[str] = None  # the model the Evaluator compared it with

  @property
  def seconds(self) -> float:
    return sum(component.seconds for component in self.components)

  def state_of(self, component_id: str) -> Optional[str]:
    return next((c.state for c in self.components if c.component_id == component_id), None)

  def states(self) -> str:
    """The components' states in a few words: 'all ran', 'all cached', '5 ran, 5 cached',
    'failed: Trainer'; a killed run says so: '5 ran, killed in Trainer', or '6 ran, killed after
    Transform' when it died between two components. Resolvers are left out: they run every time
    and do no work."""
    by_state: Dict[str, List[str]] = {}
    for component in self.components:
      if not component.is_resolver:
        by_state.setdefault(component.state, []).append(component.component_id)
    if self.status == 'killed':
      unfinished = [c.component_id for c in self.components
                    if c.state in ('running', 'canceled', 'unknown')]
      last = [c.component_id for c in self.components if not c.is_resolver][-1:]
      killed = (f'killed in {" ".join(unfinished)}' if unfinished else
                f'killed after {" ".join(last)}' if last else 'killed')
      return ', '.join([f'{len(by_state[state])} {state}' for state in ('ran', 'cached')
                        if state in by_state] + [killed])
    if self.status == 'running' and 'running' not in by_state:  # between two components
      by_state['running'] = ['...']
    if len(by_state) == 1:
      (state,) = by_state
      return f'all {state}'
    return ', '.join(
        [f'{len(by_state[state])} {state}' for state in ('ran', 'cached') if state in by_state]
        + [f'{state}: {" ".join(by_state[state])}' for state in _NAMED_STATES
           if state in by_state])

  def note(self) -> str:
    """What else to know in a few words: 'stopped at the data gate', 'files removed', ..."""
    notes = []
    if self.gate_passed is False:
      notes.append('stopped at the data gate')
    elif self.anomalies_accepted:
      notes.append('anomalies accepted')
    if self.removed:  # which ones: --json
      notes.append('files removed')
    return '; '.join(notes)

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
    pusher_cached = self.state_of(names.PUSHER) == 'cached'
    if not self.pushed_path:
      lines.append('Pushed: nothing')
    elif pusher_cached:
      lines.append(f'Pushed: nothing new (nothing changed; {self.pushed_path} is current)')
    else:
      lines.append(f'Pushed: {self.pushed_path}')
    if self.report_path:
      lines.append(f'Report: {self.report_path}')
    return '\n'.join(lines)


def _evaluation(artifact) -> Optional[evaluation.EvaluationSummary]:
  """The Evaluator's result, or None when its files were removed (ML Metadata keeps the record)."""
  if mlmd_store.is_removed(artifact):
    return None
  try:
    return evaluation.summarize(artifact.uri)
  except (OSError, ValueError, KeyError):  # removed without ML Metadata being told
    return None


def _status(components: List[ComponentRun], live: bool) -> str:
  """complete, failed, running (its process is alive), or killed: a dead run with an execution
  left unfinished (RUNNING or NEW; CANCELED once the next run set it straight,
  mlmd/killed_runs.py), or that never reached its report (killed between two components)."""
  states = {c.state for c in components}
  if 'failed' in states:
    return 'failed'
  unfinished = bool(states & {'running', 'canceled', 'unknown'})
  if unfinished or not any(c.component_id == names.RUN_REPORT for c in components):
    return 'running' if live and 'canceled' not in states else 'killed'
  return 'complete'


def _summarize(history: mlmd_store.History, run, live: bool = False) -> RunSummary:
  components, fields, spans, finished, removed = [], {}, set(), None, set()
  for component, execution in history.executions[run.id]:
    components.append(ComponentRun(
        component_id=component,
        state=mlmd_store.state_name(execution),
        seconds=(execution.last_update_time_since_epoch - execution.create_time_since_epoch)
        / 1000,
        # Resolver nodes only look artifacts up; they run in every run and are never cached.
        is_resolver=execution.type == names.RESOLVER_EXECUTION_TYPE))
    # An execution a killed run left unfinished is canceled at the start of the next run.
    if execution.last_known_state != metadata_store_pb2.Execution.CANCELED:
      finished = max(finished or 0, execution.last_update_time_since_epoch)
    outputs = []
    for event, artifact in history.artifacts_of(execution.id):
      # Every span a component read or wrote: Transform's window, which holds the spans
      # ExampleGen ingested (or, when Transform did not run, those alone).
      if artifact.type == names.EXAMPLES and mlmd_store.span_of(artifact) is not None:
        spans.add(mlmd_store.span_of(artifact))
      if (event.type == metadata_store_pb2.Event.INPUT
          and event.path.steps[0].key == names.BASELINE_MODEL_KEY):
        fields['baseline_model_uri'] = artifact.uri
      if event.type == metadata_store_pb2.Event.OUTPUT:
        outputs.append(artifact)
        if mlmd_store.is_removed(artifact):
          removed.add(event.path.steps[0].key)
    for artifact in outputs:
      properties = artifact.custom_properties
      if artifact.type == names.MODEL_EVALUATION:
        result = _evaluation(artifact)
        if result is not None:
          fields.update(accuracy=result.accuracy, baseline_accuracy=result.baseline_accuracy,
                        example_count=result.example_count,
                        blessing_failures=result.blessing_failures)
      elif artifact.type == names.MODEL and component == names.TRAINER:
        fields['model_uri'] = artifact.uri
      elif artifact.type == names.MODEL_BLESSING:
        fields['blessed'] = bool(properties[names.BLESSED].int_value)
      elif artifact.type == names.PUSHED_MODEL and properties[names.PUSHED].int_value:
        fields['pushed_path'] = properties[names.PUSHED_DESTINATION].string_value
        fields['pushed_version'] = properties[names.PUSHED_VERSION].string_value
        fields['pushed_removed'] = mlmd_store.is_removed(artifact)
      elif (artifact.type == names.EXAMPLE_ANOMALIES
            and gate.PASSED in properties):
        fields['gate_passed'] = bool(properties[gate.PASSED].int_value)
        fields['anomalies_accepted'] = bool(properties[gate.ACCEPTED].int_value)
        fields['problems'] = json.loads(properties[gate.PROBLEMS].string_value)
      elif artifact.type == names.HTML_REPORT:
        fields['report_path'] = os.path.join(artifact.uri, names.REPORT_FILE)
  started = run.create_time_since_epoch / 1000
  return RunSummary(run_id=run.name, components=components, started=started,
                    duration=None if finished is None else finished / 1000 - started,
                    spans=sorted(spans), status=_status(components, live),
                    removed=sorted(removed), **fields)


def _summaries(config: PipelineConfig, store, runs, newest) -> List[RunSummary]:
  found = mlmd_store.history(store, config, runs)
  # Only the newest run can still be going: the run lock keeps two runs from overlapping.
  live = killed_runs.run_alive(config)
  return [_summarize(found, run, live=live and run.id == newest.id) for run in runs]


def summarize(config: PipelineConfig, run_id: Optional[str] = None) -> RunSummary:
  """The summary of a run (by default the newest) of config's pipeline."""
  store = mlmd_store.open_store(config)
  runs = mlmd_store.pipeline_runs(store, config)
  return _summaries(config, store, [mlmd_store.find_run(store, config, run_id)], runs[-1])[0]


def history(config: PipelineConfig, last: Optional[int] = None,
            until: Optional[str] = None) -> List[RunSummary]:
  """The summaries of every run of config's pipeline, oldest first; with until (a run id), only
  the runs up to that one; with last, only the last of those."""
  store = mlmd_store.open_store(config)
  runs = mlmd_store.pipeline_runs(store, config)
  shown = runs[:[run.name for run in runs].index(until) + 1] if until else runs
  return _summaries(config, store, shown[-last:] if last else shown, runs[-1])


def format_spans(spans: Iterable[int]) -> str:
  """Span numbers in short: [0] -> '0', [1, 2, 3, 5] -> '1-3,5', [] -> '-'."""
  ranges: List[List[int]] = []
  for span in sorted(spans):
    if ranges and span == ranges[-1][1] + 1:
      ranges[-1][1] = span
    else:
      ranges.append([span, span])
  return ','.join(str(a) if a == b else f'{a}-{b}' for a, b in ranges) or '-'


def format_time(unix_time: Optional[float]) -> str:
  """Local time to the second, like the run ids TFX gives."""
  if unix_time is None:
    return '-'
  return datetime.datetime.fromtimestamp(unix_time).strftime('%Y-%m-%d %H:%M:%S')


def with_labels(summaries: List[RunSummary],
                labels: Dict[str, List[str]]) -> List[RunSummary]:
  """The summaries with the labels (by version: the model config file's version labels) that
  name each one's pushed version."""
  return [dataclasses.replace(s, labels=labels.get(s.pushed_version, []) if s.pushed_version
                              else []) for s in summaries]


def format_table(summaries: List[RunSummary]) -> str:
  """One line per run: the table of `fashion-pipeline runs`; the pushed versions' labels (see
  with_labels) in a LABELS column after the pushed version when there are any."""
  labels = any(s.labels for s in summaries)
  header = ('RUN', 'STARTED', 'DURATION', 'SPANS', 'COMPONENTS', 'ACCURACY', 'BLESSED', 'PUSHED',
            *(('LABELS',) if labels else ()), 'NOTE')
  rows = [header]
  for s in summaries:
    pushed = s.pushed_version or '-'
    if s.pushed_version and s.state_of(names.PUSHER) == 'cached':
      pushed += ' (cached)'
    if s.pushed_version and s.pushed_removed:
      pushed += ' (removed)'
    rows.append((
        s.run_id, format_time(s.started),
        '-' if s.duration is None else f'{s.duration:.0f}s',
        format_spans(s.spans), s.states(),
        f'{s.accuracy:.4f}' if s.accuracy is not None else
        'removed' if 'evaluation' in s.removed else '-',
        {None: '-', True: 'yes', False: 'no'}[s.blessed], pushed,
        *((','.join(s.labels) or '-',) if labels else ()), s.note()))
  widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
  return '\n'.join('  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
                   for row in rows)


def to_json(value) -> str:
  """A summary or lineage (dataclasses), or a list of them, as indented JSON."""
  if isinstance(value, list):
    return json.dumps([dataclasses.asdict(item) for item in value], indent=2)
  return json.dumps(dataclasses.asdict(value), indent=2)
