"""The pipeline compiles for Kubeflow Pipelines v2 / Vertex AI into a spec that holds every step,
with the local pipeline's dependencies, in the given image."""

import json

import pytest

from helpers import run_cli

IMAGE = 'europe-docker.pkg.dev/project/repo/fashion-pipeline:1.0'
DATA_DIR = '/gcs/bucket/fashion-mnist'
SERVING_DIR = 'gs://bucket/serving'


@pytest.fixture(scope='module')
def spec(tmp_path_factory):
  tmp = tmp_path_factory.mktemp('kubeflow')
  output = tmp / 'pipeline.json'
  result = run_cli('compile', '--target', 'kubeflow', '--image', IMAGE, '--output', str(output),
                   '--data-dir', DATA_DIR, '--pipeline-root', str(tmp / 'root'),
                   '--serving-dir', SERVING_DIR, '--with-spans')
  assert result.returncode == 0, result.stderr[-5000:]
  assert result.stdout.strip() == str(output)
  return json.loads(output.read_text())['pipelineSpec']


def _tasks(spec):
  return spec['root']['dag']['tasks']


def _parameter(task, name):
  return task['inputs']['parameters'][name]['runtimeValue']['constantValue']['stringValue']


def test_every_component_is_a_task(spec):
  assert set(_tasks(spec)) == {
      'FileBasedExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
      'previous_statistics_resolver', 'DataGate', 'analyzer_cache_resolver', 'Transform',
      'Trainer', 'baseline_model_resolver-model-resolver',
      'baseline_model_resolver-model-blessing-resolver', 'Evaluator', 'Pusher', 'RunReport'}


def test_dependencies_are_the_local_pipelines(spec):
  depends = {name: set(task.get('dependentTasks', [])) for name, task in _tasks(spec).items()}
  assert depends['StatisticsGen'] == {'FileBasedExampleGen', 'ImportSchemaGen'}
  assert depends['ExampleValidator'] == {'StatisticsGen', 'ImportSchemaGen'}
  assert {'ExampleValidator', 'StatisticsGen',
          'previous_statistics_resolver'} <= depends['DataGate']
  assert {'DataGate', 'FileBasedExampleGen', 'analyzer_cache_resolver'} <= depends['Transform']
  assert {'DataGate', 'Transform'} <= depends['Trainer']
  assert {'Trainer', 'FileBasedExampleGen',
          'baseline_model_resolver-model-resolver'} <= depends['Evaluator']
  assert {'Trainer', 'Evaluator'} <= depends['Pusher']
  assert {'DataGate', 'Pusher', 'Evaluator'} <= depends['RunReport']


def test_training_runs_only_when_the_data_gate_passed(spec):
  for name in ('Transform', 'Trainer', 'Evaluator', 'Pusher'):
    assert 'DataGate.result' in _tasks(spec)[name]['triggerPolicy']['condition']
  assert 'triggerPolicy' not in _tasks(spec)['RunReport']


def test_every_step_runs_in_the_image(spec):
  containers = [executor['container'] for executor in spec['deploymentSpec']['executors'].values()
                if 'container' in executor]
  assert len(containers) == 10  # every task but the resolvers, which are ML Metadata queries
  assert {container['image'] for container in containers} == {IMAGE}


def test_places_are_the_containers(spec):
  example_gen = _tasks(spec)['FileBasedExampleGen']
  assert _parameter(example_gen, 'input_base') == DATA_DIR
  assert 'span-{SPAN}/train-*-ubyte.gz' in _parameter(example_gen, 'input_config')
  assert SERVING_DIR in _parameter(_tasks(spec)['Pusher'], 'push_destination')


def test_a_window_of_spans_is_refused(tmp_path):
  result = run_cli('compile', '--target', 'kubeflow', '--image', IMAGE, '--output',
                   str(tmp_path / 'pipeline.json'), '--data-dir', DATA_DIR, '--spans', '3')
  assert result.returncode == 2
  assert 'a Kubeflow pipeline trains on the newest span only' in result.stderr
  assert not (tmp_path / 'pipeline.json').exists()
