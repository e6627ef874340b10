"""Names of the evaluation metrics: set in the Evaluator's config, read by summaries and reports."""

ACCURACY = 'accuracy'
LOSS = 'loss'
EXAMPLE_COUNT = 'example_count'

