"""The IDX ExampleGen's pieces: finding a split's files and the tf.Examples it emits."""

import numpy as np
import pytest
import tensorflow as tf

from components import idx_example_gen
from fashion_mnist import features
from fashion_mnist import idx


def test_example_holds_784_raw_pixels_and_the_label():
  image = (np.arange(784) % 256).astype(np.uint8).reshape(28, 28)
  example = idx_example_gen.to_example(image, np.uint8(9))
  parsed = tf.train.Example.FromString(example.SerializeToString()).features.feature
  assert list(parsed[features.IMAGE_KEY].int64_list.value) == image.reshape(-1).tolist()
  assert list(parsed[features.LABEL_KEY].int64_list.value) == [9]


def test_split_patterns_pick_the_original_file_names(small_dataset):
  train = idx_example_gen.find_split_files(str(small_dataset),
                                           idx_example_gen.SPLIT_PATTERNS['train'])
  test = idx_example_gen.find_split_files(str(small_dataset),
                                          idx_example_gen.SPLIT_PATTERNS['eval'])
  assert [p.rsplit('/', 1)[1] for p in train] == ['train-images-idx3-ubyte.gz',
                                                  'train-labels-idx1-ubyte.gz']
  assert [p.rsplit('/', 1)[1] for p in test] == ['t10k-images-idx3-ubyte.gz',
                                                 't10k-labels-idx1-ubyte.gz']


def test_a_missing_labels_file_is_named(small_dataset):
  (small_dataset / 't10k-labels-idx1-ubyte.gz').unlink()
  with pytest.raises(idx.IdxFormatError, match=r't10k-\*-ubyte.gz: expected one images'):
    idx_example_gen.find_split_files(str(small_dataset), idx_example_gen.SPLIT_PATTERNS['eval'])


def test_serialized_examples_are_the_protobuf_messages():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, size=(50, 28, 28), dtype=np.uint8)
  images[0] = 0
  images[1] = 255
  images[2, 0, :4] = [127, 128, 129, 0]
  labels = (np.arange(50) % 10).astype(np.uint8)
  serialized = list(idx_example_gen.serialize_examples(images, labels))
  assert len(serialized) == 50
  for image, label, record in zip(images, labels, serialized):
    assert tf.train.Example.FromString(record) == idx_example_gen.to_example(image, label)
  parsed = tf.io.parse_example(serialized, {
      features.IMAGE_KEY: tf.io.FixedLenFeature([features.NUM_PIXELS], tf.int64),
      features.LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)})
  np.testing.assert_array_equal(parsed[features.IMAGE_KEY].numpy(), images.reshape(50, -1))
  np.testing.assert_array_equal(parsed[features.LABEL_KEY].numpy(), labels)


def test_a_split_is_written_as_gzipped_tfrecords_in_file_order(small_dataset, tmp_path):
  split_files = idx_example_gen.find_split_files(str(small_dataset),
                                                 idx_example_gen.SPLIT_PATTERNS['eval'])
  output_file = str(tmp_path / 'Split-eval' / 'data_tfrecord-00000-of-00001.gz')
  idx_example_gen.write_split_file(split_files, output_file)
  images, labels = idx.read_split(*split_files)
  records = list(tf.data.TFRecordDataset(output_file, compression_type='GZIP').as_numpy_iterator())
  assert records == list(idx_example_gen.serialize_examples(images, labels))
  assert tf.train.Example.FromString(records[-1]) == idx_example_gen.to_example(images[-1],
                                                                                 labels[-1])
