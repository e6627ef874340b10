"""Trainer's run_fn: the tutorial's model, trained on transformed data, exported for serving.

In: the raw `train` examples of every span in the training window, the transform graph (Transform's
output) that turns them into the model's input, optionally a base model to start from (warm
start), and custom_config {'epochs', 'warm_start_epochs', 'batch_size', 'learning_rate', 'seed',
'cache_budget_mb'}.
Out: a SavedModel in fn_args.serving_model_dir with two signatures, both running the transform
graph on raw pixels and returning `probabilities` (softmax), `class_id` and `class_name`:
`serving_default` takes serialized tf.Examples, `predict_images` a batch of 28x28 images (0-255).
TensorBoard logs go to fn_args.model_run_dir.

Either way fit() makes the tutorial's updates: every example once per epoch, in a new order each
epoch, ceil(N / batch size) steps an epoch, one compiled call per epoch. A window whose transformed
pixels fit in cache_budget_mb is read once into memory and reshuffled whole each epoch; a larger
one is streamed from the files each epoch (see streaming_dataset), so memory stays flat as the
window grows.
"""

import math
from typing import List, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from models import keras_autograph
from fashion_mnist import features

# ExampleGen's contract: gzipped TFRecords of serialized tf.Examples.
_COMPRESSION = 'GZIP'
# What one example takes in memory once transformed: 784 float32 pixels and an int64 label.
_TRANSFORMED_BYTES_PER_EXAMPLE = features.NUM_PIXELS * 4 + 8
# Examples parsed and transformed per call when reading the window into memory (31 MB of floats).
_READ_BATCH_SIZE = 10_000
# The streaming shuffle buffer, in serialized examples: a real one is about 1.2 kB (a gzipped
# span of 60,000 is 30 MB, 72 MB unzipped), so 50,000 take about 60 MB, whatever the window.
_SHUFFLE_BUFFER_EXAMPLES = 50_000
# Files read at once when streaming, round-robin (ExampleGen writes one file per span and split).
_MAX_INTERLEAVED_FILES = 16
_PREFETCH_BATCHES = 4


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


def window_files(file_patterns: Sequence[str]) -> List[str]:
  """The files of the training window's examples, in a fixed order."""
  return sorted(name for pattern in file_patterns for name in tf.io.gfile.glob(pattern))


def count_examples(files: Sequence[str]) -> int:
  """How many examples the files hold: one pass that only decompresses and frames the records
  (0.2 s for 60,000 here, against 1.5 s to also parse and transform them)."""
  records = tf.data.TFRecordDataset(list(files), _COMPRESSION,
                                    num_parallel_reads=tf.data.AUTOTUNE)
  return int(records.reduce(np.int64(0), lambda count, _: count + 1))


def cached_bytes(num_examples: int) -> int:
  """The memory a window of num_examples takes read into memory: its transformed arrays, plus the
  batch being transformed while it is read."""
  return (num_examples + _READ_BATCH_SIZE) * _TRANSFORMED_BYTES_PER_EXAMPLE


def _transform_fn(tf_transform_output: tft.TFTransformOutput):
  """Serialized examples -> (images [B, 28, 28], labels [B]) through the transform graph."""
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  transform_layer = tf_transform_output.transform_features_layer()

  def transform(serialized):
    transformed = transform_layer(tf.io.parse_example(serialized, raw_feature_spec))
    return transformed[features.IMAGE_KEY], tf.reshape(transformed[features.LABEL_KEY], [-1])

  return transform


def read_window(files: Sequence[str], num_examples: int,
                tf_transform_output: tft.TFTransformOutput) -> Tuple[np.ndarray, np.ndarray]:
  """The whole window through the transform graph, into (images [N, 28, 28], labels [N]) arrays
  allocated once (no second copy while they are assembled)."""
  images = np.empty((num_examples, *features.IMAGE_SHAPE), np.float32)
  labels = np.empty(num_examples, np.int64)
  dataset = tf.data.TFRecordDataset(list(files), _COMPRESSION).batch(_READ_BATCH_SIZE).map(
      _transform_fn(tf_transform_output)).prefetch(1)
  start = 0
  for batch_images, batch_labels in dataset.as_numpy_iterator():
    images[start:start + len(batch_labels)] = batch_images
    labels[start:start + len(batch_labels)] = batch_labels
    start += len(batch_labels)
  if start != num_examples:
    raise RuntimeError(f'read {start} examples, but the files held {num_examples} when counted')
  return images, labels


def streaming_dataset(files: Sequence[str], batch_size: int,
                      tf_transform_output: tft.TFTransformOutput) -> tf.data.Dataset:
  """The window streamed from its files, epoch after epoch (an endless dataset): each epoch every
  example once, ceil(N / batch_size) batches (the last one partial), in a new order.

  The order is a shuffled file order, the files read round-robin, then a shuffle buffer of
  _SHUFFLE_BUFFER_EXAMPLES. Unlike a full reshuffle, an example leaves the buffer at most about
  that many examples after it entered, so an epoch's first batches come from the start of each
  file. That is acceptable here: every batch mixes all the spans of the window, and within a span
  the images are in no order (the IDX files' own order, the classes interleaved)."""
  files_dataset = tf.data.Dataset.from_tensor_slices(list(files)).shuffle(len(files))
  records = files_dataset.interleave(
      lambda name: tf.data.TFRecordDataset(name, _COMPRESSION),
      cycle_length=min(len(files), _MAX_INTERLEAVED_FILES), block_length=1,
      num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
  # Shuffle and batch before repeat(): epochs stay whole, and each one is reshuffled.
  return (records.shuffle(_SHUFFLE_BUFFER_EXAMPLES)
          .batch(batch_size)
          .map(_transform_fn(tf_transform_output), num_parallel_calls=tf.data.AUTOTUNE)
          .repeat()
          .prefetch(_PREFETCH_BATCHES))


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


def train(config: dict, file_patterns: Sequence[str], tf_transform_output: tft.TFTransformOutput,
          base_model: str = None, callbacks=()) -> tf.keras.Model:
  """Builds the model (with base_model's weights, when given) and trains it on the window; the
  window is cached in memory when cached_bytes fits config['cache_budget_mb'], else streamed."""
  keras_autograph.exempt_keras_from_autograph()
  files = window_files(file_patterns)
  num_examples = count_examples(files)
  steps_per_epoch = math.ceil(num_examples / config['batch_size'])
  # Seeds the initial weights and the shuffling: the same inputs train the same model.
  tf.keras.utils.set_random_seed(config['seed'])
  # One call of the training function per epoch.
  model = build_model(config['learning_rate'], steps_per_execution=steps_per_epoch)
  epochs = config['epochs']
  if base_model:
    load_weights(model, base_model)
    epochs = config['warm_start_epochs']
    logging.info('Warm start from %s: %d epochs', base_model, epochs)
  window_bytes = cached_bytes(num_examples)
  budget_bytes = config['cache_budget_mb'] * 2**20
  if window_bytes <= budget_bytes:
    logging.info('Training window: %d examples, %d MB in memory (budget %d MB)', num_examples,
                 window_bytes // 2**20, config['cache_budget_mb'])
    images, labels = read_window(files, num_examples, tf_transform_output)
    model.fit(images, labels, batch_size=config['batch_size'], epochs=epochs,
              callbacks=list(callbacks), verbose=2)
  else:
    logging.info('Training window: %d examples, streamed from %d files (%d MB would exceed the '
                 'budget of %d MB)', num_examples, len(files), window_bytes // 2**20,
                 config['cache_budget_mb'])
    model.fit(streaming_dataset(files, config['batch_size'], tf_transform_output),
              epochs=epochs, steps_per_epoch=steps_per_epoch, callbacks=list(callbacks),
              verbose=2)
  return model


def run_fn(fn_args):
  """TFX Trainer's callback: trains the model and saves it with its serving signatures.

  Evaluation is the Evaluator's job, on the test set: as in the tutorial, fit() sees only the
  training data."""
  tf_transform_output = tft.TFTransformOutput(fn_args.transform_output)
  model = train(fn_args.custom_config, fn_args.train_files, tf_transform_output,
                base_model=fn_args.base_model,
                callbacks=[tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir)])
  model.save(fn_args.serving_model_dir, save_format='tf',
             signatures=serving_signatures(model, tf_transform_output))
