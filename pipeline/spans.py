"""Data spans on disk: `<data root>/span-<N>/`, each holding the four IDX files.

A span's training files are the new labelled images that arrived with it; its test files are the
fixed evaluation set (the official test set unless someone adds a span with other test files), so
that every candidate and its baseline are measured on the same images. `add_span` checks new files
exactly as ingestion does and moves a complete span into place with one rename, so a scheduled run
never sees a half-copied span; `split_training_set` cuts a training set into parts to add as spans
(for demos and tests).
"""

import re
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from fashion_mnist import dataset
from fashion_mnist import idx

_SPAN_DIR = re.compile(re.escape(dataset.SPAN_DIR_PREFIX) + r'(\d+)$')
PART_DIR_PREFIX = 'part-'


class SpanError(ValueError):
  """New span files cannot be added; the message names the file or folder and the problem."""


def span_dirs(data_root: Path) -> Dict[int, Path]:
  """The span folders under data_root by span number (empty for the flat layout)."""
  if not data_root.is_dir():
    return {}
  found = {}
  for path in data_root.iterdir():
    match = _SPAN_DIR.match(path.name)
    if match and path.is_dir():
      found[int(match.group(1))] = path
  return found


def newest_span(data_root: Path) -> Optional[int]:
  """The highest span number under data_root, or None when it holds no spans."""
  return max(span_dirs(data_root), default=None)


def window(newest: int, num_spans: int) -> List[int]:
  """The span numbers of a rolling window of num_spans ending at newest (never below 0)."""
  return list(range(max(newest - num_spans + 1, 0), newest + 1))


def window_dirs(data_root: Path, num_spans: int) -> List[Path]:
  """The folders of IDX files a run's training window may read: the span folders of the last
  num_spans spans that are on disk, or data_root itself for the flat layout."""
  on_disk = span_dirs(data_root)
  if not on_disk:
    return [data_root]
  return [on_disk[span] for span in window(max(on_disk), num_spans) if span in on_disk]


def _split_files(directory: Path, split: dataset.Split) -> Tuple[Path, Path]:
  return directory / split.images_file, directory / split.labels_file


def _sort_by_kind(files: Sequence[Path]) -> Tuple[Path, Path]:
  """(images file, labels file) of a pair, told apart by their IDX magic numbers."""
  by_magic = {idx.read_magic(path): path for path in files}
  if set(by_magic) != {idx.IMAGES_MAGIC, idx.LABELS_MAGIC}:
    raise SpanError(f'{", ".join(map(str, files))}: expected one IDX image file and one IDX '
                    'label file')
  return by_magic[idx.IMAGES_MAGIC], by_magic[idx.LABELS_MAGIC]


def _classify(files: Sequence[Path]) -> Tuple[Tuple[Path, Path], Optional[Tuple[Path, Path]]]:
  """Splits the given files into the training pair and, with four files, the test pair (the
  files whose names start like the original test files, `t10k-`)."""
  if len(files) == 2:
    return _sort_by_kind(files), None
  if len(files) == 4:
    test = [path for path in files if path.name.startswith(dataset.TEST.name)]
    train = [path for path in files if path not in test]
    if len(test) == 2:
      return _sort_by_kind(train), _sort_by_kind(test)
  raise SpanError(f'expected 2 files (training images and labels) or 4 (also the test images '
                  f'and labels, named {dataset.TEST.name}-*), got {len(files)}: '
                  f'{", ".join(map(str, files))}')


def add_span(data_root: Path, files: Sequence[Path],
             test_set_dir: Optional[Path] = None) -> Tuple[int, Path]:
  """Checks the files and adds them as the next span under data_root; returns (number, folder).

  files: the training images and labels, optionally also the test images and labels. Without
  test files the span gets those of test_set_dir (a folder with the t10k-* files) or, by default,
  of the newest span.
  """
  train_pair, test_pair = _classify([Path(path) for path in files])
  existing = span_dirs(data_root)
  if test_pair is None:
    source = test_set_dir or (existing[max(existing)] if existing else None)
    if source is None:
      raise SpanError(f'{data_root}: holds no span to take the test set from; give the test '
                      'files too, or --test-set DIR')
    test_pair = _split_files(source, dataset.TEST)
  for images, labels in (train_pair, test_pair):
    idx.read_split(images, labels)  # the checks of ingestion: IdxFormatError names the file
  number = max(existing, default=0) + 1
  data_root.mkdir(parents=True, exist_ok=True)
  staging = Path(tempfile.mkdtemp(prefix=f'.{dataset.SPAN_DIR_PREFIX}{number}.', dir=data_root))
  staging.chmod(0o755)  # mkdtemp's is private to its user; a span is data for every reader
  try:
    for split, (images, labels) in ((dataset.TRAIN, train_pair), (dataset.TEST, test_pair)):
      for source, target in zip((images, labels), _split_files(staging, split)):
        shutil.copyfile(source, target)
    target = data_root / f'{dataset.SPAN_DIR_PREFIX}{number}'
    try:
      staging.rename(target)  # atomic: a run sees the whole span or none of it
    except OSError as e:
      raise SpanError(f'{target}: was created by someone else meanwhile; add the span again') \
          from e
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return number, target


def split_training_set(source_dir: Path, out_dir: Path, parts: int) -> List[Path]:
  """Cuts source_dir's training set into `parts` folders of consecutive images (part-1, ...),
  each with a training images and labels file ready for add_span; returns the folders."""
  images, labels = idx.read_split(*_split_files(source_dir, dataset.TRAIN))
  if not 1 <= parts <= len(images):
    raise SpanError(f'{source_dir}: cannot split {len(images)} images into {parts} parts')
  folders = []
  for number, indices in enumerate(np.array_split(np.arange(len(images)), parts), start=1):
    folder = out_dir / f'{PART_DIR_PREFIX}{number}'
    folder.mkdir(parents=True, exist_ok=True)
    images_path, labels_path = _split_files(folder, dataset.TRAIN)
    idx.write_images(images_path, images[indices])
    idx.write_labels(labels_path, labels[indices])
    folders.append(folder)
  return folders
