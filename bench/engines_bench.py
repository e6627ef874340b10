"""Benchmark: the full pipeline (all 70,000 images, default settings) with its Beam work on the
DirectRunner in this process, on the local Flink cluster and on the local Spark cluster.

Each engine's cluster is started first (`fashion-pipeline cluster start`, not timed) and stopped
after. For each run: the wall time; the peak memory of the pipeline's process tree and, for the
engines, of the cluster's processes (JobManager/TaskManager or master/worker, job server, worker
pool and its SDK workers), each summed over the tree and sampled every 0.2 s; every component's
wall time from ML Metadata; and each Beam job's own duration as the engine reports it (Flink's
REST API, the Spark master's JSON), so that a component's time splits into the job's run on the
cluster and what it spends around it (building the job, staging, submitting). Prints a table and
writes JSON to bench/results/engines-<date>.json.

  scripts/in-env python bench/engines_bench.py [--data-dir DIR] [--engines direct,flink,spark]
"""

import argparse
import datetime
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / 'bench'))

from engines import cluster  # pylint: disable=wrong-import-position
from engines import settings  # pylint: disable=wrong-import-position
import pipeline_bench  # pylint: disable=wrong-import-position

_ENGINES = ('direct', *settings.ENGINES)


class ClusterMemory:
  """Samples the summed RSS of a cluster's processes (and their children) while a run goes."""

  def __init__(self, engine: str):
    state = cluster.state_dir(engine)
    self._processes = [psutil.Process(status.pid) for status in cluster.status(engine)
                       if status.pid and state.running_pid(status.name)]
    self.peak = 0
    self._done = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)

  def _sample(self):
    while not self._done.is_set():
      self.peak = max(self.peak, sum(pipeline_bench.tree_rss(p) for p in self._processes))
      time.sleep(0.2)

  def __enter__(self):
    self._thread.start()
    return self

  def __exit__(self, *exc):
    self._done.set()
    self._thread.join()


def _job_durations(engine: str) -> dict:
  """Job name -> seconds the engine ran it, for the jobs it has run."""
  ui = f'http://{settings.HOST}:{settings.PORTS[engine].ui}'
  import urllib.request  # pylint: disable=g-import-not-at-top
  if engine == 'flink':
    with urllib.request.urlopen(f'{ui}/jobs/overview') as response:
      return {job['name']: round(job['duration'] / 1000, 1) for job in json.load(response)['jobs']}
  with urllib.request.urlopen(f'{ui}/json/') as response:
    status = json.load(response)
  return {app['name'].rsplit('_', 1)[0]: round(app['duration'] / 1000, 1)
          for app in status['completedapps']}


def bench_engine(engine: str, data_dir: Path, work_dir: Path) -> dict:
  output_dir = work_dir / engine
  log_path = work_dir / f'{engine}.log'
  if engine == 'direct':
    return pipeline_bench.run_pipeline(data_dir, output_dir, [], log_path)
  started_here = not all(status.pid for status in cluster.status(engine))
  cluster.start(engine)
  try:
    with ClusterMemory(engine) as memory:
      result = pipeline_bench.run_pipeline(data_dir, output_dir, list(settings.beam_args(engine)),
                                           log_path)
    result['cluster_peak_rss_gb'] = round(memory.peak / 2**30, 2)
    result['engine_job_seconds'] = _job_durations(engine)
  finally:
    if started_here:
      cluster.stop(engine)
  return result


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  pipeline_bench.add_data_dir_argument(parser)
  parser.add_argument('--engines', default=','.join(_ENGINES))
  args = parser.parse_args()
  results = {
      'date': datetime.date.today().isoformat(),
      'cores': os.cpu_count(),
      'memory_gb': round(psutil.virtual_memory().total / 2**30, 1),
      'load_average_at_start': os.getloadavg()[0],
      'versions': {'beam_java': settings.BEAM_JAVA_VERSION, 'flink': settings.FLINK_VERSION,
                   'spark': settings.SPARK_VERSION},
      'runs': {},
  }
  path = REPO_ROOT / 'bench' / 'results' / f"engines-{results['date']}-{os.cpu_count()}cores.json"
  with tempfile.TemporaryDirectory(prefix='engines-bench-') as work:
    for engine in args.engines.split(','):
      print(f'{engine} ...', flush=True)
      results['runs'][engine] = bench_engine(engine, args.data_dir.absolute(), Path(work))
      # After each engine, so that a long benchmark cut short keeps what it measured.
      path.write_text(json.dumps(results, indent=2) + '\n')
  print(f"\n{'engine':<8}{'wall s':>8}{'peak GB':>9}{'cluster GB':>11}{'accuracy':>10}")
  for engine, run in results['runs'].items():
    print(f"{engine:<8}{run['seconds']:>8}{run['peak_rss_gb']:>9}"
          f"{run.get('cluster_peak_rss_gb', ''):>11}{run['accuracy']:>10.4f}")
  components = sorted({c for run in results['runs'].values() for c in run['components']})
  print(f"\n{'component':<22}" + ''.join(f'{engine:>9}' for engine in results['runs']))
  for component in components:
    print(f'{component:<22}' + ''.join(
        f"{run['components'].get(component, {}).get('seconds', ''):>9}"
        for run in results['runs'].values()))
  print(f'\n{path}')


if __name__ == '__main__':
  main()
