"""The read side's queries on a real ML Metadata store holding three runs made here as TFX records
them: one that trained and pushed, one fully cached, and one stopped at the data gate whose report
was left unfinished by a kill. `runs` and `lineage` read these; tests/e2e/test_history.py reads
real runs through the command line."""

import json

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from fashion_mnist import gate
from metadata_builder import MetadataBuilder, write_evaluation
from mlmd import lineage
from mlmd import names
from mlmd import run_summary
from pipeline import configs
from report import component as report_component

Execution = metadata_store_pb2.Execution
_SETTINGS = {'epochs': 1, 'batch_size': 32}


def _verdict(builder, passed, problems=()):
  return builder.artifact(standard_artifacts.ExampleAnomalies, **{
      gate.PASSED: int(passed), gate.ACCEPTED: 0, gate.PROBLEMS: json.dumps(list(problems)),
      gate.DRIFT: '[]'})


def _data_part(builder, run_id, span, schema, passed, problems=()):
  """ExampleGen, StatisticsGen, ExampleValidator and the data gate; returns the examples and the
  gate's verdict."""
  examples = builder.artifact(standard_artifacts.Examples, span=span)
  statistics = builder.artifact(standard_artifacts.ExampleStatistics)
  anomalies = builder.artifact(standard_artifacts.ExampleAnomalies)
  verdict = _verdict(builder, passed, problems)
  for component, inputs, outputs in (
      ('FileBasedExampleGen', {}, {'examples': [examples]}),
      ('StatisticsGen', {'examples': [examples]}, {'statistics': [statistics]}),
      ('ExampleValidator', {'statistics': [statistics], 'schema': [schema]},
       {'anomalies': [anomalies]}),
      ('DataGate', {'statistics': [statistics], 'anomalies': [anomalies]}, {'result': [verdict]}),
  ):
    builder.execution(component, inputs, outputs, run_id=run_id)
  return examples, verdict


@pytest.fixture(scope='module')
def store(tmp_path_factory):
  root = tmp_path_factory.mktemp('queries')
  config = configs.build(output_dir=root, environ={})
  builder = MetadataBuilder(config.metadata_path)
  schema = builder.artifact(standard_artifacts.Schema)
  examples, verdict = _data_part(builder, 'run-1', 0, schema, passed=True)
  graph = builder.artifact(standard_artifacts.TransformGraph)
  model = builder.artifact(standard_artifacts.Model)
  evaluation = builder.artifact(standard_artifacts.ModelEvaluation, uri=str(root / 'evaluation'))
  write_evaluation(evaluation.uri, accuracy=0.875, example_count=200)
  blessing = builder.artifact(standard_artifacts.ModelBlessing, blessed=1,
                              current_model_id=model.id)
  pushed = builder.artifact(standard_artifacts.PushedModel, pushed=1,
                            pushed_destination='/out/serving/17', pushed_version='17')
  report = builder.artifact(report_component.HtmlReport, uri='/root/RunReport/report/20')
  training = (
      ('Transform', {'examples': [examples], 'schema': [schema]}, {'transform_graph': [graph]}),
      ('Trainer', {'examples': [examples], 'transform_graph': [graph], 'schema': [schema]},
       {'model': [model]}),
      ('Evaluator', {'examples': [examples], 'model': [model]},
       {'evaluation': [evaluation], 'blessing': [blessing]}),
      ('Pusher', {'model': [model], 'model_blessing': [blessing]}, {'pushed_model': [pushed]}),
      ('RunReport', {'examples': [examples], 'gate_result': [verdict]}, {'report': [report]}),
  )
  for run_id, state in (('run-1', Execution.COMPLETE), ('run-2', Execution.CACHED)):
    if run_id == 'run-2':  # a rerun with nothing changed: every component from the cache
      builder.execution('FileBasedExampleGen', outputs={'examples': [examples]}, state=state,
                        run_id=run_id)
    for component, inputs, outputs in training:
      properties = {names.CUSTOM_CONFIG: json.dumps(_SETTINGS)} if component == 'Trainer' else {}
      builder.execution(component, inputs, outputs, state=state, run_id=run_id, **properties)
    builder.execution(names.RESOLVER_EXECUTION_TYPE, component_id='baseline_model_resolver',
                      run_id=run_id)
  _data_part(builder, 'run-3', 1, schema, passed=False,
             problems=['train split, feature "label": drift'])
  builder.execution('RunReport', state=Execution.CANCELED, run_id='run-3')  # killed
  return config


def test_runs_are_summarized_from_their_executions_and_artifacts(store):
  first, cached, stopped = run_summary.history(store)
  assert [s.run_id for s in (first, cached, stopped)] == ['run-1', 'run-2', 'run-3']
  assert first.states() == 'all ran' and cached.states() == 'all cached'
  assert stopped.states() == '4 ran, killed in RunReport' and stopped.status == 'killed'
  assert first.status == cached.status == 'complete'
  assert (first.spans, cached.spans, stopped.spans) == ([0], [0], [1])
  assert (first.accuracy, first.example_count, first.baseline_accuracy) == (0.875, 200, None)
  assert (first.blessed, first.pushed_version, first.pushed_path) == (True, '17', '/out/serving/17')
  assert cached.pushed_version == '17' and cached.state_of(names.PUSHER) == 'cached'
  assert first.report_path == '/root/RunReport/report/20/report.html'
  assert (first.gate_passed, stopped.gate_passed) == (True, False)
  assert stopped.problems == ['train split, feature "label": drift'] and stopped.accuracy is None
  assert run_summary.summarize(store).run_id == 'run-3'
  assert run_summary.summarize(store, 'run-1') == first


def test_an_unknown_run_is_named(store):
  with pytest.raises(LookupError, match='no run run-9 of fashion-pipeline recorded'):
    run_summary.summarize(store, 'run-9')


def test_lineage_names_the_executions_that_made_each_artifact_not_the_cached_ones(store):
  found = lineage.trace(store, '17')
  assert (found.pushed_path, found.pusher.component_id, found.pusher.run_id) == (
      '/out/serving/17', 'Pusher', 'run-1')
  assert (found.trainer.run_id, found.trainer.state) == ('run-1', 'ran')
  assert found.trainer_config == _SETTINGS and found.base_model_uri is None
  assert (found.accuracy, found.example_count, found.blessed) == (0.875, 200, True)
  assert found.baseline_accuracy is None and found.baseline_versions == []
  assert found.transform.component_id == 'Transform' and found.spans == [0]
  (span_0,) = found.examples
  assert span_0.made_by.component_id == 'FileBasedExampleGen'
  (statistics,) = span_0.statistics
  assert [(v.made_by.component_id, v.passed) for v in statistics.verdicts] == [
      ('ExampleValidator', None), ('DataGate', True)]


def test_lineage_of_a_version_never_pushed_lists_those_that_were(store):
  with pytest.raises(LookupError, match=r'no model version 18 was pushed \(versions pushed: 17\)'):
    lineage.trace(store, '18')
