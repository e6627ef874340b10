"""Running `fashion-pipeline serve` as a subprocess, for the tests, the benchmarks and the fuzzer:
on free ports of 127.0.0.1, waited for until it serves, stopped with SIGTERM (and checked to exit
cleanly) afterwards.

In: a serving dir (or a model config file) and extra `serve` flags. Out: `running_server`, a
context manager yielding a Server (its URLs, process and log). Imports no TensorFlow.
"""

import contextlib
import dataclasses
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Optional

import httpx

MODEL_NAME = 'fashion'
_STARTUP_TIMEOUT_S = 120  # importing TensorFlow takes 10-20 s on a busy 2-core machine
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
