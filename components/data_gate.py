"""The data gate: stops the pipeline before Transform and Trainer when the data has anomalies.

In: this run's statistics (StatisticsGen), the schema, ExampleValidator's anomalies, and optionally
the previous run's statistics; the parameter accept_anomalies.
Out: an ExampleAnomalies artifact holding, per split, ExampleValidator's schema anomalies plus the
drift anomalies found against the previous run's statistics (with the schema's drift comparators),
in ExampleValidator's format (Split-<name>/SchemaDiff.pb), and the verdict as custom properties
(fashion_mnist/gate.py): passed, accepted, problems, drift.
Transform and everything after it run only when passed is 1 (see pipeline/pipeline.py).
"""

import json
import os
from typing import List

import tensorflow_data_validation as tfdv
from tensorflow_data_validation.utils import anomalies_util
from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx.components.example_validator import executor as example_validator_executor
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.dsl.component.experimental.annotations import InputArtifact
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.types import artifact_utils
from tfx.types import standard_artifacts

from fashion_mnist import gate

# ExampleValidator's file name for anomalies: ours are written the same way, so tools read both.
_ANOMALIES_FILE = example_validator_executor.DEFAULT_FILE_NAME
_TRAINING_ENVIRONMENT = 'TRAINING'
_MEASURE_NAMES = {
    anomalies_pb2.DriftSkewInfo.Measurement.L_INFTY: 'L-infinity distance',
    anomalies_pb2.DriftSkewInfo.Measurement.JENSEN_SHANNON_DIVERGENCE:
        'Jensen-Shannon divergence',
}


def _split_statistics(artifact, split: str):
  return tfdv.load_stats_binary(
      os.path.join(artifact_utils.get_split_uri([artifact], split),
                   stats_artifact_utils.BINARY_PB_BASENAME))


def _add_drift(found: anomalies_pb2.Anomalies, drift: anomalies_pb2.Anomalies) -> None:
  """Adds the drift anomalies (comparator reasons) and measurements of `drift` to `found`."""
  found.drift_skew_info.extend(drift.drift_skew_info)
  for feature, info in drift.anomaly_info.items():
    reasons = [r for r in info.reason
               if anomalies_pb2.AnomalyInfo.Type.Name(r.type).startswith('COMPARATOR_')]
    if reasons:
      target = found.anomaly_info[feature]
      target.severity = max(target.severity, info.severity)
      target.description = ' '.join(filter(None, [target.description, info.description]))
      target.reason.extend(reasons)


def describe(split: str, found: anomalies_pb2.Anomalies) -> List[str]:
  """One sentence per anomalous feature (or the dataset as a whole), for people."""
  sentences = [f'{split} split, feature "{feature}": {info.description}'
               for feature, info in sorted(found.anomaly_info.items())]
  if found.HasField('dataset_anomaly_info'):
    sentences.append(f'{split} split: {found.dataset_anomaly_info.description}')
  return sentences


def _drift_checks(split: str, found: anomalies_pb2.Anomalies):
  return [{
      'split': split,
      'feature': '.'.join(info.path.step),
      'measure': _MEASURE_NAMES.get(m.type, anomalies_pb2.DriftSkewInfo.Measurement.Type.Name(
          m.type)),
      'value': m.value,
      'threshold': m.threshold,
  } for info in found.drift_skew_info for m in info.drift_measurements]


@component
def DataGate(
    statistics: InputArtifact[standard_artifacts.ExampleStatistics],
    schema: InputArtifact[standard_artifacts.Schema],
    anomalies: InputArtifact[standard_artifacts.ExampleAnomalies],
    result: OutputArtifact[standard_artifacts.ExampleAnomalies],
    previous_statistics: InputArtifact[standard_artifacts.ExampleStatistics] = None,
    accept_anomalies: Parameter[int] = 0,
):
  """Combines schema and drift anomalies per split and decides whether training may go on."""
  schema_proto = tfdv.load_schema_text(
      os.path.join(schema.uri, schema_gen_executor.DEFAULT_FILE_NAME))
  splits = artifact_utils.decode_split_names(statistics.split_names)
  previous_splits = (artifact_utils.decode_split_names(previous_statistics.split_names)
                     if previous_statistics is not None else [])
  result.split_names = statistics.split_names
  problems, drift_checks = [], []
  for split in splits:
    found = anomalies_util.load_anomalies_binary(
        os.path.join(artifact_utils.get_split_uri([anomalies], split), _ANOMALIES_FILE))
    if split in previous_splits:
      _add_drift(found, tfdv.validate_statistics(
          _split_statistics(statistics, split), schema_proto,
          environment=_TRAINING_ENVIRONMENT,
          previous_statistics=_split_statistics(previous_statistics, split)))
    output_dir = artifact_utils.get_split_uri([result], split)
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, _ANOMALIES_FILE), 'wb') as f:
      f.write(found.SerializeToString())
    problems.extend(describe(split, found))
    drift_checks.extend(_drift_checks(split, found))
  result.set_int_custom_property(gate.PASSED, int(not problems or bool(accept_anomalies)))
  result.set_int_custom_property(gate.ACCEPTED, int(bool(problems) and bool(accept_anomalies)))
  result.set_string_custom_property(gate.PROBLEMS, json.dumps(problems))
  result.set_string_custom_property(gate.DRIFT, json.dumps(drift_checks))
