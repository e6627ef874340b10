"""Reading the Evaluator's output: per-class precision and recall come from the confusion matrix."""

import numpy as np

from report import evaluation_results


def test_precision_and_recall_are_read_off_the_argmax_confusion_matrix():
  # Rows: true class; columns: predicted class.
  matrix = np.array([[8, 2, 0],
                     [1, 6, 3],
                     [0, 0, 0]], dtype=float)
  precision, recall = evaluation_results.per_class_precision_and_recall(matrix)
  np.testing.assert_allclose(precision, [8 / 9, 6 / 8, 0 / 3])
  np.testing.assert_allclose(recall[:2], [8 / 10, 6 / 10])
  assert np.isnan(recall[2])  # no test example of that class
