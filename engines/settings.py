"""Every fact about the Flink and Spark clusters that `fashion-pipeline cluster` starts on this
machine: versions, where their files come from and go, ports, memory. Nothing here imports
TensorFlow, Beam or Java.

Versions: the Python side is Beam 2.61.0 (the environment's). Beam publishes no 2.61.0 Java runner
where this project's machines reach Maven Central (its job-server jars, shaded or not, answer 404
for every version), so the job servers are assembled from Beam 2.62.0's runner artifacts and their
dependencies, which are served; the job API between a 2.61 SDK and a 2.62 job server is the same
portable protocol (checked by the distributed tests). Flink 1.19 is the newest Flink that Beam
2.61/2.62 support; Flink's runtime is the jars of `apache-flink-libraries` (flink-dist is not on
Maven Central here). Spark 3.5 is the newest Spark 3 (Beam's Spark 3 runner is built against 3.2.2
and runs on later 3.x; 3.2 predates Spark's Java 17 support, and Java 17 is what Debian 12 has);
Spark's runtime is the jars and launch scripts in `pyspark`.
"""

import dataclasses
import os
from pathlib import Path
from typing import Tuple

ENGINES = ('flink', 'spark')
HOST = '127.0.0.1'

# Outside the clone, beside the Python environment, so fresh clones and CI share the downloads.
CACHE_DIR_ENV_VAR = 'FASHION_PIPELINE_ENGINES'
DEFAULT_CACHE_DIR = Path('~/.cache/fashion-pipeline/engines')

BEAM_JAVA_VERSION = '2.62.0'
FLINK_VERSION = '1.19.3'
FLINK_MINOR = '1.19'
SPARK_VERSION = '3.5.9'


@dataclasses.dataclass(frozen=True)
class PyPiRuntime:
  """An engine's runtime, as the sdist of a PyPI package whose `deps/` folder holds it."""
  package: str
  version: str
  sha256: str  # of the sdist, checked by pip (--require-hashes)


FLINK_RUNTIME = PyPiRuntime(
    'apache-flink-libraries', FLINK_VERSION,
    '4a58e3a1fb7d83340bc96b6c080624c6d792d69fae5d294b96224775204a9c60')
SPARK_RUNTIME = PyPiRuntime(
    'pyspark', SPARK_VERSION, 'ea27adc39ddac9413b8951e45aa748cbed6c785971b81386efc41938f6243d93')

# Beam's runner for each engine, with its dependencies from Maven Central but without the engine's
# own artifacts: those come from the engine's runtime above, so client and cluster are one version.
JOB_SERVER_ARTIFACTS = {
    'flink': ('org.apache.beam', f'beam-runners-flink-{FLINK_MINOR}', BEAM_JAVA_VERSION,
              'org.apache.flink'),
    'spark': ('org.apache.beam', 'beam-runners-spark-3', BEAM_JAVA_VERSION, 'org.apache.spark'),
}
JOB_SERVER_MAIN_CLASSES = {
    'flink': 'org.apache.beam.runners.flink.FlinkJobServerDriver',
    'spark': 'org.apache.beam.runners.spark.SparkJobServerDriver',
}
# The SHA-256 of every jar of each job server's classpath, in sha256sum's format.
JAR_CHECKSUMS_FILE = Path(__file__).resolve().parent / 'job_server_jars.sha256'


@dataclasses.dataclass(frozen=True)
class EnginePorts:
  """The ports one engine's processes listen on, all on HOST: non-default ones, so that a
  Flink or Spark someone else runs on the usual ports does not clash."""
  ui: int  # Flink's REST API and web UI / the Spark master's web UI and REST status
  job: int  # Beam's job server: the job endpoint the pipeline submits to
  artifact: int
  expansion: int
  worker_pool: int  # the SDK worker pool that starts the Python workers
  cluster: Tuple[int, ...]  # the engine's own RPC, data and blob ports


PORTS = {
    'flink': EnginePorts(ui=18081, job=18099, artifact=18098, expansion=18097, worker_pool=50100,
                         cluster=(16123, 16124, 16125, 16126)),
    # cluster: the master's RPC, the worker's RPC, and the worker's web UI.
    'spark': EnginePorts(ui=18080, job=28099, artifact=28098, expansion=28097, worker_pool=50200,
                         cluster=(17077, 17078, 18181)),
}

# Two slots / two cores: this machine's cores, and the parallelism of each Beam job.
PARALLELISM = 2
# Memory of each process, modest: the data stays small and the Python workers do the work.
FLINK_JOBMANAGER_MEMORY = '768m'
FLINK_TASKMANAGER_MEMORY = '1536m'
FLINK_NETWORK_MEMORY = '256m'  # of the TaskManager's, for the shuffles (engines/flink.py)
SPARK_DAEMON_HEAP = '384m'
SPARK_WORKER_MEMORY = '1g'
SPARK_EXECUTOR_MEMORY = '768m'
JOB_SERVER_HEAP = '512m'
SPARK_ENVIRONMENT_CACHE_MS = 60_000

# How long a process may take to listen on its port before `cluster start` gives up.
STARTUP_TIMEOUT_S = 120


def cache_dir(environ=os.environ) -> Path:
  return Path(environ.get(CACHE_DIR_ENV_VAR) or DEFAULT_CACHE_DIR).expanduser().absolute()


def job_server_jars_dir(engine: str, environ=os.environ) -> Path:
  """Where engines/fetch.py puts the jars of an engine's Beam job server."""
  _, artifact, version, _ = JOB_SERVER_ARTIFACTS[engine]
  return cache_dir(environ) / f'{artifact}-job-server-{version}' / 'lib'


def job_endpoint(engine: str) -> str:
  return f'{HOST}:{PORTS[engine].job}'


def beam_args(engine: str) -> Tuple[str, ...]:
  """The Beam options that run each Beam-based component on an engine's cluster started by
  `fashion-pipeline cluster start ENGINE`: Beam's portable runner against the engine's job
  server, the Python work in the SDK workers of the engine's worker pool. None for 'direct'."""
  if engine == 'direct':
    return ()
  args = ('--runner=PortableRunner', f'--job_endpoint={job_endpoint(engine)}',
          '--environment_type=EXTERNAL', f'--environment_config={HOST}:{PORTS[engine].worker_pool}',
          f'--parallelism={PARALLELISM}')
  if engine == 'spark':
    # Beam's jars, without Spark's own (engines/beam_options.py). Flink's job server always ships
    # its whole classpath.
    jars = sorted(job_server_jars_dir(engine).glob('*.jar'))
    args += ('--files_to_stage=' + ','.join(map(str, jars)),
             # Spark's runner lets go of a task's SDK worker when the task ends, and the next task
             # waits for a new one (a Python start-up of seconds: 36 workers for StatisticsGen on
             # 600 images); kept for a minute, one worker serves the job's tasks in turn.
             f'--environment_cache_millis={SPARK_ENVIRONMENT_CACHE_MS}')
  return args
