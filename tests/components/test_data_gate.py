"""The data gate's verdicts, from its executor on statistics and anomalies written here as
StatisticsGen and ExampleValidator write them: clean data passes, drift or a schema anomaly stops
the run, and accepting anomalies lets it go on."""

import json
import os

import pytest
import tensorflow_data_validation as tfdv
from tensorflow_data_validation.utils import anomalies_util
from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.components.example_validator import executor as example_validator_executor
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from components import data_gate
from fashion_mnist import gate
from helpers import REPO_ROOT, compute_statistics, generated_split

_SPLITS = ('train', 'eval')


@pytest.fixture(scope='module')
def schema():
  return tfdv.load_schema_text(str(REPO_ROOT / 'schemas' / 'schema.pbtxt'))


def _artifact(artifact_class, uri):
  artifact = artifact_class()
  artifact.uri = str(uri)
  artifact.split_names = artifact_utils.encode_split_names(list(_SPLITS))
  return artifact


def _statistics(tmp_path, name, schema, by_split):
  """A StatisticsGen output of by_split's (images, labels) per split, and ExampleValidator's
  anomalies against the schema."""
  statistics = _artifact(standard_artifacts.ExampleStatistics, tmp_path / name / 'statistics')
  anomalies = _artifact(standard_artifacts.ExampleAnomalies, tmp_path / name / 'anomalies')
  for split, data in by_split.items():
    split_statistics = compute_statistics(*data, schema)
    os.makedirs(artifact_utils.get_split_uri([statistics], split))
    with open(os.path.join(artifact_utils.get_split_uri([statistics], split),
                           stats_artifact_utils.BINARY_PB_BASENAME), 'wb') as f:
      f.write(statistics_pb2.DatasetFeatureStatisticsList(
          datasets=[split_statistics]).SerializeToString())
    found = tfdv.validate_statistics(
        statistics_pb2.DatasetFeatureStatisticsList(datasets=[split_statistics]), schema,
        environment='TRAINING')
    os.makedirs(artifact_utils.get_split_uri([anomalies], split))
    with open(os.path.join(artifact_utils.get_split_uri([anomalies], split),
                           example_validator_executor.DEFAULT_FILE_NAME), 'wb') as f:
      f.write(found.SerializeToString())
  return statistics, anomalies


def _verdict(tmp_path, schema, current, previous=None, accept_anomalies=0):
  """Runs the gate's executor; returns its result artifact."""
  schema_artifact = standard_artifacts.Schema()
  schema_artifact.uri = str(tmp_path / 'schema')
  os.makedirs(schema_artifact.uri)
  tfdv.write_schema_text(schema, os.path.join(schema_artifact.uri,
                                              schema_gen_executor.DEFAULT_FILE_NAME))
  statistics, anomalies = _statistics(tmp_path, 'current', schema, current)
  inputs = {'statistics': [statistics], 'schema': [schema_artifact], 'anomalies': [anomalies]}
  if previous:
    inputs['previous_statistics'] = [_statistics(tmp_path, 'previous', schema, previous)[0]]
  result = standard_artifacts.ExampleAnomalies()
  result.uri = str(tmp_path / 'result')
  executor = data_gate.DataGate.EXECUTOR_SPEC.executor_class()
  executor.Do(inputs, {'result': [result]}, {'accept_anomalies': accept_anomalies})
  return result


def _problems(result):
  return json.loads(result.get_string_custom_property(gate.PROBLEMS))


def _data(seed, skew=0.0, labels_mod=None):
  by_split = {}
  for split, count in zip(_SPLITS, (400, 200)):
    images, labels = generated_split(count, seed + len(by_split), skew)
    if labels_mod is not None and split == 'train':
      labels = labels % labels_mod
    by_split[split] = (images, labels)
  return by_split


def test_clean_data_like_the_previous_run_passes(tmp_path, schema):
  result = _verdict(tmp_path, schema, _data(1), previous=_data(2))
  assert result.get_int_custom_property(gate.PASSED) == 1
  assert result.get_int_custom_property(gate.ACCEPTED) == 0
  assert _problems(result) == []
  drift = json.loads(result.get_string_custom_property(gate.DRIFT))
  # Every split was compared, each within its threshold.
  assert {(d['split'], d['feature']) for d in drift} >= {('train', 'label'), ('eval', 'label')}
  assert all(d['value'] <= d['threshold'] for d in drift)


def test_label_drift_stops_the_run_and_is_written_in_validator_s_format(tmp_path, schema):
  result = _verdict(tmp_path, schema, _data(1, labels_mod=2), previous=_data(2))
  assert result.get_int_custom_property(gate.PASSED) == 0
  (problem,) = _problems(result)
  assert problem.startswith('train split, feature "label": ') and 'Linfty' in problem
  written = anomalies_util.load_anomalies_binary(os.path.join(
      artifact_utils.get_split_uri([result], 'train'),
      example_validator_executor.DEFAULT_FILE_NAME))
  assert 'label' in written.anomaly_info


def test_a_schema_anomaly_stops_even_a_first_run(tmp_path, schema):
  data = _data(1)
  images, labels = data['eval']
  data['eval'] = (images, labels + 5)  # labels up to 14: outside the schema's 0-9
  result = _verdict(tmp_path, schema, data)
  assert result.get_int_custom_property(gate.PASSED) == 0
  assert [p.split(':')[0] for p in _problems(result)] == ['eval split, feature "label"']


def test_accepted_anomalies_let_the_run_go_on_and_say_so(tmp_path, schema):
  result = _verdict(tmp_path, schema, _data(1, labels_mod=2), previous=_data(2),
                    accept_anomalies=1)
  assert result.get_int_custom_property(gate.PASSED) == 1
  assert result.get_int_custom_property(gate.ACCEPTED) == 1
  assert len(_problems(result)) == 1
