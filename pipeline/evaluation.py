"""What the Evaluator computes and when it blesses a model (TFMA's EvalConfig)."""

# The config protos from their own module: TFMA 0.52 no longer exports them at the top level.
from tensorflow_model_analysis import constants as tfma_constants
from tensorflow_model_analysis.proto import config_pb2

from fashion_mnist import features
from fashion_mnist import metrics


def _named(class_name: str, name: str, **kwargs) -> config_pb2.MetricConfig:
  return config_pb2.MetricConfig(class_name=class_name, config=f'{{"name": "{name}"}}', **kwargs)


def eval_config(accuracy_threshold: float,
                max_accuracy_drop: float = 0.0) -> config_pb2.EvalConfig:
  """Accuracy, loss, count and the confusion matrix, overall and by label; a model is blessed
  when its overall accuracy is at least accuracy_threshold and at most max_accuracy_drop below
  the baseline's (the latest blessed model, when there is one)."""
  # Thresholds hold for the overall slice only: a weak class (Shirt is near 0.6) must not veto
  # a threshold meant for the whole test set.
  accuracy_thresholds = [
      config_pb2.PerSliceMetricThreshold(
          slicing_specs=[config_pb2.SlicingSpec()],
          threshold=config_pb2.MetricThreshold(
              value_threshold=config_pb2.GenericValueThreshold(
                  lower_bound={'value': accuracy_threshold}),
              change_threshold=config_pb2.GenericChangeThreshold(
                  direction=config_pb2.MetricDirection.HIGHER_IS_BETTER,
                  absolute={'value': -max_accuracy_drop})))
  ]
  return config_pb2.EvalConfig(
      model_specs=[
          # The type said, not found out: TFMA finds it by loading each model (candidate and
          # baseline) with Keras once more, 0.5-1 s a model.
          config_pb2.ModelSpec(model_type=tfma_constants.TF_KERAS,
                               signature_name=features.EXAMPLES_SIGNATURE,
                               label_key=features.LABEL_KEY,
                               prediction_key=features.PROBABILITIES_KEY)
      ],
      slicing_specs=[config_pb2.SlicingSpec(),
                     config_pb2.SlicingSpec(feature_keys=[features.LABEL_KEY])],
      metrics_specs=[
          config_pb2.MetricsSpec(metrics=[
              _named('ExampleCount', metrics.EXAMPLE_COUNT),
              _named('SparseCategoricalAccuracy', metrics.ACCURACY,
                     per_slice_thresholds=accuracy_thresholds),
              _named('SparseCategoricalCrossentropy', metrics.LOSS),
              # Per-class precision and recall are read off this matrix (report/): as 20 TFMA
              # metrics of their own they doubled the Evaluator's time.
              config_pb2.MetricConfig(class_name='MultiClassConfusionMatrixPlot'),
          ])
      ],
      # The model's compiled loss expects logits, but TFMA feeds it the probabilities output:
      # leave the compiled metrics out and compute the ones above from the probabilities.
      options=config_pb2.Options(include_default_metrics={'value': False}))
