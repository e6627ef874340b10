"""Finds the four Fashion-MNIST IDX files, downloading them (checksums verified) when needed.

In order: the configured data dir (--data-dir, or the FASHION_MNIST_DIR environment variable), the
Keras cache (~/.keras/datasets/fashion-mnist, where keras.datasets.fashion_mnist keeps them), else a
download from the public mirror into that cache.
"""

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from fashion_mnist import dataset
from pipeline import spans
from pipeline.configs import PipelineConfig

_CHUNK_BYTES = 1 << 20


class DataSourceError(RuntimeError):
  """The data cannot be found or fetched; the message says which file and why."""


def _missing_files(directory: Path):
  return [name for name in dataset.FILE_NAMES if not (directory / name).is_file()]


def resolve_data_dir(config: PipelineConfig) -> Path:
  """Returns a directory that holds all four IDX files, or span folders that each do."""
  if config.data_dir is not None:
    span_dirs = spans.span_dirs(config.data_dir)
    files_dir = span_dirs[max(span_dirs)] if span_dirs else config.data_dir
    missing = _missing_files(files_dir)
    if missing:
      raise DataSourceError(f'{files_dir}: missing {", ".join(missing)}')
    return config.data_dir
  cache_dir = config.data_cache_dir
  missing = _missing_files(cache_dir)
  if missing:
    download(config.mirror_url, cache_dir, missing)
  return cache_dir


def sha256_of(path: Path) -> str:
  digest = hashlib.sha256()
  with open(path, 'rb') as f:
    for chunk in iter(lambda: f.read(_CHUNK_BYTES), b''):
      digest.update(chunk)
  return digest.hexdigest()


def download(mirror_url: str, target_dir: Path, file_names=dataset.FILE_NAMES,
             checksums=dataset.SHA256) -> None:
  """Downloads files from the mirror into target_dir, each kept only if its SHA-256 matches.

  A file is written under a temporary name and renamed into place once verified, so a failed or
  interrupted download never leaves a file that looks complete.
  """
  target_dir.mkdir(parents=True, exist_ok=True)
  for name in file_names:
    url = mirror_url.rstrip('/') + '/' + name
    logging.info('Downloading %s', url)
    with tempfile.NamedTemporaryFile(dir=target_dir, prefix=f'.{name}.', delete=False) as tmp:
      try:
        try:
          with urllib.request.urlopen(url, timeout=60) as response:
            for chunk in iter(lambda: response.read(_CHUNK_BYTES), b''):
              tmp.write(chunk)
        except (urllib.error.URLError, OSError) as e:
          raise DataSourceError(f'{url}: download failed ({e})') from e
        tmp.close()
        actual = sha256_of(Path(tmp.name))
        if actual != checksums[name]:
          raise DataSourceError(f'{url}: checksum mismatch, SHA-256 {actual} but the published '
                                f'file has {checksums[name]}; the file was not kept')
        os.replace(tmp.name, target_dir / name)
      finally:
        if os.path.exists(tmp.name):
          os.unlink(tmp.name)
