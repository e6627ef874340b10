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
