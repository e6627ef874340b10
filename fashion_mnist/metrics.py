"""Names of the evaluation metrics: set in the Evaluator's config, read by summaries and reports."""

ACCURACY = 'accuracy'
LOSS = 'loss'
EXAMPLE_COUNT = 'example_count'


def precision(class_id: int) -> str:
  return f'precision_{class_id}'


def recall(class_id: int) -> str:
  return f'recall_{class_id}'
