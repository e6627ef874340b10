"""The IDX reader and writer on good and malformed files."""

import gzip
import struct

import numpy as np
import pytest

from fashion_mnist import dataset
from fashion_mnist import idx


def _images(count=5):
  return np.arange(count * 784, dtype=np.uint32).reshape(count, 28, 28).astype(np.uint8)


def test_round_trip_gzipped_and_plain(tmp_path):
  images, labels = _images(), np.array([9, 0, 0, 3, 1], np.uint8)
  for suffix in ('.gz', ''):
    idx.write_images(tmp_path / f'i{suffix}', images)
    idx.write_labels(tmp_path / f'l{suffix}', labels)
    read_images, read_labels = idx.read_split(tmp_path / f'i{suffix}', tmp_path / f'l{suffix}')
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert read_images.dtype == np.uint8 and read_images.shape == (5, 28, 28)


def test_header_is_big_endian_with_the_published_magic_numbers(tmp_path):
  idx.write_labels(tmp_path / 'l.gz', np.array([1, 2], np.uint8))
  with gzip.open(tmp_path / 'l.gz') as f:
    assert f.read() == bytes.fromhex('00000801' '00000002' '0102')


def _expect_error(path, match, reader=idx.read_images):
  with pytest.raises(idx.IdxFormatError, match=match) as error:
    reader(path)
  assert str(path) in str(error.value)


def test_truncated_pixels(tmp_path):
  path = tmp_path / 'images.gz'
  idx.write_images(path, _images())
  data = gzip.decompress(path.read_bytes())
  path.write_bytes(gzip.compress(data[:-10]))
  _expect_error(path, 'is truncated')


def test_truncated_gzip_stream(tmp_path):
  path = tmp_path / 'images.gz'
  idx.write_images(path, _images())
  path.write_bytes(path.read_bytes()[:-20])
  _expect_error(path, 'not a complete gzip stream')


def test_file_shorter_than_header(tmp_path):
  path = tmp_path / 'labels'
  path.write_bytes(b'\x00\x00\x08')
  _expect_error(path, 'shorter than the 8-byte IDX header', idx.read_labels)


def test_bad_magic(tmp_path):
  path = tmp_path / 'labels.gz'
  idx.write_images(path, _images())  # an image file where a label file belongs
  _expect_error(path, 'magic number 0x00000803, expected 0x00000801', idx.read_labels)


def test_wrong_dimensions(tmp_path):
  path = tmp_path / 'images'
  path.write_bytes(struct.pack('>4I', idx.IMAGES_MAGIC, 2, 32, 32) + bytes(2 * 32 * 32))
  _expect_error(path, 'holds 32x32 images, expected 28x28')


def test_trailing_data(tmp_path):
  path = tmp_path / 'labels'
  path.write_bytes(struct.pack('>2I', idx.LABELS_MAGIC, 2) + bytes(3))
  _expect_error(path, 'has trailing data', idx.read_labels)


def test_label_outside_0_to_9(tmp_path):
  path = tmp_path / 'labels.gz'
  idx.write_labels(path, np.array([1, 10, 3, 12], np.uint8))
  _expect_error(path, 'label 10 at index 1 is outside 0..9 \\(2 such labels\\)', idx.read_labels)


def test_count_mismatch(tmp_path):
  idx.write_images(tmp_path / 'images.gz', _images(5))
  idx.write_labels(tmp_path / 'labels.gz', np.zeros(4, np.uint8))
  with pytest.raises(idx.IdxFormatError, match='holds 5 images but .*labels.gz holds 4 labels'):
    idx.read_split(tmp_path / 'images.gz', tmp_path / 'labels.gz')


@pytest.mark.parametrize('gzipped', [True, False])
def test_empty_file(tmp_path, gzipped):
  path = tmp_path / ('labels.gz' if gzipped else 'labels')
  path.write_bytes(gzip.compress(b'') if gzipped else b'')
  _expect_error(path, 'is empty \\(0 bytes\\)', idx.read_labels)


def test_zero_images_and_zero_labels_are_refused(tmp_path):
  idx.write_images(tmp_path / 'images.gz', np.zeros((0, 28, 28), np.uint8))
  idx.write_labels(tmp_path / 'labels.gz', np.zeros(0, np.uint8))
  _expect_error(tmp_path / 'images.gz', 'holds 0 images$')
  _expect_error(tmp_path / 'labels.gz', 'holds 0 labels$', idx.read_labels)


def test_missing_file(tmp_path):
  _expect_error(tmp_path / 'absent.gz', 'cannot be read')


def test_real_files_have_the_published_counts_and_first_labels(real_data_dir):
  from fashion_mnist import dataset  # pylint: disable=g-import-not-at-top
  train = idx.read_split(real_data_dir / dataset.TRAIN.images_file,
                         real_data_dir / dataset.TRAIN.labels_file)
  test = idx.read_split(real_data_dir / dataset.TEST.images_file,
                        real_data_dir / dataset.TEST.labels_file)
  assert len(train[0]) == 60_000 and len(test[0]) == 10_000
  assert list(train[1][:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
  assert list(test[1][:10]) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
  assert np.bincount(train[1]).tolist() == [6000] * 10


def test_split_patterns_pick_the_original_file_names(small_dataset):
  train = idx.find_split_files(small_dataset, dataset.SPLIT_PATTERNS['train'])
  test = idx.find_split_files(small_dataset, dataset.SPLIT_PATTERNS['eval'])
  assert [p.rsplit('/', 1)[1] for p in train] == ['train-images-idx3-ubyte.gz',
                                                  'train-labels-idx1-ubyte.gz']
  assert [p.rsplit('/', 1)[1] for p in test] == ['t10k-images-idx3-ubyte.gz',
                                                 't10k-labels-idx1-ubyte.gz']


def test_a_missing_labels_file_is_named(small_dataset):
  (small_dataset / 't10k-labels-idx1-ubyte.gz').unlink()
  with pytest.raises(idx.IdxFormatError, match=r't10k-\*-ubyte.gz: expected one images'):
    idx.find_split_files(small_dataset, dataset.SPLIT_PATTERNS['eval'])
