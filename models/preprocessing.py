"""Transform's preprocessing_fn: the tutorial's preprocessing as a TF Transform graph.

In: raw features `image` (784 int64 pixel values, 0-255) and `label` (int64, 0-9).
Out: `image` as float32 [28, 28] scaled by 1/255, and `label` unchanged. Transform exports this
graph, and the Trainer builds it into the serving model, so clients always send raw pixels.
"""

import tensorflow as tf

from fashion_mnist import features


def preprocessing_fn(inputs):
  """tf.Transform's callback: raw feature tensors in, transformed feature tensors out."""
  pixels = tf.cast(inputs[features.IMAGE_KEY], tf.float32) / features.MAX_PIXEL_VALUE
  return {
      features.IMAGE_KEY: tf.reshape(pixels, [-1, *features.IMAGE_SHAPE]),
      features.LABEL_KEY: inputs[features.LABEL_KEY],
  }
