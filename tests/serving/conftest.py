"""Fixtures for the server tests: a model pushed by a small pipeline run (once per session), the
same model loaded in this process (the reference), and `fashion-pipeline serve` as a subprocess."""

import dataclasses
from pathlib import Path

import httpx
import numpy as np
import pytest
import tensorflow as tf

from fashion_mnist import dataset
from fashion_mnist import idx
from server_process import (CLIENT_TIMEOUT_S, MAX_BATCH_SIZE, MAX_BODY_BYTES, running_server,
                            serving_dir_with, small_pushed_model)


@dataclasses.dataclass(frozen=True)
class PushedModel:
  version_dir: Path  # <serving dir>/<version>
  images: np.ndarray  # test images [N, 28, 28] uint8 of the generated data
  labels: np.ndarray

  @property
  def version(self) -> int:
    return int(self.version_dir.name)


@pytest.fixture(scope='session')
def pushed_model(tmp_path_factory) -> PushedModel:
  version_dir, data_dir = small_pushed_model(tmp_path_factory)
  images, labels = idx.read_split(data_dir / dataset.TEST.images_file,
                                  data_dir / dataset.TEST.labels_file)
  return PushedModel(version_dir, images, labels)


@pytest.fixture(scope='session')
def local_model(pushed_model):
  """The pushed SavedModel, called in this process: what the server's answers must equal."""
  return tf.saved_model.load(str(pushed_model.version_dir))


@pytest.fixture(scope='session')
def server(tmp_path_factory, pushed_model):
  """One server for the read-only tests, over a serving dir of its own."""
  tmp_path = tmp_path_factory.mktemp('server')
  serving_dir = serving_dir_with(tmp_path, pushed_model.version_dir)
  with running_server(serving_dir, tmp_path / 'server.log', '--max-body-bytes', str(MAX_BODY_BYTES),
                      '--max-batch-size', str(MAX_BATCH_SIZE),
                      '--client-timeout', str(CLIENT_TIMEOUT_S)) as s:
    yield s


@pytest.fixture(scope='session')
def rest(server):
  with httpx.Client(base_url=server.rest_url, timeout=30) as client:
    yield client
