"""The IDX ExampleGen's pieces: finding a split's files and writing them as tf.Examples."""

import numpy as np
import pytest
import tensorflow as tf

from components import idx_example_gen
from fashion_mnist import examples
from fashion_mnist import idx


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


def test_a_split_is_written_as_gzipped_tfrecords_in_file_order(small_dataset, tmp_path):
  split_files = idx_example_gen.find_split_files(str(small_dataset),
                                                 idx_example_gen.SPLIT_PATTERNS['eval'])
  output_file = str(tmp_path / 'Split-eval' / 'data_tfrecord-00000-of-00001.gz')
  idx_example_gen.write_split_file(split_files, output_file)
  images, labels = idx.read_split(*split_files)
  records = list(tf.data.TFRecordDataset(output_file, compression_type='GZIP').as_numpy_iterator())
  decoded_images, decoded_labels = examples.decode(records)
  np.testing.assert_array_equal(decoded_images, images)
  np.testing.assert_array_equal(decoded_labels, labels)
