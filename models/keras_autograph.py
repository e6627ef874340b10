"""Keeps AutoGraph from rewriting Keras 2's and TensorFlow Transform's own code, for every
tf.function that calls them.

In: nothing. Out: AutoGraph's conversion rules, with `tf_keras` and `tensorflow_transform` among
the packages it leaves alone;
or, when this TensorFlow no longer has the private names the rule is added through, a warning
(logged once) and the rules as they were: training is then slower, never different.
"""

import logging

_PRIVATE_MODULE = 'tensorflow.python.autograph.core.config'
_warned = False
# Keras 2, and TensorFlow Transform, whose Keras layer (the transform graph in the Trainer's input
# and in the serving signatures) calls TFT's own code: AutoGraph rewrote that code for every
# function that runs the layer, 2.2 s of the Trainer's 17 s (py-spy), though it needs no rewriting.
_GRAPH_MODE_PACKAGES = ('tf_keras', 'tensorflow_transform')


def _autograph_config():
  """TensorFlow's private module of AutoGraph's rules, or None when it lacks what we use."""
  try:
    # pylint: disable=g-import-not-at-top
    from tensorflow.python.autograph.core import config as autograph_config
  except ImportError:
    return None
  if not (hasattr(autograph_config, 'CONVERSION_RULES')
          and hasattr(autograph_config, 'DoNotConvert')):
    return None
  return autograph_config


def exempt_keras_and_transform_from_autograph() -> bool:
  """Tells AutoGraph to call Keras 2's and TFT's own code as it is, as TF 2.16 already does for
  Keras 3; returns whether the rules are in place.

  TF 2.16 lists the `keras` package among the libraries AutoGraph does not rewrite, but not
  `tf_keras`, the package Keras 2 now lives in (later TF versions add it). Without this rule each
  tf.function that calls into Keras (fit's training step, the metrics, the optimizer, the serving
  signatures) first has AutoGraph parse and rewrite that Keras source: 9 of the 10 s of the first
  epoch on a 2-core machine. Keras's code needs no rewriting: it is written for graph mode."""
  global _warned
  autograph_config = _autograph_config()
  if autograph_config is None:
    if not _warned:
      logging.warning('%s has no CONVERSION_RULES or DoNotConvert in this TensorFlow: AutoGraph '
                      'will rewrite Keras 2 code (slower first epochs, the same results)',
                      _PRIVATE_MODULE)
      _warned = True
    return False
  for package in _GRAPH_MODE_PACKAGES:
    rule = autograph_config.DoNotConvert(package)
    if not any(str(existing) == str(rule) for existing in autograph_config.CONVERSION_RULES):
      autograph_config.CONVERSION_RULES = (*autograph_config.CONVERSION_RULES, rule)
  return True
