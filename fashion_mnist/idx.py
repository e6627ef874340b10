"""Reading, checking and writing Fashion-MNIST's IDX files (gzipped or plain).

Image files: big-endian magic 0x00000803, then N, 28, 28, then N*784 uint8 pixels row by row.
Label files: magic 0x00000801, then N, then N uint8 labels in 0..9.
"""

import glob
import gzip
import os
import struct
from typing import Tuple, Union

import numpy as np

from fashion_mnist import features

IMAGES_MAGIC = 0x00000803
LABELS_MAGIC = 0x00000801
_GZIP_MAGIC = b'\x1f\x8b'

PathLike = Union[str, os.PathLike]


class IdxFormatError(ValueError):
  """An IDX file is not what Fashion-MNIST needs; the message names the file and the problem."""

  def __init__(self, path: PathLike, problem: str):
    super().__init__(f'{os.fspath(path)}: {problem}')
    self.path = os.fspath(path)
    self.problem = problem


def _read_bytes(path: PathLike) -> bytes:
  try:
    with open(path, 'rb') as f:
      data = f.read()
  except OSError as e:
    raise IdxFormatError(path, f'cannot be read ({e.strerror})') from e
  if data[:2] != _GZIP_MAGIC:
    return data
  try:
    return gzip.decompress(data)
  except (EOFError, OSError, gzip.BadGzipFile) as e:
    raise IdxFormatError(path, f'is not a complete gzip stream ({e})') from e


def _parse_header(path: PathLike, data: bytes, magic: int, num_dims: int) -> Tuple[int, ...]:
  header_size = 4 * (1 + num_dims)
  if not data:
    raise IdxFormatError(path, 'is empty (0 bytes)')
  if len(data) < header_size:
    raise IdxFormatError(path, f'is truncated: {len(data)} bytes, shorter than the '
                         f'{header_size}-byte IDX header')
  found_magic, *dims = struct.unpack(f'>{1 + num_dims}I', data[:header_size])
  kind = 'images' if magic == IMAGES_MAGIC else 'labels'
  if found_magic != magic:
    raise IdxFormatError(path, f'has magic number 0x{found_magic:08x}, expected 0x{magic:08x} '
                         f'({kind})')
  if dims[0] == 0:  # valid IDX, but nothing to train or evaluate on: refused here, not in Beam
    raise IdxFormatError(path, f'holds 0 {kind}')
  expected_size = header_size + int(np.prod(dims))
  if len(data) != expected_size:
    state = 'is truncated' if len(data) < expected_size else 'has trailing data'
    raise IdxFormatError(path, f'{state}: {len(data) - header_size} data bytes for header '
                         f'dimensions {tuple(dims)}, which need {expected_size - header_size}')
  return tuple(dims)


def read_magic(path: PathLike) -> int:
  """The file's magic number, IMAGES_MAGIC or LABELS_MAGIC: what kind of IDX file it is."""
  data = _read_bytes(path)
  found_magic = struct.unpack('>I', data[:4])[0] if len(data) >= 4 else None
  if found_magic not in (IMAGES_MAGIC, LABELS_MAGIC):
    raise IdxFormatError(path, 'is not an IDX image or label file (its magic number is '
                         f'{"missing" if found_magic is None else hex(found_magic)})')
  return found_magic


def read_images(path: PathLike) -> np.ndarray:
  """Returns the images of an IDX image file as a uint8 array of shape [N, 28, 28]."""
  data = _read_bytes(path)
  count, height, width = _parse_header(path, data, IMAGES_MAGIC, 3)
  if (height, width) != features.IMAGE_SHAPE:
    raise IdxFormatError(path, f'holds {height}x{width} images, expected '
                         f'{features.IMAGE_HEIGHT}x{features.IMAGE_WIDTH}')
  return np.frombuffer(data, np.uint8, offset=16).reshape(count, height, width)


def read_labels(path: PathLike) -> np.ndarray:
  """Returns the labels of an IDX label file as a uint8 array of shape [N], each in 0..9."""
  data = _read_bytes(path)
  _parse_header(path, data, LABELS_MAGIC, 1)
  labels = np.frombuffer(data, np.uint8, offset=8)
  bad = np.flatnonzero(labels >= features.NUM_CLASSES)
  if bad.size:
    raise IdxFormatError(path, f'label {labels[bad[0]]} at index {bad[0]} is outside '
                         f'0..{features.NUM_CLASSES - 1} ({bad.size} such labels)')
  return labels


def find_split_files(folder: PathLike, split_pattern: str) -> Tuple[str, str]:
  """Returns (images file, labels file) matching a split's pattern (dataset.SPLIT_PATTERNS) in
  folder: one IDX image (idx3) and one IDX label (idx1) file, else IdxFormatError."""
  matches = sorted(glob.glob(os.path.join(folder, split_pattern)))
  images = [path for path in matches if 'idx3' in os.path.basename(path)]
  labels = [path for path in matches if 'idx1' in os.path.basename(path)]
  if len(images) != 1 or len(labels) != 1:
    raise IdxFormatError(
        os.path.join(folder, split_pattern),
        f'expected one images (idx3) and one labels (idx1) file, found {matches or "none"}')
  return images[0], labels[0]


def read_split(images_path: PathLike, labels_path: PathLike) -> Tuple[np.ndarray, np.ndarray]:
  """Reads and cross-checks an image file and its label file; returns (images, labels)."""
  images = read_images(images_path)
  labels = read_labels(labels_path)
  if len(images) != len(labels):
    raise IdxFormatError(images_path, f'holds {len(images)} images but {os.fspath(labels_path)} '
                         f'holds {len(labels)} labels')
  return images, labels


def _write(path: PathLike, header: bytes, values: np.ndarray) -> None:
  data = header + np.ascontiguousarray(values, dtype=np.uint8).tobytes()
  opener = gzip.open if os.fspath(path).endswith('.gz') else open
  with opener(path, 'wb') as f:
    f.write(data)


def write_images(path: PathLike, images: np.ndarray) -> None:
  """Writes uint8 images of shape [N, 28, 28] as an IDX image file (gzipped if path ends in .gz)."""
  _write(path, struct.pack('>4I', IMAGES_MAGIC, *images.shape), images)


def write_labels(path: PathLike, labels: np.ndarray) -> None:
  """Writes labels of shape [N] as an IDX label file (gzipped if path ends in .gz)."""
  _write(path, struct.pack('>2I', LABELS_MAGIC, len(labels)), labels)
