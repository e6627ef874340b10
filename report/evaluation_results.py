"""Reads an Evaluator (TFMA) output: the overall metrics, per-class metrics, confusion matrix, and
why a model was or was not blessed.

In: a ModelEvaluation artifact's folder. Out: an EvaluationResult.
"""

import dataclasses
from typing import Dict, List, Optional

import numpy as np
import tensorflow_model_analysis as tfma

from fashion_mnist import features
from fashion_mnist import metrics

_BASELINE_MODEL_NAME = 'baseline'  # what TFX's Evaluator names the baseline model


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
  accuracy: float
  loss: float
  example_count: int
  precision: List[float]  # by class id
  recall: List[float]
  confusion_matrix: np.ndarray  # [10, 10] counts; rows the true class, columns the predicted
  baseline_accuracy: Optional[float]  # None: evaluated without a baseline
  validation_ok: bool
  blessing_failures: List[str]  # one sentence per failed threshold


def _candidate_overall_metrics(uri: str) -> Dict[str, float]:
  """The overall slice's metrics of the candidate model (and 'baseline/<name>' of the baseline)."""
  values = {}
  for slice_metrics in tfma.load_metrics(uri):
    if slice_metrics.slice_key.single_slice_keys:
      continue
    for key_value in slice_metrics.metric_keys_and_values:
      if key_value.key.is_diff:
        continue
      prefix = 'baseline/' if key_value.key.model_name == _BASELINE_MODEL_NAME else ''
      values[prefix + key_value.key.name] = key_value.value.double_value.value
  return values


def _confusion_matrix(uri: str) -> np.ndarray:
  matrix = np.zeros((features.NUM_CLASSES, features.NUM_CLASSES))
  for slice_plots in tfma.load_plots(uri):
    if slice_plots.slice_key.single_slice_keys:
      continue
    for key_value in slice_plots.plot_keys_and_values:
      if key_value.key.model_name == _BASELINE_MODEL_NAME:
        continue
      # The plot's one matrix is at threshold 0: each example counted at its argmax class.
      (at_argmax,) = key_value.value.multi_class_confusion_matrix_at_thresholds.matrices
      for entry in at_argmax.entries:
        matrix[entry.actual_class_id, entry.predicted_class_id] = entry.num_weighted_examples
  return matrix


def per_class_precision_and_recall(matrix: np.ndarray):
  """Each class's precision (of the examples predicted as it) and recall (of its examples), from
  the argmax confusion matrix: what TFMA's Precision and Recall with top_k=1 compute. NaN where
  nothing was predicted as, or labelled, the class."""
  correct = np.diag(matrix)
  with np.errstate(invalid='ignore', divide='ignore'):
    return list(correct / matrix.sum(axis=0)), list(correct / matrix.sum(axis=1))


def _blessing_failures(validation: tfma.ValidationResult) -> List[str]:
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


def load(uri: str) -> EvaluationResult:
  values = _candidate_overall_metrics(uri)
  validation = tfma.load_validation_result(uri)
  confusion_matrix = _confusion_matrix(uri)
  precision, recall = per_class_precision_and_recall(confusion_matrix)
  return EvaluationResult(
      accuracy=values[metrics.ACCURACY],
      loss=values[metrics.LOSS],
      example_count=int(values[metrics.EXAMPLE_COUNT]),
      precision=precision,
      recall=recall,
      confusion_matrix=confusion_matrix,
      baseline_accuracy=values.get(f'baseline/{metrics.ACCURACY}'),
      validation_ok=validation.validation_ok,
      blessing_failures=_blessing_failures(validation))
