"""Trainer's run_fn: the tutorial's model, trained on transformed data, exported for serving.

In: the raw `train` examples of every span in the training window, the transform graph (Transform's
output) that turns them into the model's input, optionally a base model to start from (warm
start), and custom_config {'epochs', 'warm_start_epochs', 'batch_size', 'learning_rate', 'seed'}.
Out: a SavedModel in fn_args.serving_model_dir with two signatures, both running the transform
graph on raw pixels and returning `probabilities` (softmax), `class_id` and `class_name`:
`serving_default` takes serialized tf.Examples, `predict_images` a batch of 28x28 images (0-255).
TensorBoard logs go to fn_args.model_run_dir.
"""

import math

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from tfx_bsl.public import tfxio

from models import keras_autograph
from fashion_mnist import features

# The whole training window is read once into memory (60,000 x 784 floats is 188 MB) so that fit()
# sees exactly the tutorial's input: every example once per epoch, reshuffled each epoch.
_READ_BATCH_SIZE = 10_000


def build_model(learning_rate: float, steps_per_execution: int = 1) -> tf.keras.Model:
  """The tutorial's classifier: 28x28 -> Flatten -> Dense(128, relu) -> Dense(10) logits.

  steps_per_execution training steps run in one call of the compiled (XLA) training function: the
  same updates as one call per step, without a Python round trip between them."""
  if not tf.keras.__name__.startswith('tf_keras'):
    raise RuntimeError('Keras 2 is required (Transform and TFMA load the model with it): set '
                       'TF_USE_LEGACY_KERAS=1 before TensorFlow is imported')
  model = tf.keras.Sequential([
      tf.keras.layers.Input(shape=features.IMAGE_SHAPE, name=features.IMAGE_KEY),
      tf.keras.layers.Flatten(),
      tf.keras.layers.Dense(128, activation='relu'),
      tf.keras.layers.Dense(features.NUM_CLASSES),
  ])
  model.compile(
      optimizer=tf.keras.optimizers.Adam(learning_rate=learning_rate),
      loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
      metrics=['accuracy'],
      steps_per_execution=steps_per_execution,
      jit_compile=True)
  return model


def load_split(file_patterns, data_accessor, tf_transform_output):
  """Reads a split of raw examples through the transform graph into (images [N, 28, 28],
  labels [N]) arrays."""
  dataset = data_accessor.tf_dataset_factory(
      file_patterns,
      tfxio.TensorFlowDatasetOptions(batch_size=_READ_BATCH_SIZE, num_epochs=1, shuffle=False),
      tf_transform_output.raw_metadata.schema).map(
          tf_transform_output.transform_features_layer())
  batches = list(dataset.as_numpy_iterator())
  images = np.concatenate([batch[features.IMAGE_KEY] for batch in batches])
  labels = np.concatenate([batch[features.LABEL_KEY] for batch in batches]).reshape(-1)
  return images, labels


def serving_signatures(model: tf.keras.Model, tf_transform_output: tft.TFTransformOutput):
  """The two serving signatures: serialized tf.Examples and raw images, both through Transform."""
  # Tracked as an attribute so that the transform graph's assets are saved with the model.
  model.tft_layer = tf_transform_output.transform_features_layer()
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  raw_feature_spec.pop(features.LABEL_KEY)

  def predict(raw_features):
    transformed = model.tft_layer(raw_features)
    probabilities = tf.nn.softmax(model(transformed[features.IMAGE_KEY]))
    class_id = tf.argmax(probabilities, axis=1)
    return {
        features.PROBABILITIES_KEY: probabilities,
        features.CLASS_ID_KEY: class_id,
        features.CLASS_NAME_KEY: tf.gather(tf.constant(features.CLASS_NAMES), class_id),
    }

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name=features.EXAMPLES_INPUT_KEY)])
  def serve_examples(examples):
    return predict(tf.io.parse_example(examples, raw_feature_spec))

  @tf.function(input_signature=[
      tf.TensorSpec([None, *features.IMAGE_SHAPE], tf.float32, name=features.IMAGES_INPUT_KEY)])
  def predict_images(images):
    pixels = tf.cast(tf.round(images), tf.int64)
    return predict({features.IMAGE_KEY: tf.reshape(pixels, [-1, features.NUM_PIXELS])})

  return {
      features.EXAMPLES_SIGNATURE: serve_examples.get_concrete_function(),
      features.IMAGES_SIGNATURE: predict_images.get_concrete_function(),
  }


def load_weights(model: tf.keras.Model, saved_model_dir: str) -> None:
  """Gives model the weights of an earlier model of the same architecture (its SavedModel)."""
  base = tf.keras.models.load_model(saved_model_dir, compile=False)
  model.set_weights(base.get_weights())


def run_fn(fn_args):
  """TFX Trainer's callback: trains the model and saves it with its serving signatures.

  Evaluation is the Evaluator's job, on the test set: as in the tutorial, fit() sees only the
  training data."""
  keras_autograph.exempt_keras_from_autograph()
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  config = fn_args.custom_config
  train_images, train_labels = load_split(fn_args.train_files, fn_args.data_accessor,
                                          tf_transform_output)
  # Seeds the initial weights and the shuffling: the same inputs train the same model.
  tf.keras.utils.set_random_seed(config['seed'])
  # One call of the training function per epoch.
  model = build_model(config['learning_rate'],
                      steps_per_execution=math.ceil(len(train_labels) / config['batch_size']))
  epochs = config['epochs']
  if fn_args.base_model:
    load_weights(model, fn_args.base_model)
    epochs = config['warm_start_epochs']
    logging.info('Warm start from %s: %d epochs', fn_args.base_model, epochs)
  model.fit(
      train_images, train_labels,
      batch_size=config['batch_size'],
      epochs=epochs,
      callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)],
      verbose=2)
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=serving_signatures(model, tf_transform_output))
