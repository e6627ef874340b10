"""Running `fashion-pipeline serve` as a subprocess for tests: on free ports, waited for until it
serves, stopped with SIGTERM (and checked to exit cleanly) afterwards."""

import contextlib
import dataclasses
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional

import httpx

MODEL_NAME = 'fashion'
# Limits of the shared server, small enough that tests can go over them cheaply.
MAX_BODY_BYTES = 4_000_000
MAX_BATCH_SIZE = 100
_STARTUP_TIMEOUT_S = 120  # importing TensorFlow takes 10-20 s on a busy 2-core machine
_LOOP_LIMIT_S = 120  # the client loops stop by themselves, whatever happens
PREDICT = f'/v1/models/{MODEL_NAME}:predict'


def free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


@dataclasses.dataclass
class Server:
  process: subprocess.Popen
  rest_url: str
  grpc_target: str
  log_path: Path

  def log(self) -> str:
    return self.log_path.read_text()

  def wait_for_log(self, pattern: str, timeout_s: float = 30) -> re.Match:
    """The first match of a regex in the server's log, waiting for it to be written."""
    deadline = time.monotonic() + timeout_s
    while not (match := re.search(pattern, self.log())):
      assert time.monotonic() < deadline, f'{pattern!r} not in the log:\n{self.log()[-5000:]}'
      time.sleep(0.1)
    return match


def serving_dir_with(tmp_path: Path, version_dir: Path) -> Path:
  """A serving dir of its own holding a copy of the pushed version."""
  serving_dir = tmp_path / 'serving'
  shutil.copytree(version_dir, serving_dir / version_dir.name)
  return serving_dir


@contextlib.contextmanager
def running_server(serving_dir: Optional[Path], log_path: Path, *extra: str):
  """Starts `fashion-pipeline serve` on free ports (serving serving_dir as MODEL_NAME, or, when it
  is None, what extra says: a --model-config-file), waits until a version of MODEL_NAME is
  AVAILABLE, yields a Server; afterwards stops it with SIGTERM and checks that it exited
  cleanly."""
  rest_port, grpc_port = free_port(), free_port()
  models = [] if serving_dir is None else ['--model-dir', str(serving_dir), '--model-name',
                                           MODEL_NAME]
  command = [str(Path(sys.executable).parent / 'fashion-pipeline'), 'serve', *models,
             '--host', '127.0.0.1', '--rest-port', str(rest_port), '--grpc-port', str(grpc_port),
             *extra]
  with open(log_path, 'w') as log:
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
  server = Server(process, f'http://127.0.0.1:{rest_port}', f'127.0.0.1:{grpc_port}', log_path)
  try:
    deadline = time.monotonic() + _STARTUP_TIMEOUT_S
    while True:
      assert process.poll() is None, f'the server exited early:\n{server.log()[-5000:]}'
      assert time.monotonic() < deadline, f'the server did not start:\n{server.log()[-5000:]}'
      try:
        status = httpx.get(f'{server.rest_url}/v1/models/{MODEL_NAME}', timeout=5)
        if 'AVAILABLE' in status.text:
          break
      except httpx.TransportError:
        pass
      time.sleep(0.3)
    yield server
  finally:
    process.send_signal(signal.SIGTERM)
    try:
      returncode = process.wait(timeout=60)
    except subprocess.TimeoutExpired:
      process.kill()
      raise
  assert returncode == 0, server.log()[-5000:]


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
