"""Reads the Evaluator's output (TFMA's metrics, plots and validation result) without TensorFlow.

In: a ModelEvaluation artifact's folder. Out: its records as TFMA's own protos (MetricsForSlice,
PlotsForSlice, ValidationResult), and an EvaluationSummary: the candidate's overall metrics, the
baseline's accuracy, and why the model was or was not blessed.

TFMA's readers (tfma.load_metrics and the like) import TensorFlow to read a few hundred bytes: 5 s
or more of every `fashion-pipeline runs`. TFMA writes each record as an uncompressed TFRecord of
one serialized proto; this reads the TFRecord framing itself and parses with TFMA's generated
proto modules, loaded without TFMA's package (see _tfma_proto).
"""

import dataclasses
import functools
import glob
import importlib
import importlib.util
import os
import struct
import sys
import types
from typing import Dict, Iterator, List, Optional

from fashion_mnist import metrics

_TFMA = 'tensorflow_model_analysis'
_BASELINE_MODEL_NAME = 'baseline'  # what TFX's Evaluator names the baseline model
# TFMA's file names in the folder (tfma.constants METRICS_KEY, PLOTS_KEY, VALIDATIONS_KEY).
_METRICS, _PLOTS, _VALIDATIONS = 'metrics', 'plots', 'validations'


# What TFMA's proto files import, loaded first: TFMA 0.52's generated modules (TFX 1.21) do not
# import their dependencies themselves (TFMA's package __init__ happens to load them first), so on
# their own they fail with "Depends on file 'google/protobuf/wrappers.proto', but it has not been
# loaded". TFMA 0.47's modules import them; loading them again is a no-op.
_PROTO_DEPENDENCIES = ('google.protobuf.wrappers_pb2', f'{_TFMA}.proto.config_pb2',
                       f'{_TFMA}.proto.metrics_for_slice_pb2')


def _tfma_proto(name: str):
  """TFMA's generated module tensorflow_model_analysis.proto.<name> (e.g. metrics_for_slice_pb2).

  Importing it normally would first run TFMA's package __init__, which imports TensorFlow. The
  generated modules themselves need only protobuf, so when TFMA is not imported yet its two
  package modules are stood in for by empty packages over the same folders while the proto
  modules load, and removed again: a later `import tensorflow_model_analysis` is the real one
  (and finds these proto modules already loaded, the same classes)."""
  if _TFMA in sys.modules:
    return importlib.import_module(f'{_TFMA}.proto.{name}')
  spec = importlib.util.find_spec(_TFMA)
  stand_ins = {}
  for package, folder in ((_TFMA, spec.submodule_search_locations[0]),
                          (f'{_TFMA}.proto', os.path.join(spec.submodule_search_locations[0],
                                                          'proto'))):
    stand_ins[package] = types.ModuleType(package)
    stand_ins[package].__path__ = [folder]
  sys.modules.update(stand_ins)
  try:
    for dependency in _PROTO_DEPENDENCIES:
      importlib.import_module(dependency)
    return importlib.import_module(f'{_TFMA}.proto.{name}')
  finally:
    for package in stand_ins:
      del sys.modules[package]


def _records(path: str) -> Iterator[bytes]:
  """The records of an uncompressed TFRecord file: each is a little-endian uint64 length, its
  CRC, the data and the data's CRC. (The CRCs are not checked: a cut file still fails, on its
  length.)"""
  with open(path, 'rb') as f:
    data = f.read()
  offset = 0
  while offset < len(data):
    (length,) = struct.unpack_from('<Q', data, offset)
    start, offset = offset + 12, offset + 12 + length + 4
    if offset > len(data):
      raise ValueError(f'{path}: a TFRecord cut short at byte {len(data)}')
    yield data[start:start + length]


def _read(uri: str, prefix: str, message_class) -> List:
  return [message_class.FromString(record)
          for path in sorted(glob.glob(os.path.join(uri, f'{prefix}*')))
          for record in _records(path)]


def load_metrics(uri: str) -> List:
  """Every slice's MetricsForSlice."""
  return _read(uri, _METRICS, _tfma_proto('metrics_for_slice_pb2').MetricsForSlice)


def load_plots(uri: str) -> List:
  """Every slice's PlotsForSlice."""
  return _read(uri, _PLOTS, _tfma_proto('metrics_for_slice_pb2').PlotsForSlice)


def load_validation_result(uri: str):
  """The ValidationResult: whether the model passed its thresholds, and each failure."""
  (result,) = _read(uri, _VALIDATIONS, _tfma_proto('validation_result_pb2').ValidationResult)
  return result


def is_baseline(metric_key) -> bool:
  return metric_key.model_name == _BASELINE_MODEL_NAME


@dataclasses.dataclass(frozen=True)
class EvaluationSummary:
  accuracy: float
  loss: float
  example_count: int
  baseline_accuracy: Optional[float]  # None: evaluated without a baseline
  validation_ok: bool
  blessing_failures: List[str]  # one sentence per failed threshold


def _overall_metrics(uri: str) -> Dict[str, float]:
  """The overall slice's metrics of the candidate model (and 'baseline/<name>' of the baseline)."""
  values = {}
  for slice_metrics in load_metrics(uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue
    for key_value in slice_metrics.metric_keys_and_values:
      if key_value.key.is_diff:
        continue
      prefix = 'baseline/' if is_baseline(key_value.key) else ''
      values[prefix + key_value.key.name] = key_value.value.double_value.value
  return values


def _blessing_failures(validation) -> List[str]:
  failures = []
  for slice_validation in validation.metric_validations_per_slice:
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


@functools.cache
def summarize(uri: str) -> EvaluationSummary:
  """The evaluation in uri, read once (a fully cached run has its predecessor's)."""
  values = _overall_metrics(uri)
  validation = load_validation_result(uri)
  return EvaluationSummary(
      accuracy=values[metrics.ACCURACY],
      loss=values[metrics.LOSS],
      example_count=int(values[metrics.EXAMPLE_COUNT]),
      baseline_accuracy=values.get(f'baseline/{metrics.ACCURACY}'),
      validation_ok=validation.validation_ok,
      blessing_failures=_blessing_failures(validation))
