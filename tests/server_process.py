"""Test helpers around the server subprocess (serving.process runs it): retrained copies of a
model and client loops that keep sending requests while a test changes what is served."""

import contextlib
import shutil
import threading
import time
from pathlib import Path
from typing import Dict, Tuple

import httpx

from helpers import run_cli, write_dataset
from serving.process import (MODEL_NAME, PREDICT, Server, free_port, running_server,  # noqa: F401
                             serving_dir_with)

# Limits of the shared server, small enough that tests can go over them cheaply.
MAX_BODY_BYTES = 4_000_000
MAX_BATCH_SIZE = 100
CLIENT_TIMEOUT_S = 2  # a stalled client is closed within seconds
_LOOP_LIMIT_S = 120  # the client loops stop by themselves, whatever happens


_small_model: Dict[str, Tuple[Path, Path]] = {}


def small_pushed_model(tmp_path_factory) -> Tuple[Path, Path]:
  """A model pushed by a pipeline run on small generated data (one epoch), once per test session
  whoever asks first (the serving and the reliability tests); returns the pushed version's dir
  and the data dir. Treat both as read-only."""
  if not _small_model:
    root = tmp_path_factory.mktemp('serving-model')
    data_dir = write_dataset(root / 'data')
    result = run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(root / 'out'),
                     '--epochs', '1', '--accuracy-threshold', '0.5')
    assert result.returncode == 0, result.stderr[-5000:]
    (version_dir,) = (root / 'out' / 'serving').iterdir()
    _small_model['model'] = version_dir, data_dir
  return _small_model['model']


def retrained(pushed_model, tmp_path, run=0):
  """A copy of the model that differs by one extra file (which TF Serving ignores): the Pusher
  publishes a model identical to the newest version only once."""
  model = tmp_path / f'retrained-{run}'
  shutil.copytree(pushed_model.version_dir, model)
  (model / 'assets.extra').mkdir(exist_ok=True)
  (model / 'assets.extra' / 'retrained.txt').write_text(f'a model from run {run}\n')
  return model


def client_loop(url, body, results, stop, path=PREDICT):
  """Sends the request again and again until stop is set; appends (status, answering version)."""
  with httpx.Client(base_url=url, timeout=30) as client:
    deadline = time.monotonic() + _LOOP_LIMIT_S
    while not stop.is_set() and time.monotonic() < deadline:
      try:
        response = client.post(path, json=body)
        results.append((response.status_code, response.headers.get('X-Model-Version')))
      except httpx.HTTPError as e:
        results.append((repr(e), None))


def wait_until(condition, timeout_s=60, what=''):
  deadline = time.monotonic() + timeout_s
  while not condition():
    assert time.monotonic() < deadline, f'timed out waiting for {what}'
    time.sleep(0.1)


@contextlib.contextmanager
def running_clients(url, body, path=PREDICT, count=2):
  """`count` client loops sending the request while the block runs; yields their result lists."""
  stop = threading.Event()
  per_client = [[] for _ in range(count)]
  clients = [threading.Thread(target=client_loop, args=(url, body, results, stop, path))
             for results in per_client]
  for client in clients:
    client.start()
  try:
    yield per_client
  finally:
    stop.set()
    for client in clients:
      client.join()
