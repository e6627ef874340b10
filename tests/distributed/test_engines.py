"""The whole pipeline on real Flink and Spark clusters started here (`fashion-pipeline cluster
start`): a Flink session cluster (JobManager and TaskManager) and a Spark standalone cluster
(master and worker), each with Beam's job server and an SDK worker pool, all on 127.0.0.1.

In: a small generated dataset, the clusters (started by the fixture unless already running, and
then stopped again). Out: for each engine, a run that blesses and pushes a model as accurate as the
DirectRunner's on the same data, the engine's own API listing the jobs of our Beam components,
the worker pool's log its workers, and (Flink) the job graph our transforms; on Flink, a
TaskManager killed during a run fails that run with one clear line, and the next run completes and
pushes once.
"""

import collections
import dataclasses
import json
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Dict, Optional, Set

import pytest

from engines import cluster
from engines import settings
from helpers import cli_command, run_cli, write_dataset
from mlmd import run_summary
from pipeline import configs
from pipeline.pipeline import beam_job_name

pytestmark = pytest.mark.distributed
if not (shutil.which('java') and shutil.which('mvn')):
  # The Debian 13 root of the current stack has neither; CI runs these on the legacy stack.
  pytest.skip('the Flink and Spark clusters need Java 17 and mvn on PATH', allow_module_level=True)

_RUN_TIMEOUT_S = 1200
# The Beam jobs every run has: the ExampleGen's, StatisticsGen's and the Evaluator's.
_BEAM_COMPONENTS = ('FileBasedExampleGen', 'StatisticsGen', 'Evaluator')
_RUN_ARGS = ('--epochs', '1', '--accuracy-threshold', '0.5')
_ACCURACY_TOLERANCE = 0.02
_WORKER_STARTED = re.compile(r'Starting worker with command .*worker_id="([^"]+)"')


def _get_json(url: str):
  with urllib.request.urlopen(url, timeout=10) as response:
    return json.load(response)


def _run(data_dir: Path, output_dir: Path, *extra) -> subprocess.CompletedProcess:
  return run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir), *_RUN_ARGS,
                 *extra, timeout=_RUN_TIMEOUT_S)


def _summary(output_dir: Path) -> run_summary.RunSummary:
  return run_summary.summarize(configs.build(output_dir=output_dir, environ={}))


def _job_states(engine: str) -> Dict[str, Set[str]]:
  """Job name -> the states of the jobs of that name, from the engine's own API: Flink's REST
  API, the Spark master's JSON."""
  ui = f'http://{settings.HOST}:{settings.PORTS[engine].ui}'
  if engine == 'flink':
    jobs = [(job['name'], job['state']) for job in _get_json(f'{ui}/jobs/overview')['jobs']]
  else:
    status = _get_json(f'{ui}/json/')
    # Beam's Spark job server names each application JOBNAME_<invocation id>.
    jobs = [(app['name'].rsplit('_', 1)[0], app['state'])
            for app in status['completedapps'] + status['activeapps']]
  states = collections.defaultdict(set)
  for name, state in jobs:
    states[name].add(state)
  return states


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return write_dataset(tmp_path_factory.mktemp('distributed') / 'data')


@pytest.fixture(scope='module')
def direct_accuracy(data_dir, tmp_path_factory):
  """The DirectRunner's accuracy on the same data and settings, to compare the engines with."""
  output_dir = tmp_path_factory.mktemp('direct') / 'out'
  result = _run(data_dir, output_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  return _summary(output_dir).accuracy


@pytest.fixture(scope='module', params=settings.ENGINES)
def engine(request):
  """An engine's cluster: the one running, else one started here and stopped afterwards."""
  name = request.param
  already_running = all(status.pid for status in cluster.status(name))
  if not already_running:
    cluster.start(name)
  yield name
  if not already_running:
    cluster.stop(name)


@dataclasses.dataclass(frozen=True)
class Killed:
  """A run whose TaskManager was killed with kill -9 while a Beam job of it ran."""
  returncode: int
  stderr: str
  job: str
  pushed: list


@dataclasses.dataclass(frozen=True)
class EngineRun:
  result: subprocess.CompletedProcess
  output_dir: Path
  killed: Optional[Killed]  # on Flink, the run before it, on the same output dir


def _running_tasks(name: str) -> int:
  """How many tasks of Flink's job of that name run on a TaskManager (0 before they are deployed
  or when there is no such job)."""
  jobs = _get_json(f'http://{settings.HOST}:{settings.PORTS["flink"].ui}/jobs/overview')['jobs']
  return sum(job['tasks']['running'] for job in jobs if job['name'] == name)


def _wait_for_running_tasks(name: str, process: subprocess.Popen) -> None:
  deadline = time.monotonic() + _RUN_TIMEOUT_S
  while not _running_tasks(name):
    assert process.poll() is None, process.communicate()[1][-3000:]
    assert time.monotonic() < deadline, f'{name} never ran: {_job_states("flink")}'
    time.sleep(0.5)


def _run_killing_the_taskmanager(engine: str, data_dir: Path, output_dir: Path) -> Killed:
  job = beam_job_name(configs.build(output_dir=output_dir, environ={}), 'StatisticsGen')
  process = subprocess.Popen(
      cli_command('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir),
                  *_RUN_ARGS, '--engine', engine),
      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
  try:
    _wait_for_running_tasks(job, process)
    assert cluster.state_dir(engine).kill('taskmanager')
    _, stderr = process.communicate(timeout=_RUN_TIMEOUT_S)
  finally:
    process.kill()
    process.wait()
  return Killed(process.returncode, stderr, job, sorted((output_dir / 'serving').glob('*')))


@pytest.fixture(scope='module')
def engine_run(engine, data_dir, tmp_path_factory):
  """The pipeline on the engine. On Flink, to keep the time down, it is the rerun of a run whose
  TaskManager was killed (the cluster is started whole again in between): the fault test's second
  half."""
  output_dir = tmp_path_factory.mktemp(engine) / 'out'
  killed = None
  if engine == 'flink':
    killed = _run_killing_the_taskmanager(engine, data_dir, output_dir)
    cluster.start(engine)  # starts the TaskManager again
  result = _run(data_dir, output_dir, '--engine', engine)
  pool_log = cluster.state_dir(engine).log_path(cluster.WORKER_POOL)
  assert result.returncode == 0, f'{result.stderr[-5000:]}\npool:\n{pool_log.read_text()[-2000:]}'
  return EngineRun(result, output_dir, killed)


def test_the_pipeline_on_the_engine_blesses_and_pushes_as_the_direct_runner(engine_run,
                                                                           direct_accuracy):
  summary = _summary(engine_run.output_dir)
  assert summary.blessed and summary.pushed_path and Path(summary.pushed_path).is_dir()
  assert f'Pushed: {summary.pushed_path}' in engine_run.result.stdout
  assert abs(summary.accuracy - direct_accuracy) <= _ACCURACY_TOLERANCE, (summary.accuracy,
                                                                         direct_accuracy)


def test_the_engine_ran_the_beam_jobs_of_our_components(engine, engine_run):
  config = configs.build(output_dir=engine_run.output_dir, environ={})
  states = _job_states(engine)
  for component in _BEAM_COMPONENTS:
    name = beam_job_name(config, component)
    assert 'FINISHED' in states.get(name, ()), (name, states)
  # With the EXTERNAL environment, the engine has no Python of its own: it asked the pool.
  pool_log = cluster.state_dir(engine).log_path(cluster.WORKER_POOL).read_text()
  # (Worker ids count per job: Spark's first worker of every job is 1-1.)
  assert len(_WORKER_STARTED.findall(pool_log)) >= len(_BEAM_COMPONENTS), pool_log[-3000:]


def test_flinks_job_graph_has_our_transforms(engine, engine_run):
  if engine != 'flink':
    pytest.skip("Spark's master lists applications, not their operators")
  ui = f'http://{settings.HOST}:{settings.PORTS[engine].ui}'
  job_name = beam_job_name(configs.build(output_dir=engine_run.output_dir, environ={}),
                           'FileBasedExampleGen')
  (job_id, *_) = [job['jid'] for job in _get_json(f'{ui}/jobs/overview')['jobs']
                  if job['name'] == job_name and job['state'] == 'FINISHED']
  vertices = ' '.join(vertex['name'] for vertex in _get_json(f'{ui}/jobs/{job_id}')['vertices'])
  # The labels of components/idx_example_gen.py's transforms.
  assert 'Shards[train]' in vertices and 'WriteSplit[eval]' in vertices, vertices


def test_a_killed_taskmanager_fails_the_run_and_the_next_run_pushes_once(engine, engine_run):
  killed = engine_run.killed
  if killed is None:
    pytest.skip('Spark reschedules the tasks of a lost worker rather than failing the job')
  assert killed.returncode == 4, killed.stderr[-3000:]
  last_line = killed.stderr.strip().splitlines()[-1]
  assert last_line.startswith(f'fashion-pipeline: error: the Beam job {killed.job}_'), last_line
  assert 'nothing was pushed by this run' in last_line
  assert killed.pushed == []
  # The rerun (engine_run) completed, reused what the killed run finished, and pushed once.
  summary = _summary(engine_run.output_dir)
  assert summary.blessed
  assert [p.name for p in (engine_run.output_dir / 'serving').iterdir()] == [
      Path(summary.pushed_path).name]
