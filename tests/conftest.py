"""Shared fixtures: small generated IDX datasets and the real dataset."""

import os

# The serving model and TFMA need Keras 2; set before any test imports TensorFlow.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

from pathlib import Path  # pylint: disable=wrong-import-position

import pytest

from fashion_mnist import dataset
from helpers import REAL_DATA_DIR, write_dataset


@pytest.fixture
def small_dataset(tmp_path) -> Path:
  return write_dataset(tmp_path / 'data')


@pytest.fixture(scope='session')
def real_data_dir() -> Path:
  missing = [name for name in dataset.FILE_NAMES if not (REAL_DATA_DIR / name).is_file()]
  if missing:
    pytest.skip(f'the real Fashion-MNIST files are not in {REAL_DATA_DIR} '
                f'(set FASHION_MNIST_DIR): missing {missing}')
  return REAL_DATA_DIR
