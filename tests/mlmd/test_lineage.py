"""The text of `fashion-pipeline lineage`: from the push back to every span's data and verdicts."""

import dataclasses

from mlmd.lineage import Lineage, RawExamples, Statistics, Step, Verdict


def _step(component_id, run_id='run-2'):
  return Step(component_id=component_id, run_id=run_id, started=1767261600.0, seconds=12.0,
              state='ran')


def _lineage(examples):
  return Lineage(
      version='1767261690', pushed_path='/out/serving/1767261690', pusher=_step('Pusher'),
      model_uri='/root/Trainer/model/8', trainer=_step('Trainer'),
      trainer_config={'epochs': 1, 'batch_size': 32}, base_model_uri='/root/Trainer/model/3',
      evaluation_uri='/root/Evaluator/evaluation/10', evaluator=_step('Evaluator'),
      accuracy=0.88521, example_count=10000, baseline_accuracy=0.87, baseline_versions=['1700'],
      blessed=True, transform=_step('Transform'),
      transform_graph_uri='/root/Transform/transform_graph/7',
      schema_uri='/root/ImportSchemaGen/schema/2', examples=examples)


def test_every_span_is_shown_with_its_statistics_and_verdicts():
  backfilled = RawExamples(span=2, uri='/root/span_2_example_gen/examples/5',
                           made_by=_step('span_2_example_gen', 'run-2'), statistics=[])
  newest = RawExamples(
      span=3, uri='/root/FileBasedExampleGen/examples/1', made_by=_step('FileBasedExampleGen'),
      statistics=[Statistics(
          uri='/root/StatisticsGen/statistics/3', made_by=_step('StatisticsGen'), verdicts=[
              Verdict(uri='/root/ExampleValidator/anomalies/4', made_by=_step('ExampleValidator')),
              Verdict(uri='/root/DataGate/result/6', made_by=_step('DataGate', 'run-1'),
                      passed=False, problems=['train split, feature "label": drift']),
              Verdict(uri='/root/DataGate/result/9', made_by=_step('DataGate', 'run-2'),
                      passed=True, accepted=True, problems=['train split, feature "label": drift']),
          ])])
  found = _lineage([backfilled, newest])
  assert found.spans == [2, 3]
  text = found.format()
  assert text.splitlines()[0] == 'Model version 1767261690: /out/serving/1767261690'
  for line in [
      '    settings: {"batch_size": 32, "epochs": 1}',
      '    warm-started from: /root/Trainer/model/3',
      '  evaluated: accuracy 0.8852 on 10000 examples, baseline 0.8700 (version 1700), blessed '
      '(Evaluator, run run-2)',
      '    transform graph: /root/Transform/transform_graph/7',
      '  schema: /root/ImportSchemaGen/schema/2',
      '  spans: 2-3',
      '    span 2: /root/span_2_example_gen/examples/5 (span_2_example_gen, run run-2)',
      '      statistics: none',
      '    span 3: /root/FileBasedExampleGen/examples/1 (FileBasedExampleGen, run run-2)',
      '      statistics: /root/StatisticsGen/statistics/3 (StatisticsGen, run run-2)',
      '      anomalies: /root/ExampleValidator/anomalies/4 (ExampleValidator, run run-2)',
      '      data gate (stopped): /root/DataGate/result/6 (DataGate, run run-1)',
      '      data gate (passed, anomalies accepted): /root/DataGate/result/9 (DataGate, run run-2)',
      '        - train split, feature "label": drift',
  ]:
    assert line in text.splitlines(), line


def test_a_first_model_has_no_baseline():
  found = dataclasses.replace(_lineage([]), baseline_accuracy=None, baseline_versions=[],
                              base_model_uri=None)
  text = found.format()
  assert ', no baseline, blessed' in text and 'warm-started' not in text


def test_the_model_config_files_labels_are_shown_under_the_version():
  lines = dataclasses.replace(_lineage([]), labels=['canary', 'stable']).format().splitlines()
  assert lines[:2] == ['Model version 1767261690: /out/serving/1767261690',
                       '  labels: canary, stable']
  assert not any('labels' in line for line in _lineage([]).format().splitlines())


def test_paths_whose_files_were_removed_say_so():
  found = dataclasses.replace(
      _lineage([]), accuracy=None, example_count=None, baseline_accuracy=None,
      removed=['/out/serving/1767261690', '/root/Trainer/model/8',
               '/root/Evaluator/evaluation/10'])
  lines = found.format().splitlines()
  assert lines[0] == 'Model version 1767261690: /out/serving/1767261690 (removed)'
  assert '    model: /root/Trainer/model/8 (removed)' in lines
  assert '    evaluation: /root/Evaluator/evaluation/10 (removed)' in lines
  assert '  evaluated: accuracy unknown (evaluation removed), blessed (Evaluator, run run-2)' \
      in lines
  assert '  schema: /root/ImportSchemaGen/schema/2' in lines
