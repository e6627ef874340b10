"""Keeps AutoGraph from rewriting Keras 2's own code, for every tf.function that calls Keras.

In: nothing. Out: AutoGraph's conversion rules, with `tf_keras` among the packages it leaves alone.
"""

from tensorflow.python.autograph.core import config as autograph_config


def exempt_keras_from_autograph() -> None:
  """Tells AutoGraph to call Keras 2's own code as it is, as TF 2.16 already does for Keras 3.

  TF 2.16 lists the `keras` package among the libraries AutoGraph does not rewrite, but not
  `tf_keras`, the package Keras 2 now lives in (later TF versions add it). Without this rule each
  tf.function that calls into Keras (fit's training step, the metrics, the optimizer, the serving
  signatures) first has AutoGraph parse and rewrite that Keras source: 9 of the 10 s of the first
  epoch on a 2-core machine. Keras's code needs no rewriting: it is written for graph mode."""
  rule = autograph_config.DoNotConvert('tf_keras')
  if not any(str(existing) == str(rule) for existing in autograph_config.CONVERSION_RULES):
    autograph_config.CONVERSION_RULES = (*autograph_config.CONVERSION_RULES, rule)
