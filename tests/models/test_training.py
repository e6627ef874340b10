"""The Trainer's training loop on small data: the window held in memory and streamed from its files
make the same updates (every example once per epoch, in a new order, ceil(N / 32) steps an epoch)
and train models of the same accuracy."""

import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from tensorflow_transform.tf_metadata import metadata_io
from tensorflow_transform.tf_metadata import schema_utils

from fashion_mnist import examples
from fashion_mnist import features
from helpers import generated_split
from models import model as model_module
from models import preprocessing

NUM_TRAIN = 1000  # not a multiple of the batch size: each epoch ends with a batch of 8
NUM_TEST = 500
BATCH_SIZE = 32
EPOCHS = 3


def _with_ids(images: np.ndarray) -> np.ndarray:
  """The images with their index written into the first two pixels (noise in these images)."""
  images = images.copy()
  ids = np.arange(len(images))
  images[:, 0, 0], images[:, 0, 1] = ids % 256, ids // 256
  return images


def _ids(transformed_images: np.ndarray) -> np.ndarray:
  pixels = np.rint(transformed_images[:, 0, :2] * features.MAX_PIXEL_VALUE).astype(np.int64)
  return pixels[:, 0] + 256 * pixels[:, 1]


def _write_records(path: Path, images: np.ndarray, labels: np.ndarray) -> str:
  with tf.io.TFRecordWriter(str(path), 'GZIP') as writer:
    for record in examples.serialize(images, labels):
      writer.write(record)
  return str(path)


@pytest.fixture(scope='module')
def window(tmp_path_factory):
  """A window of two spans' files (600 and 400 examples), the held-out test set, and the
  transform graph, made by TF Transform from preprocessing_fn as the Transform component does."""
  root = tmp_path_factory.mktemp('window')
  images, labels = generated_split(NUM_TRAIN, seed=1)
  images = _with_ids(images)
  files = [_write_records(root / 'span-1.gz', images[:600], labels[:600]),
           _write_records(root / 'span-2.gz', images[600:], labels[600:])]
  raw_metadata = dataset_metadata.DatasetMetadata(
      schema_utils.schema_from_feature_spec(examples.feature_spec()))
  with tft_beam.Context(temp_dir=str(root / 'tmp')):
    transform_fn = ([], raw_metadata) | tft_beam.AnalyzeDataset(preprocessing.preprocessing_fn)
    _ = transform_fn | tft_beam.WriteTransformFn(str(root / 'transform'))
  # The raw examples' schema, which the Transform component writes beside the graph.
  metadata_io.write_metadata(
      raw_metadata, str(root / 'transform' / tft.TFTransformOutput.RAW_METADATA_DIR))
  return {'files': files, 'test': generated_split(NUM_TEST, seed=2),
          'transform_output': tft.TFTransformOutput(str(root / 'transform'))}


def test_counts_the_examples_of_every_file(window):
  assert model_module.count_examples(window['files']) == NUM_TRAIN


def test_a_streamed_epoch_is_every_example_once_in_a_new_order(window):
  steps = math.ceil(NUM_TRAIN / BATCH_SIZE)
  tf.keras.utils.set_random_seed(0)
  dataset = model_module.streaming_dataset(window['files'], BATCH_SIZE,
                                           window['transform_output'])
  batches = list(dataset.take(2 * steps).as_numpy_iterator())
  assert [len(labels) for _, labels in batches] == 2 * ([BATCH_SIZE] * (steps - 1) + [8])
  epochs = [np.concatenate([_ids(images) for images, _ in batches[i * steps:(i + 1) * steps]])
            for i in range(2)]
  for ids in epochs:
    np.testing.assert_array_equal(np.sort(ids), np.arange(NUM_TRAIN))
  assert not np.array_equal(epochs[0], epochs[1])
  # Every batch mixes both files (600 and 400 examples, read round-robin).
  assert all(((ids < 600).any() and (ids >= 600).any())
             for ids in np.split(epochs[0][:(steps - 1) * BATCH_SIZE], steps - 1))
  first_images, first_labels = batches[0]
  assert first_images.dtype == np.float32 and first_images.shape[1:] == features.IMAGE_SHAPE
  assert first_labels.dtype == np.int64 and first_images.max() <= 1.0


def test_an_epoch_in_memory_is_every_example_once_in_an_order_of_its_own():
  full_batches, last_batch = model_module.epoch_order(NUM_TRAIN, BATCH_SIZE, seed=0, epoch=0)
  assert full_batches.shape == (NUM_TRAIN // BATCH_SIZE, BATCH_SIZE) and last_batch.shape == (8,)
  first = np.concatenate([full_batches.numpy().ravel(), last_batch.numpy()])
  np.testing.assert_array_equal(np.sort(first), np.arange(NUM_TRAIN))
  again = np.concatenate([part.numpy().ravel()
                          for part in model_module.epoch_order(NUM_TRAIN, BATCH_SIZE, 0, 0)])
  np.testing.assert_array_equal(first, again)
  second = np.concatenate([part.numpy().ravel()
                           for part in model_module.epoch_order(NUM_TRAIN, BATCH_SIZE, 0, 1)])
  np.testing.assert_array_equal(np.sort(second), np.arange(NUM_TRAIN))
  assert not np.array_equal(first, second)


def test_whole_epochs_report_the_epochs_loss_and_accuracy(window):
  images, labels = model_module.read_window(window['files'], window['transform_output'],
                                            NUM_TRAIN)
  tf.keras.utils.set_random_seed(0)
  model = model_module.build_model(learning_rate=0.001)
  trainer = model_module.WholeEpochTrainer(model, images, labels, BATCH_SIZE, seed=0)
  trainer.compile(jit_compile=True)
  history = trainer.fit(tf.data.Dataset.range(EPOCHS), epochs=EPOCHS, steps_per_epoch=1,
                        verbose=0).history
  assert int(model.optimizer.iterations) == EPOCHS * math.ceil(NUM_TRAIN / BATCH_SIZE)
  assert len(history['loss']) == len(history['accuracy']) == EPOCHS
  assert history['loss'][-1] < history['loss'][0]
  # The last epoch's accuracy, as fit() reports it: over every example, with the weights of the
  # moment each batch was seen, so near what the final weights score on the same examples.
  final = float(np.mean(np.argmax(model(images), axis=1) == labels.numpy()))
  assert 0.8 < history['accuracy'][-1] <= 1.0 and abs(history['accuracy'][-1] - final) < 0.1


def _train(window, cache_budget_mb: int) -> tf.keras.Model:
  config = {'epochs': EPOCHS, 'warm_start_epochs': 1, 'batch_size': BATCH_SIZE,
            'learning_rate': 0.001, 'seed': 0, 'cache_budget_mb': cache_budget_mb}
  return model_module.train(config, window['files'], window['transform_output'])


def _accuracy(model: tf.keras.Model, window) -> float:
  images, labels = window['test']
  logits = model.predict(images.astype(np.float32) / features.MAX_PIXEL_VALUE, verbose=0)
  return float(np.mean(np.argmax(logits, axis=1) == labels))


def test_cached_and_streamed_windows_make_the_same_updates_and_accuracy(window, monkeypatch):
  reads = []  # the real read_window, and whether train() read the window into memory

  def read_window(*args):
    reads.append(args)
    return real_read_window(*args)

  real_read_window = model_module.read_window
  monkeypatch.setattr(model_module, 'read_window', read_window)
  cached = _train(window, cache_budget_mb=64)
  assert len(reads) == 1
  streamed = _train(window, cache_budget_mb=0)
  assert len(reads) == 1
  updates = EPOCHS * math.ceil(NUM_TRAIN / BATCH_SIZE)
  assert int(cached.optimizer.iterations) == updates
  assert int(streamed.optimizer.iterations) == updates
  cached_accuracy, streamed_accuracy = _accuracy(cached, window), _accuracy(streamed, window)
  # The generated classes are easy (a bright band per class): both learn them; on 500 test images
  # one standard error of an accuracy near 0.9 is 0.013.
  assert cached_accuracy > 0.8 and streamed_accuracy > 0.8
  assert abs(cached_accuracy - streamed_accuracy) < 0.05


def test_a_window_larger_than_the_budget_is_not_read_into_memory(window):
  images, labels = model_module.read_window(window['files'], window['transform_output'],
                                            NUM_TRAIN)
  # Tensors, which fit() takes as they are (numpy arrays it would copy).
  assert isinstance(images, tf.Tensor) and isinstance(labels, tf.Tensor)
  assert images.shape == (NUM_TRAIN, *features.IMAGE_SHAPE) and len(labels) == NUM_TRAIN
  np.testing.assert_array_equal(np.sort(_ids(images.numpy())), np.arange(NUM_TRAIN))
  assert model_module.read_window(window['files'], window['transform_output'],
                                  NUM_TRAIN - 1) is None


def test_the_size_estimate_from_the_files_errs_towards_streaming(window):
  assert NUM_TRAIN <= model_module.estimated_examples(window['files']) < 2 * NUM_TRAIN
