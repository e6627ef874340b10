"""The whole pipeline through Beam's portability layer, the way Flink and Spark clusters run
Python: PortableRunner with an embedded job service, every Beam stage executed by SDK workers that
an external worker pool (`python -m apache_beam.runners.worker.worker_pool_main`) starts.

In: a small generated dataset and a worker pool on a free port. Out: a run that blesses and pushes,
and the pool's log naming the workers it started for it.
"""

import contextlib
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engines import cluster
from helpers import run_cli, write_dataset
from pipeline import configs
from mlmd import run_summary
from server_process import free_port

pytestmark = pytest.mark.e2e

# ExampleGen, StatisticsGen and Evaluator each run a Beam pipeline over the data, with a worker
# each. (Transform, which writes only the graph of a preprocessing_fn without analyzers, may
# need none.)
BEAM_COMPONENT_COUNT = 3
_POOL_STARTUP_TIMEOUT_S = 120
# Workers that cannot import our code leave the run waiting for them instead of failing it.
_RUN_TIMEOUT_S = 1200
# The pool logs each worker it starts (a warning, so it is shown without any logging set up).
_WORKER_STARTED = re.compile(r'Starting worker with command .*worker_id="([^"]+)"')


@dataclasses.dataclass(frozen=True)
class WorkerPool:
  port: int
  log_path: Path

  def log(self) -> str:
    return self.log_path.read_text()


def _wait_until_listening(pool: subprocess.Popen, port: int, log_path: Path) -> None:
  deadline = time.monotonic() + _POOL_STARTUP_TIMEOUT_S
  while True:
    assert pool.poll() is None, f'the worker pool exited:\n{log_path.read_text()[-3000:]}'
    try:
      socket.create_connection(('127.0.0.1', port), timeout=1).close()
      return
    except OSError:
      pass
    assert time.monotonic() < deadline, f'no worker pool on {port}:\n{log_path.read_text()[-3000:]}'
    time.sleep(0.2)


def _stop(pool: subprocess.Popen) -> None:
  """Stops the pool and the workers it started: they share the process group it leads."""
  with contextlib.suppress(ProcessLookupError):
    os.killpg(pool.pid, signal.SIGTERM)
  with contextlib.suppress(subprocess.TimeoutExpired):
    pool.wait(timeout=15)
  # Workers that outlived the pool still hold its group id, so this reaches only them.
  with contextlib.suppress(ProcessLookupError):
    os.killpg(pool.pid, signal.SIGKILL)
  pool.wait()


@pytest.fixture(scope='module')
def worker_pool(tmp_path_factory):
  port = free_port()
  log_path = tmp_path_factory.mktemp('worker-pool') / 'pool.log'
  with open(log_path, 'w') as log:
    pool = subprocess.Popen(
        [sys.executable, '-m', 'apache_beam.runners.worker.worker_pool_main',
         f'--service_port={port}'],
        stdout=log, stderr=subprocess.STDOUT, env=cluster.worker_pool_environment(),
        start_new_session=True)
  try:
    _wait_until_listening(pool, port, log_path)
    yield WorkerPool(port, log_path)
  finally:
    _stop(pool)


@pytest.fixture(scope='module')
def portable_run(tmp_path_factory, worker_pool):
  root = tmp_path_factory.mktemp('portable')
  output_dir = root / 'out'
  try:
    result = run_cli(
        'run', '--data-dir', str(write_dataset(root / 'data')), '--output-dir', str(output_dir),
        '--epochs', '1', '--accuracy-threshold', '0.5',
        '--beam-arg=--runner=PortableRunner', '--beam-arg=--job_endpoint=embed',
        '--beam-arg=--environment_type=EXTERNAL',
        f'--beam-arg=--environment_config=127.0.0.1:{worker_pool.port}',
        timeout=_RUN_TIMEOUT_S)
  except subprocess.TimeoutExpired:
    pytest.fail(f'the run did not finish; the worker pool said:\n{worker_pool.log()[-5000:]}')
  assert result.returncode == 0, (
      f'{result.stderr[-5000:]}\nthe worker pool said:\n{worker_pool.log()[-3000:]}')
  return result, output_dir


def test_the_pipeline_completes_blesses_and_pushes(portable_run):
  result, output_dir = portable_run
  summary = run_summary.summarize(configs.build(output_dir=output_dir, environ={}))
  assert all(c.state == 'ran' for c in summary.components), summary.components
  assert summary.blessed and summary.accuracy > 0.5
  assert summary.pushed_path and Path(summary.pushed_path).is_dir()
  assert 'Blessed: yes' in result.stdout
  assert f'Pushed: {summary.pushed_path}' in result.stdout


def test_the_beam_work_ran_in_the_pools_workers(worker_pool, portable_run):
  # With the EXTERNAL environment, the job service has no worker of its own: each Beam pipeline
  # asks the pool for one, and the run could not have finished without them.
  workers = set(_WORKER_STARTED.findall(worker_pool.log()))
  assert len(workers) >= BEAM_COMPONENT_COUNT, worker_pool.log()[-3000:]
