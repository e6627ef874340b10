"""The IDX ExampleGen's pieces: writing a split's files as shards of tf.Examples."""

import numpy as np
import pytest
import tensorflow as tf

from components import idx_example_gen
from fashion_mnist import dataset
from fashion_mnist import examples
from fashion_mnist import idx


def test_a_split_is_written_as_gzipped_tfrecords_in_file_order(small_dataset, tmp_path):
  split_files = idx.find_split_files(small_dataset, dataset.SPLIT_PATTERNS['eval'])
  output_dir = tmp_path / 'Split-eval'
  idx_example_gen.write_shard(0, split_files, str(output_dir), num_shards=1)
  images, labels = idx.read_split(*split_files)
  assert [p.name for p in output_dir.iterdir()] == ['data_tfrecord-00000-of-00001.gz']
  records = list(tf.data.TFRecordDataset(str(output_dir / 'data_tfrecord-00000-of-00001.gz'),
                                         compression_type='GZIP').as_numpy_iterator())
  decoded_images, decoded_labels = examples.decode(records)
  np.testing.assert_array_equal(decoded_images, images)
  np.testing.assert_array_equal(decoded_labels, labels)


@pytest.mark.parametrize('num_shards', [2, 3])
def test_shards_read_in_name_order_keep_the_file_order(small_dataset, tmp_path, num_shards):
  split_files = idx.find_split_files(small_dataset, dataset.SPLIT_PATTERNS['train'])
  output_dir = tmp_path / 'Split-train'
  # Written in reverse, as Beam's workers may finish them in any order.
  for shard in reversed(range(num_shards)):
    idx_example_gen.write_shard(shard, split_files, str(output_dir), num_shards)
  names = sorted(p.name for p in output_dir.iterdir())
  assert names == [idx_example_gen.shard_file_name(k, num_shards) for k in range(num_shards)]
  shards = [list(tf.data.TFRecordDataset(str(output_dir / name), compression_type='GZIP')
                 .as_numpy_iterator()) for name in names]
  images, labels = idx.read_split(*split_files)
  # As even as whole examples allow.
  assert max(map(len, shards)) - min(map(len, shards)) <= 1
  decoded_images, decoded_labels = examples.decode([r for shard in shards for r in shard])
  np.testing.assert_array_equal(decoded_images, images)
  np.testing.assert_array_equal(decoded_labels, labels)


def test_integer_images_are_encoded_as_they_are_and_float_ones_rounded():
  images = np.arange(2 * 28 * 28).reshape(2, 28, 28) % 256
  whole, _ = examples.decode(examples.serialize(images.astype(np.uint8), np.array([0, 1])))
  rounded, _ = examples.decode(examples.serialize(images + 0.4, np.array([0, 1])))
  np.testing.assert_array_equal(whole, images)
  np.testing.assert_array_equal(rounded, images)
