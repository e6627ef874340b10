"""Reads an Evaluator (TFMA) output for the report: the overall metrics and the blessing's reasons
(mlmd/evaluation.py), and the confusion matrix with each class's precision and recall.

In: a ModelEvaluation artifact's folder. Out: an EvaluationResult.
"""

import dataclasses
from typing import List

import numpy as np

from fashion_mnist import features
from mlmd import evaluation


@dataclasses.dataclass(frozen=True)
class EvaluationResult:
  summary: evaluation.EvaluationSummary  # accuracy, loss, count, baseline, blessing failures
  precision: List[float]  # by class id
  recall: List[float]
  confusion_matrix: np.ndarray  # [10, 10] counts; rows the true class, columns the predicted


def _confusion_matrix(uri: str) -> np.ndarray:
  matrix = np.zeros((features.NUM_CLASSES, features.NUM_CLASSES))
  for slice_plots in evaluation.load_plots(uri):
    if slice_plots.slice_key.single_slice_keys:
      continue
    for key_value in slice_plots.plot_keys_and_values:
      if evaluation.is_baseline(key_value.key):
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


def load(uri: str) -> EvaluationResult:
  confusion_matrix = _confusion_matrix(uri)
  precision, recall = per_class_precision_and_recall(confusion_matrix)
  return EvaluationResult(summary=evaluation.summarize(uri), precision=precision, recall=recall,
                          confusion_matrix=confusion_matrix)
