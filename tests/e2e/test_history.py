"""`fashion-pipeline runs` and `lineage` on real runs of a small generated dataset, through the
command line: a first run that trains and pushes, a second with nothing changed (run with --rerun,
so that TFX's cache answers it: fully cached), and
a third on drifted data that the data gate stops. Then the span bookkeeping on a copy of that ML
Metadata in which the data is span 3 and both runs' Transform also read an older span 2 ingested
by an ExampleGen of its own, as a training window of two spans does.
"""

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from fashion_mnist import dataset
from fashion_mnist import idx
from helpers import run_cli, write_dataset
from pipeline import configs
from mlmd import lineage
from mlmd import run_summary
from mlmd import store as mlmd_store

pytestmark = pytest.mark.e2e


def _run(data_dir, output_dir, *extra):
  return run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir),
                 '--epochs', '1', '--accuracy-threshold', '0.5', *extra)


@pytest.fixture(scope='module')
def output_dir(tmp_path_factory):
  root = tmp_path_factory.mktemp('history')
  data_dir = write_dataset(root / 'data')
  for extra in ((), ('--rerun',)):
    result = _run(data_dir, root / 'out', *extra)
    assert result.returncode == 0, result.stderr[-5000:]
  # Training labels collapsed to two classes: drift, so the data gate stops the run.
  drifted = write_dataset(root / 'drifted')
  labels = idx.read_labels(drifted / dataset.TRAIN.labels_file)
  idx.write_labels(drifted / dataset.TRAIN.labels_file, labels % 2)
  result = _run(drifted, root / 'out')
  assert result.returncode == 1, result.stderr[-5000:]
  return root / 'out'


@pytest.fixture(scope='module')
def version(output_dir):
  (version,) = [p.name for p in (output_dir / 'serving').iterdir()]
  return version


def _history(output_dir, metadata_path=None):
  return run_summary.history(
      configs.build(output_dir=output_dir, metadata_path=metadata_path, environ={}))


def test_runs_lists_each_run_with_its_states_spans_and_outcome(output_dir, version):
  result = run_cli('runs', '--output-dir', str(output_dir))
  assert result.returncode == 0, result.stderr[-3000:]
  header, first, cached, stopped = result.stdout.splitlines()
  assert header.split() == ['RUN', 'STARTED', 'DURATION', 'SPANS', 'COMPONENTS', 'ACCURACY',
                            'BLESSED', 'PUSHED', 'NOTE']
  summaries = _history(output_dir)
  accuracy = f'{summaries[0].accuracy:.4f}'
  assert summaries[0].accuracy > 0.5
  # RUN, STARTED (date and time), DURATION, then:
  assert first.startswith(summaries[0].run_id + ' ')
  assert first.split()[4:] == ['0', 'all', 'ran', accuracy, 'yes', version]
  assert cached.startswith(summaries[1].run_id + ' ')
  assert cached.split()[4:] == ['0', 'all', 'cached', accuracy, 'yes', version, '(cached)']
  assert stopped.startswith(summaries[2].run_id + ' ')
  assert stopped.split()[-8:] == ['-', '-', '-', 'stopped', 'at', 'the', 'data', 'gate']
  assert stopped.split()[4] == '0'
  # The order is the order the runs started in.
  assert [s.started for s in summaries] == sorted(s.started for s in summaries)


def test_runs_as_json(output_dir, version):
  result = run_cli('runs', '--output-dir', str(output_dir), '--json')
  assert result.returncode == 0, result.stderr[-3000:]
  runs = json.loads(result.stdout)
  assert [run['spans'] for run in runs] == [[0], [0], [0]]
  assert [run['pushed_version'] for run in runs] == [version, version, None]
  assert [run['blessed'] for run in runs] == [True, True, None]
  assert {c['state'] for c in runs[1]['components'] if not c['is_resolver']} == {'cached'}
  assert runs[2]['gate_passed'] is False


def test_lineage_names_the_span_statistics_schema_transform_graph_and_training_run(
    output_dir, version):
  result = run_cli('lineage', version, '--output-dir', str(output_dir))
  assert result.returncode == 0, result.stderr[-3000:]
  lines = result.stdout.splitlines()
  first_run = _history(output_dir)[0]
  root = output_dir / 'pipeline_root'
  assert lines[0] == f'Model version {version}: {output_dir}/serving/{version}'
  assert f'(Trainer, run {first_run.run_id})' in lines[2]
  assert ('    settings: {"batch_size": 32, "cache_budget_mb": 256, "epochs": 1, '
          '"learning_rate": 0.001') in lines[3]
  assert f'  evaluated: accuracy {first_run.accuracy:.4f} on 200 examples, no baseline, blessed' \
      in result.stdout
  assert '  spans: 0' in lines

  def uri(label):
    (line,) = [line for line in lines if line.strip().startswith(label)]
    path = line.split(': ', 1)[1].split(' (')[0]
    assert Path(path).exists(), line
    return path

  assert uri('span 0:').startswith(f'{root}/FileBasedExampleGen/examples/')
  assert uri('statistics:').startswith(f'{root}/StatisticsGen/statistics/')
  assert uri('anomalies:').startswith(f'{root}/ExampleValidator/anomalies/')
  assert uri('data gate (passed):').startswith(f'{root}/DataGate/result/')
  assert uri('schema:').startswith(f'{root}/ImportSchemaGen/schema/')
  assert uri('transform graph:').startswith(f'{root}/Transform/transform_graph/')
  assert uri('model:').startswith(f'{root}/Trainer/model/')


def test_runs_lineage_and_if_new_data_import_no_tensorflow(output_dir, version):
  # The commands in one fresh process, which then lists what it imported.
  script = f'''
import sys
import pipeline_runner
for argv in (['runs', '--output-dir', {str(output_dir)!r}],
             ['lineage', {version!r}, '--output-dir', {str(output_dir)!r}],
             ['run', '--if-new-data', '--data-dir', {str(output_dir.parent / 'data')!r},
              '--output-dir', {str(output_dir)!r}]):
  assert pipeline_runner.main(argv) == 0, argv
print(sorted(sys.modules))
'''
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  *printed, imported = result.stdout.splitlines()
  assert printed[0].split()[0] == 'RUN' and printed[-1].startswith('No new data: ')
  assert any(line.startswith(f'Model version {version}: ') for line in printed)
  imported = set(ast.literal_eval(imported))
  # TFMA's generated proto modules are read (mlmd/evaluation.py), its package is not imported.
  assert not imported & {'tensorflow', 'tfx', 'tensorflow_model_analysis', 'apache_beam'}
  assert {'ml_metadata', 'tensorflow_model_analysis.proto.metrics_for_slice_pb2'} <= imported


def test_lineage_of_an_unknown_version_is_a_one_line_error(output_dir, version):
  result = run_cli('lineage', '42', '--output-dir', str(output_dir))
  assert result.returncode == 2
  assert result.stderr == (f'fashion-pipeline: error: {output_dir}/metadata.sqlite: no model '
                           f'version 42 was pushed (versions pushed: {version})\n')


def _add_span_2_to_the_window(metadata_path, span_2_uri):
  """Makes the first run's ExampleGen output span 3, and adds a span 2 ingested in the first run
  by an ExampleGen of its own and read by both runs' Transform (the second's is cached)."""
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(metadata_path)
  store = metadata_store.MetadataStore(connection)
  first_run, second_run = sorted(store.get_contexts_by_type('pipeline_run'), key=lambda c: c.id)[:2]
  executions = {run.id: dict(mlmd_store.component_executions(store, run))
                for run in (first_run, second_run)}
  example_gen = executions[first_run.id]['FileBasedExampleGen']
  (span_3,) = mlmd_store.artifacts_of(store, example_gen.id,
                                       metadata_store_pb2.Event.OUTPUT)['examples']
  span_3.custom_properties['span'].int_value = 3
  store.put_artifacts([span_3])

  span_2 = metadata_store_pb2.Artifact(type_id=span_3.type_id, uri=span_2_uri,
                                       state=metadata_store_pb2.Artifact.LIVE)
  span_2.custom_properties['span'].int_value = 2
  (node,) = [c for c in store.get_contexts_by_execution(example_gen.id) if c.type == 'node']
  (pipeline,) = store.get_contexts_by_type('pipeline')
  [backfill_node] = store.get_contexts_by_id(store.put_contexts([metadata_store_pb2.Context(
      type_id=node.type_id, name=f'{pipeline.name}.span_2_example_gen')]))
  made = metadata_store_pb2.Event(type=metadata_store_pb2.Event.OUTPUT)
  made.path.steps.add().key = 'examples'
  made.path.steps.add().index = 0
  _, [span_2_id], _ = store.put_execution(
      metadata_store_pb2.Execution(type_id=example_gen.type_id,
                                   last_known_state=metadata_store_pb2.Execution.COMPLETE),
      [(span_2, made)],
      [pipeline, first_run, backfill_node])
  reads = []
  for run in (first_run, second_run):
    read = metadata_store_pb2.Event(artifact_id=span_2_id, type=metadata_store_pb2.Event.INPUT,
                                    execution_id=executions[run.id]['Transform'].id)
    read.path.steps.add().key = 'examples'
    read.path.steps.add().index = 1
    reads.append(read)
  store.put_events(reads)


def test_spans_of_a_training_window(output_dir, version, tmp_path):
  metadata_path = tmp_path / 'metadata.sqlite'
  shutil.copy(output_dir / 'metadata.sqlite', metadata_path)
  _add_span_2_to_the_window(metadata_path, str(tmp_path / 'span-2'))
  first, cached, stopped = _history(output_dir, metadata_path)
  assert first.spans == [2, 3]
  # Its Transform read span 2 (from the cache), though its own ExampleGen output only span 3.
  assert cached.spans == [2, 3]
  # No Transform ran: the span its ExampleGen ingested.
  assert stopped.spans == [0]
  table = run_summary.format_table([first, cached, stopped]).splitlines()
  assert [line.split()[4] for line in table[1:]] == ['2-3', '2-3', '0']

  found = lineage.trace(configs.build(output_dir=output_dir, metadata_path=metadata_path,
                                      environ={}), version)
  assert found.spans == [2, 3]
  span_2, span_3 = found.examples
  assert span_2.uri == str(tmp_path / 'span-2') and span_2.statistics == []
  assert (span_2.made_by.component_id, span_2.made_by.run_id) == ('span_2_example_gen',
                                                                  first.run_id)
  (statistics,) = span_3.statistics
  assert statistics.made_by.component_id == 'StatisticsGen'
  assert [(v.made_by.component_id, v.passed) for v in statistics.verdicts] == [
      ('ExampleValidator', None), ('DataGate', True)]
  text = found.format()
  assert '  spans: 2-3' in text and f'    span 2: {tmp_path}/span-2 (span_2_example_gen' in text
