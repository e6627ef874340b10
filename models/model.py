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
pixels fit in cache_budget_mb is read once into memory and reshuffled whole each epoch, the whole
epoch one XLA program (WholeEpochTrainer); a larger one is streamed from the files each epoch (see
streaming_dataset), so memory stays flat as the window grows.
"""

import math
from typing import List, Optional, Sequence, Tuple

from absl import logging
import numpy as np
import tensorflow as tf
import tensorflow_transform as tft

from models import keras_autograph
from fashion_mnist import features
from fashion_mnist import stack

# ExampleGen's contract: gzipped TFRecords of serialized tf.Examples.
_COMPRESSION = 'GZIP'
# What one example takes in memory once transformed: 784 float32 pixels and an int64 label.
_TRANSFORMED_BYTES_PER_EXAMPLE = features.NUM_PIXELS * 4 + 8
# A real span's 60,000 training examples take 32.2 MB gzipped (563 bytes each; 1,085 unzipped):
# the window's size is estimated from its files' sizes with a little less, to err on the side of
# streaming. (Counting the records instead takes a pass over the data: 1.3-2.6 s per 60,000 here.)
_ESTIMATED_FILE_BYTES_PER_EXAMPLE = 500
# Examples parsed and transformed per call when reading the window into memory (31 MB of floats).
_READ_BATCH_SIZE = 10_000
# The streaming shuffle buffer, in serialized examples (1,085 bytes each): 50,000 take 54 MB,
# whatever the size of the window.
_SHUFFLE_BUFFER_EXAMPLES = 50_000
# Files read at once when streaming, round-robin (ExampleGen writes one file per span and split).
_MAX_INTERLEAVED_FILES = 16
_PREFETCH_BATCHES = 4


def epoch_order(num_examples: int, batch_size: int, seed: int,
                epoch: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
  """An epoch's batches of example indices: every index once, in an order fixed by (seed, epoch).
  Out: the full batches [N // batch_size, batch_size] and the last, partial one [N % batch_size]."""
  random_keys = tf.random.stateless_uniform(
      [num_examples], tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)]))
  order = tf.argsort(random_keys, stable=True)
  num_full = num_examples // batch_size
  return (tf.reshape(order[:num_full * batch_size], [num_full, batch_size]),
          order[num_full * batch_size:])


class WholeEpochTrainer(tf.keras.Model):
  """Trains `model` on a window held in memory, one epoch per training step: fit() on
  tf.data.Dataset.range(epochs), one epoch index per step. The step reshuffles the window and runs
  the tutorial's ceil(N / batch size) updates (model's optimizer and loss) in one loop.

  Why: fit()'s own loop, even with steps_per_execution, runs each 32-image step as a separate XLA
  program fed by a tf.data iterator, and that round trip costs more than the step's arithmetic: in
  the pipeline (TF 2.21, one TensorFlow thread, 2 cores) an epoch of 60,000 images took 0.43 s,
  and takes 0.25 s with the epoch's loop inside one program. Only the inner model is saved; this
  wrapper is for fit()'s callbacks and logs (`loss` and `accuracy` over the epoch, as fit()
  reports them)."""

  def __init__(self, model: tf.keras.Model, images: tf.Tensor, labels: tf.Tensor,
               batch_size: int, seed: int):
    super().__init__()
    self.model = model
    # Captured by the compiled step as they are: the window is not copied into it.
    self._images, self._labels = images, labels
    self._batch_size, self._seed = batch_size, seed
    self._loss_tracker = tf.keras.metrics.Mean(name='loss')
    self._accuracy_tracker = tf.keras.metrics.Mean(name='accuracy')

  @property
  def metrics(self):
    return [self._loss_tracker, self._accuracy_tracker]

  def _update(self, batch: tf.Tensor, sums: Tuple[tf.Tensor, tf.Tensor]):
    """One update on the examples at indices `batch`; sums (loss x examples, correct) grown."""
    images, labels = tf.gather(self._images, batch), tf.gather(self._labels, batch)
    with tf.GradientTape() as tape:
      logits = self.model(images, training=True)
      loss = self.model.loss(labels, logits)
    self.model.optimizer.minimize(loss, self.model.trainable_variables, tape=tape)
    size = tf.cast(tf.size(labels), tf.float32)
    correct = tf.reduce_sum(tf.cast(tf.argmax(logits, axis=1) == labels, tf.float32))
    return sums[0] + loss * size, sums[1] + correct

  def train_step(self, data):
    num_examples = int(self._labels.shape[0])
    full_batches, last_batch = epoch_order(num_examples, self._batch_size, self._seed, data)

    def update(step, loss_sum, correct):
      return (step + 1, *self._update(full_batches[step], (loss_sum, correct)))

    _, *sums = tf.while_loop(lambda step, *_: step < full_batches.shape[0], update,
                             (tf.constant(0), tf.constant(0.0), tf.constant(0.0)))
    if last_batch.shape[0]:
      sums = self._update(last_batch, sums)
    self._loss_tracker.update_state(sums[0] / num_examples)
    self._accuracy_tracker.update_state(sums[1] / num_examples)
    return {metric.name: metric.result() for metric in self.metrics}


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
  """How many examples the files hold: one pass that decompresses and frames the records."""
  batches = tf.data.TFRecordDataset(list(files), _COMPRESSION).batch(_READ_BATCH_SIZE)
  return int(batches.reduce(np.int64(0),
                            lambda count, batch: count + tf.size(batch, out_type=tf.int64)))


def estimated_examples(files: Sequence[str]) -> int:
  """How many examples the files hold, estimated from their sizes (no pass over them)."""
  return sum(tf.io.gfile.stat(name).length for name in files) // _ESTIMATED_FILE_BYTES_PER_EXAMPLE


def _transform_fn(tf_transform_output: tft.TFTransformOutput):
  """Serialized examples -> (images [B, 28, 28], labels [B]) through the transform graph."""
  raw_feature_spec = tf_transform_output.raw_feature_spec()
  transform_layer = tf_transform_output.transform_features_layer()

  def transform(serialized):
    transformed = transform_layer(tf.io.parse_example(serialized, raw_feature_spec))
    return transformed[features.IMAGE_KEY], tf.reshape(transformed[features.LABEL_KEY], [-1])

  return transform


def read_window(files: Sequence[str], tf_transform_output: tft.TFTransformOutput,
                max_examples: int) -> Optional[Tuple[tf.Tensor, tf.Tensor]]:
  """The whole window through the transform graph as (images [N, 28, 28], labels [N]) tensors,
  or None as soon as it proves to hold more than max_examples (the estimate was short).

  Tensors, not numpy arrays: fit() copies arrays into tensors, 0.2-0.8 s for 60,000 images (188
  MB), and then holds the window twice while it trains. The batches are joined once at the end,
  so the window is twice in memory for that moment only."""
  image_batches, label_batches, count = [], [], 0
  dataset = tf.data.TFRecordDataset(list(files), _COMPRESSION).batch(_READ_BATCH_SIZE).map(
      _transform_fn(tf_transform_output))
  for batch_images, batch_labels in dataset:
    count += len(batch_labels)
    if count > max_examples:
      return None
    image_batches.append(batch_images)
    label_batches.append(batch_labels)
  if not image_batches:
    return (tf.zeros([0, *features.IMAGE_SHAPE], tf.float32), tf.zeros([0], tf.int64))
  return tf.concat(image_batches, axis=0), tf.concat(label_batches, axis=0)


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
          base_model: Optional[str] = None, callbacks=()) -> tf.keras.Model:
  """Builds the model (with base_model's weights, when given) and trains it on the window: held in
  memory when it fits config['cache_budget_mb'], else streamed from its files each epoch."""
  keras_autograph.exempt_keras_and_transform_from_autograph()
  files = window_files(file_patterns)
  budget_examples = config['cache_budget_mb'] * 2**20 // _TRANSFORMED_BYTES_PER_EXAMPLE
  estimate = estimated_examples(files)
  window = None
  if estimate <= budget_examples:
    # Room for twice the estimate at most: an array of the whole budget (untouched memory costs
    # nothing) could be refused by the kernel for a budget larger than the machine.
    window = read_window(files, tf_transform_output, min(budget_examples, 2 * estimate))
  num_examples = len(window[1]) if window else count_examples(files)
  logging.info('Training window: %d examples in %d files, %s (budget %d MB)', num_examples,
               len(files), 'held in memory' if window else 'streamed',
               config['cache_budget_mb'])
  # Seeds the initial weights and the shuffling: the same inputs train the same model.
  tf.keras.utils.set_random_seed(config['seed'])
  # One call of the training function per epoch.
  steps_per_epoch = math.ceil(num_examples / config['batch_size'])
  model = build_model(config['learning_rate'], steps_per_execution=steps_per_epoch)
  epochs = config['epochs']
  if base_model:
    load_weights(model, base_model)
    epochs = config['warm_start_epochs']
    logging.info('Warm start from %s: %d epochs', base_model, epochs)
  if window:
    # The whole window reshuffled each epoch, as the tutorial's fit() on arrays does.
    trainer = WholeEpochTrainer(model, *window, batch_size=config['batch_size'],
                                seed=config['seed'])
    trainer.compile(jit_compile=stack.xla_compiles_epoch_loop_fast())
    # Epoch indices have nothing for tf.data to tune, and its tuning thread cost 2 s: at the end
    # of fit() the iterator's destructor waited for it to wake (2.1 s, in 3 of 5 cold runs).
    epoch_indices = tf.data.Options()
    epoch_indices.autotune.enabled = False
    trainer.fit(tf.data.Dataset.range(epochs).with_options(epoch_indices), epochs=epochs,
                steps_per_epoch=1, callbacks=list(callbacks), verbose=2)
  else:
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
