"""The Trainer's model is the tutorial's, layer for layer, with the same compile settings."""

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from models import keras_autograph
from models import model as model_module
from fashion_mnist import features


def test_layers_are_flatten_dense128_relu_dense10_logits():
  model = model_module.build_model(learning_rate=0.001)
  assert model.input_shape == (None, *features.IMAGE_SHAPE)
  flatten, hidden, logits = model.layers
  assert isinstance(flatten, tf.keras.layers.Flatten)
  assert isinstance(hidden, tf.keras.layers.Dense) and hidden.units == 128
  assert hidden.activation is tf.keras.activations.relu
  assert isinstance(logits, tf.keras.layers.Dense) and logits.units == features.NUM_CLASSES
  assert logits.activation is tf.keras.activations.linear
  assert model.count_params() == 784 * 128 + 128 + 128 * 10 + 10


def test_compiled_with_adam_sparse_crossentropy_from_logits_and_accuracy():
  model = model_module.build_model(learning_rate=0.001)
  assert isinstance(model.optimizer, tf.keras.optimizers.Adam)
  assert np.isclose(float(model.optimizer.learning_rate), 0.001)
  assert isinstance(model.loss, tf.keras.losses.SparseCategoricalCrossentropy)
  assert model.loss.get_config()['from_logits'] is True
  assert model.compiled_metrics._user_metrics == ['accuracy']  # pylint: disable=protected-access


def test_uses_keras_2():
  assert tf.keras.__name__.startswith('tf_keras')


def test_autograph_calls_keras_2_and_transform_code_as_it_is():
  from tensorflow.python.autograph.core import config as autograph_config  # pylint: disable=g-import-not-at-top
  from tensorflow.python.autograph.impl import conversion  # pylint: disable=g-import-not-at-top
  assert keras_autograph.exempt_keras_and_transform_from_autograph()
  assert keras_autograph.exempt_keras_and_transform_from_autograph()
  assert conversion.is_allowlisted(tf.keras.Model.train_step)
  assert conversion.is_allowlisted(tft.TFTransformOutput.transform_raw_features)
  for package in ('tf_keras', 'tensorflow_transform'):
    assert sum(rule.matches(package) for rule in autograph_config.CONVERSION_RULES) == 1


def test_without_the_private_names_the_patch_warns_once_and_changes_nothing(monkeypatch, caplog):
  from tensorflow.python.autograph.core import config as autograph_config  # pylint: disable=g-import-not-at-top
  rules = autograph_config.CONVERSION_RULES
  monkeypatch.delattr(autograph_config, 'DoNotConvert')
  monkeypatch.setattr(keras_autograph, '_warned', False)
  assert not keras_autograph.exempt_keras_and_transform_from_autograph()
  assert not keras_autograph.exempt_keras_and_transform_from_autograph()
  assert autograph_config.CONVERSION_RULES is rules
  warnings = [r for r in caplog.records if 'AutoGraph will rewrite Keras 2' in r.getMessage()]
  assert len(warnings) == 1
