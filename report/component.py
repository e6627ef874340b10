"""RunReport: the TFX component that writes the run's HTML report, an artifact with lineage.

In: ExampleGen's examples, StatisticsGen's statistics, the schema, the data gate's result, and when
they exist (they do not when the gate stopped the run, or for a first run) the previous run's
statistics, the Trainer's model, the Evaluator's evaluation and blessing, and the Pusher's result;
and, from ML Metadata, the earlier runs (report/history.py).
Out: an HtmlReport artifact: one self-contained `report.html` in its folder.
"""

import datetime
import json
import os

from tfx import types
from tfx.dsl.components.base import base_component
from tfx.dsl.components.base import base_executor
from tfx.dsl.components.base import executor_spec
from tfx.types import artifact
from tfx.types import artifact_utils
from tfx.types import component_spec
from tfx.types import standard_artifacts

from fashion_mnist import gate
from mlmd import names
from pipeline import configs
from report import gather
from report import history
from report import render


# The component's parameters, recorded as its execution's properties (read back by
# `fashion-pipeline report`, pipeline/reports.py).
DATA_SOURCE = 'data_source'
ACCURACY_THRESHOLD = 'accuracy_threshold'
# Where the history section reads the earlier runs: JSON of the output dir, metadata file,
# serving dir and pipeline name; '' for none (Kubeflow's ML Metadata is not a file here).
HISTORY_SOURCE = 'history_source'


class HtmlReport(artifact.Artifact):
  """A self-contained HTML page."""
  TYPE_NAME = names.HTML_REPORT


class RunReportSpec(types.ComponentSpec):
  PARAMETERS = {
      DATA_SOURCE: component_spec.ExecutionParameter(type=str),
      ACCURACY_THRESHOLD: component_spec.ExecutionParameter(type=float),
      HISTORY_SOURCE: component_spec.ExecutionParameter(type=str),
  }
  INPUTS = {
      'examples': component_spec.ChannelParameter(type=standard_artifacts.Examples),
      'statistics': component_spec.ChannelParameter(type=standard_artifacts.ExampleStatistics),
      'schema': component_spec.ChannelParameter(type=standard_artifacts.Schema),
      'gate_result': component_spec.ChannelParameter(type=standard_artifacts.ExampleAnomalies),
      'previous_statistics': component_spec.ChannelParameter(
          type=standard_artifacts.ExampleStatistics, optional=True),
      'model': component_spec.ChannelParameter(type=standard_artifacts.Model, optional=True),
      'evaluation': component_spec.ChannelParameter(
          type=standard_artifacts.ModelEvaluation, optional=True),
      'blessing': component_spec.ChannelParameter(
          type=standard_artifacts.ModelBlessing, optional=True),
      'pushed_model': component_spec.ChannelParameter(
          type=standard_artifacts.PushedModel, optional=True),
  }
  OUTPUTS = {'report': component_spec.ChannelParameter(type=HtmlReport)}


def _single_uri(input_dict, key):
  artifacts = input_dict.get(key) or []
  return artifacts[0].uri if artifacts else None


def history_source(config: configs.PipelineConfig, for_kubeflow: bool = False) -> str:
  """The HISTORY_SOURCE parameter for config's pipeline."""
  if for_kubeflow:
    return ''
  return json.dumps({'output_dir': str(config.output_dir),
                     'metadata_path': str(config.metadata_path),
                     'serving_dir': str(config.serving_dir),
                     'pipeline_name': config.pipeline_name})


def _history(exec_properties, run_id: str):
  source = exec_properties.get(HISTORY_SOURCE)
  if not source:
    return None
  paths = json.loads(source)
  return history.gather(configs.build(
      output_dir=paths['output_dir'], metadata_path=paths['metadata_path'],
      serving_dir=paths['serving_dir'], pipeline_name=paths['pipeline_name'],
      accuracy_threshold=exec_properties[ACCURACY_THRESHOLD], environ={}), run_id)


def run_artifacts(input_dict, exec_properties, run_id: str) -> gather.RunArtifacts:
  """The report's inputs as RunArtifacts (also used to rewrite a report from ML Metadata), with
  the history of the runs up to run_id."""
  examples = artifact_utils.get_single_instance(input_dict['examples'])
  verdict = artifact_utils.get_single_instance(input_dict['gate_result'])
  blessings = input_dict.get('blessing') or []
  pushes = [p for p in input_dict.get('pushed_model') or []
            if p.get_int_custom_property(names.PUSHED)]
  return gather.RunArtifacts(
      run_id=run_id,
      time=datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M:%S UTC'),
      data_source=exec_properties[DATA_SOURCE],
      accuracy_threshold=exec_properties[ACCURACY_THRESHOLD],
      examples_uri=examples.uri,
      split_names=artifact_utils.decode_split_names(examples.split_names),
      statistics_uri=_single_uri(input_dict, 'statistics'),
      schema_uri=_single_uri(input_dict, 'schema'),
      gate_passed=bool(verdict.get_int_custom_property(gate.PASSED)),
      anomalies_accepted=bool(verdict.get_int_custom_property(gate.ACCEPTED)),
      problems=json.loads(verdict.get_string_custom_property(gate.PROBLEMS) or '[]'),
      drift=json.loads(verdict.get_string_custom_property(gate.DRIFT) or '[]'),
      previous_statistics_uri=_single_uri(input_dict, 'previous_statistics'),
      model_uri=_single_uri(input_dict, 'model'),
      evaluation_uri=_single_uri(input_dict, 'evaluation'),
      blessed=bool(blessings[0].get_int_custom_property(names.BLESSED)) if blessings else None,
      pushed_path=(pushes[0].get_string_custom_property(names.PUSHED_DESTINATION) if pushes
                   else None),
      history=_history(exec_properties, run_id))


def write_report(run: gather.RunArtifacts, path: str) -> str:
  """Renders the report of `run` into the file `path`; returns the path."""
  page = render.render_html(gather.build(run))
  os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
  with open(path, 'w', encoding='utf-8') as f:
    f.write(page)
  return path


class RunReportExecutor(base_executor.BaseExecutor):

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    report = artifact_utils.get_single_instance(output_dict['report'])
    run = run_artifacts(input_dict, exec_properties, self._context.pipeline_run_id or '')
    write_report(run, os.path.join(report.uri, names.REPORT_FILE))


class RunReport(base_component.BaseComponent):
  """Writes the run's self-contained HTML report."""
  SPEC_CLASS = RunReportSpec
  EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(RunReportExecutor)

  def __init__(self, data_source: str, accuracy_threshold: float, history_source: str,
               **inputs):
    super().__init__(spec=RunReportSpec(
        data_source=data_source, accuracy_threshold=accuracy_threshold,
        history_source=history_source,
        report=types.Channel(type=HtmlReport), **inputs))
