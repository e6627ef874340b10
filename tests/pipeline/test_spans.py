"""Span folders on disk: adding checked spans atomically, and cutting a training set into parts."""

import numpy as np
import pytest

from fashion_mnist import dataset
from fashion_mnist import idx
from helpers import run_cli, write_dataset
from pipeline import spans


@pytest.fixture
def parts(small_dataset, tmp_path):
  return spans.split_training_set(small_dataset, tmp_path / 'incoming', 4)


def _files(folder):
  return sorted(folder.iterdir())


def test_split_cuts_the_training_set_into_consecutive_parts(small_dataset, parts):
  images, labels = idx.read_split(small_dataset / dataset.TRAIN.images_file,
                                  small_dataset / dataset.TRAIN.labels_file)
  pieces = [idx.read_split(*(part / name for name in (dataset.TRAIN.images_file,
                                                      dataset.TRAIN.labels_file)))
            for part in parts]
  assert [part.name for part in parts] == ['part-1', 'part-2', 'part-3', 'part-4']
  np.testing.assert_array_equal(np.concatenate([p[0] for p in pieces]), images)
  np.testing.assert_array_equal(np.concatenate([p[1] for p in pieces]), labels)


def test_spans_are_numbered_and_carry_the_test_set_over(small_dataset, parts, tmp_path):
  root = tmp_path / 'spans'
  assert spans.add_span(root, _files(parts[0]), test_set_dir=small_dataset) == (1, root / 'span-1')
  assert spans.add_span(root, _files(parts[1])) == (2, root / 'span-2')
  assert sorted(spans.span_dirs(root)) == [1, 2] and spans.newest_span(root) == 2
  for span_dir in spans.span_dirs(root).values():
    assert sorted(p.name for p in span_dir.iterdir()) == sorted(dataset.FILE_NAMES)
    assert (span_dir / dataset.TEST.images_file).read_bytes() == (
        small_dataset / dataset.TEST.images_file).read_bytes()
  assert (root / 'span-2' / dataset.TRAIN.labels_file).read_bytes() == (
      parts[1] / dataset.TRAIN.labels_file).read_bytes()
  assert [p.name for p in root.iterdir() if p.name.startswith('.')] == []  # no staging left


def test_four_files_bring_their_own_test_set(tmp_path):
  source = write_dataset(tmp_path / 'release', seed=3)
  number, folder = spans.add_span(tmp_path / 'spans', _files(source))
  assert number == 1
  for name in dataset.FILE_NAMES:
    assert (folder / name).read_bytes() == (source / name).read_bytes()


def test_files_are_told_apart_by_content_not_order(small_dataset, parts, tmp_path):
  images, labels = parts[0] / dataset.TRAIN.images_file, parts[0] / dataset.TRAIN.labels_file
  _, folder = spans.add_span(tmp_path / 'spans', [labels, images], test_set_dir=small_dataset)
  assert (folder / dataset.TRAIN.images_file).read_bytes() == images.read_bytes()


def test_a_first_span_needs_a_test_set(parts, tmp_path):
  with pytest.raises(spans.SpanError, match='holds no span to take the test set from'):
    spans.add_span(tmp_path / 'spans', _files(parts[0]))


def test_a_bad_file_is_refused_by_name_and_adds_nothing(small_dataset, parts, tmp_path):
  root = tmp_path / 'spans'
  spans.add_span(root, _files(parts[0]), test_set_dir=small_dataset)
  labels = idx.read_labels(parts[1] / dataset.TRAIN.labels_file).copy()
  labels[3] = 12
  idx.write_labels(parts[1] / dataset.TRAIN.labels_file, labels)
  result = run_cli('add-span', '--data-dir', str(root), *map(str, _files(parts[1])))
  assert result.returncode == 2
  assert result.stderr.strip() == (f'fashion-pipeline: error: {parts[1]}/train-labels-idx1-ubyte.gz'
                                   ': label 12 at index 3 is outside 0..9 (1 such labels)')
  assert sorted(p.name for p in root.iterdir()) == ['span-1']


def test_two_files_of_the_same_kind_are_refused(parts, small_dataset, tmp_path):
  images = parts[0] / dataset.TRAIN.images_file
  with pytest.raises(spans.SpanError, match='expected one IDX image file and one IDX label file'):
    spans.add_span(tmp_path / 'spans', [images, images], test_set_dir=small_dataset)


def test_window_is_the_last_spans_up_to_the_newest():
  assert spans.window(6, 3) == [4, 5, 6]
  assert spans.window(2, 5) == [0, 1, 2]
  assert spans.window(4, 1) == [4]
