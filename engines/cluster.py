"""`fashion-pipeline cluster start|stop|status ENGINE`: an engine's whole local cluster, in order
(the engine's processes, Beam's job server, the SDK worker pool), each on 127.0.0.1, with its
logs and pid files in the engine's state dir (cache_dir()/run/ENGINE/).

In: an engine name. Out: running processes, or none.
"""

import dataclasses
import os
import sys
from pathlib import Path
from typing import Dict, List

from engines import fetch
from engines import processes
from engines import settings

WORKER_POOL = 'worker-pool'


def state_dir(engine: str) -> processes.StateDir:
  return processes.StateDir(settings.cache_dir() / 'run' / engine)


def worker_pool_environment() -> Dict[str, str]:
  """A worker pool's environment, which its workers inherit: this environment's python first on
  PATH, Keras 2 (the Evaluator loads the model), and the clone on the path (our executors, and
  the preprocessing_fn that Transform traces in a worker)."""
  clone = Path(__file__).resolve().parent.parent
  env = dict(os.environ, TF_USE_LEGACY_KERAS='1')
  env['PATH'] = os.pathsep.join([str(Path(sys.executable).parent), env.get('PATH', '')])
  env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(clone), env.get('PYTHONPATH')]))
  return env


def _worker_pool(engine: str) -> processes.Daemon:
  port = settings.PORTS[engine].worker_pool
  return processes.Daemon(WORKER_POOL, [sys.executable, '-m', 'engines.worker_pool',
                                        f'--port={port}'], port, worker_pool_environment())


def daemons(engine: str) -> List[processes.Daemon]:
  """Every process of an engine's cluster, in the order they start."""
  from engines import flink, spark  # pylint: disable=g-import-not-at-top
  files = fetch.ensure(engine)
  module = flink if engine == 'flink' else spark
  return [*module.daemons(files, state_dir(engine).path), _worker_pool(engine)]


@dataclasses.dataclass(frozen=True)
class Status:
  name: str
  pid: int  # 0: not running
  port: int
  log_path: Path


def start(engine: str) -> List[Status]:
  """Starts what is not running yet; on a failure stops what this call started."""
  state = state_dir(engine)
  started = []
  try:
    for daemon in daemons(engine):
      if not state.running_pid(daemon.name):
        started.append(daemon.name)
      state.start(daemon)
  except BaseException:
    for name in reversed(started):
      state.stop(name)
    raise
  return status(engine)


def stop(engine: str) -> List[str]:
  """Stops every process of the engine's cluster, the last started first; returns their names."""
  state = state_dir(engine)
  names = [WORKER_POOL, 'job-server', *reversed(_cluster_names(engine))]
  return [name for name in names if state.stop(name)]


def _cluster_names(engine: str) -> List[str]:
  return ['jobmanager', 'taskmanager'] if engine == 'flink' else ['master', 'worker']


def status(engine: str) -> List[Status]:
  state = state_dir(engine)
  ports = settings.PORTS[engine]
  names_ports = [*zip(_cluster_names(engine), ports_of_cluster(engine)),
                 ('job-server', ports.job), (WORKER_POOL, ports.worker_pool)]
  return [Status(name, state.running_pid(name) or 0, port, state.log_path(name))
          for name, port in names_ports]


def ports_of_cluster(engine: str) -> List[int]:
  """The port each of the engine's own two processes is checked on."""
  ports = settings.PORTS[engine]
  return [ports.ui, ports.cluster[1]] if engine == 'flink' else [ports.cluster[0], ports.cluster[2]]
