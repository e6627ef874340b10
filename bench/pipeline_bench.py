"""Benchmark: the whole pipeline against the tutorial script it replaces, on the same machine.

In one run: (1) the tutorial's script as written (bench/tutorial.py) on the local IDX files;
(2) the full pipeline cold into a fresh output dir, then (3) again with nothing changed (answered
from ML Metadata), (4) again with --rerun (the pipeline runs, and TFX's cache answers each
component), and (5) as a scheduled run does it, `run --if-new-data`, which stops before the
pipeline. For each:
wall time, the peak memory of the whole process tree (RSS of the process and all its children,
summed, sampled every 0.2 s) and the CPU time the hypervisor stole meanwhile; per component, the
wall time ML Metadata recorded; the test accuracy of both. By default it measures both stacks,
one after the other, each in its own environment (scripts/in-env with FASHION_PIPELINE_STACK; the
current stack in the Debian 13 root on older hosts). Prints a table per stack and writes them as
JSON to bench/results/pipeline-<date>.json.

  scripts/in-env python bench/pipeline_bench.py [--stacks current,legacy] [--pairs 3]
                                                [--data-dir DIR] [--beam-arg ARG ...]
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from fashion_mnist import dataset  # pylint: disable=wrong-import-position
from fashion_mnist import stack  # pylint: disable=wrong-import-position
from pipeline import configs  # pylint: disable=wrong-import-position

_SAMPLE_SECONDS = 0.2


def tree_rss(process: psutil.Process) -> int:
  total = 0
  for member in [process, *process.children(recursive=True)]:
    try:
      total += member.memory_info().rss
    except psutil.NoSuchProcess:
      pass
  return total


def steal_seconds() -> float:
  """CPU time the hypervisor has taken from this machine's cores since boot (/proc/stat's steal
  column, summed over the cores): a shared virtual machine's hidden load."""
  with open('/proc/stat', encoding='ascii') as stat:
    fields = stat.readline().split()
  return int(fields[8]) / os.sysconf('SC_CLK_TCK')


def measure(command, env=None, log_path=None) -> dict:
  """Runs a command; returns its wall seconds, the peak RSS of its process tree, and the CPU
  time stolen from the machine while it ran."""
  with open(log_path or os.devnull, 'w') as log:
    steal_before = steal_seconds()
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    peak, watched = 0, psutil.Process(child.pid)

    def sample():
      nonlocal peak
      while child.poll() is None:
        try:
          peak = max(peak, tree_rss(watched))
        except psutil.NoSuchProcess:
          pass
        time.sleep(_SAMPLE_SECONDS)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = child.wait()
    seconds = time.perf_counter() - started
    sampler.join()
  if returncode != 0:
    raise RuntimeError(f'{command} failed with exit code {returncode}; see {log_path}')
  return {'seconds': round(seconds, 1), 'peak_rss_gb': round(peak / 2**30, 2),
          'steal_seconds': round(steal_seconds() - steal_before, 1)}


def run_tutorial(data_dir: Path, work_dir: Path) -> dict:
  """The tutorial script, reading the local files through the Keras cache of a scratch HOME.

  As written means TensorFlow's own tf.keras, Keras 3 since TF 2.16: TF_USE_LEGACY_KERAS (which the
  pipeline needs, for Transform and TFMA) is left out of its environment."""
  cache = work_dir / 'home' / '.keras' / 'datasets' / 'fashion-mnist'
  cache.mkdir(parents=True)
  for name in dataset.FILE_NAMES:
    (cache / name).symlink_to(data_dir / name)
  log = work_dir / 'tutorial.log'
  result = measure([sys.executable, str(REPO_ROOT / 'bench' / 'tutorial.py')],
                   env={**{name: value for name, value in os.environ.items()
                           if name != 'TF_USE_LEGACY_KERAS'}, 'HOME': str(work_dir / 'home')},
                   log_path=log)
  result['accuracy'] = float(re.findall(r'Test accuracy: ([0-9.]+)', log.read_text())[-1])
  return result


def _run_command(data_dir: Path, output_dir: Path, beam_args):
  return [str(Path(sys.executable).parent / 'fashion-pipeline'), 'run',
          '--data-dir', str(data_dir), '--output-dir', str(output_dir),
          *[f'--beam-arg={arg}' for arg in beam_args]]


def run_pipeline(data_dir: Path, output_dir: Path, beam_args, log_path: Path,
                 options=()) -> dict:
  result = measure([*_run_command(data_dir, output_dir, beam_args), *options], log_path=log_path)
  from mlmd import run_summary  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  summary = run_summary.summarize(configs.build(output_dir=output_dir, environ={}))
  result['accuracy'] = summary.accuracy
  result['components'] = {c.component_id: {'state': c.state, 'seconds': round(c.seconds, 1)}
                          for c in summary.components}
  return result


def measure_this_stack(data_dir: Path, beam_args, pairs: int = 1) -> dict:
  """The five measurements above, in this process's environment; the script and the cold
  pipeline `pairs` times, one after the other. The figures of the pair whose ratio is the median
  stand for the stack: on a shared virtual machine one run of either can be 30% off."""
  with tempfile.TemporaryDirectory(prefix='pipeline-bench-') as work:
    work_dir = Path(work)
    runs = []
    for pair in range(pairs):
      print(f'tutorial script ({pair + 1}/{pairs}) ...', flush=True)
      tutorial = run_tutorial(data_dir, work_dir / f'tutorial-{pair}')
      print(f'pipeline, cold ({pair + 1}/{pairs}) ...', flush=True)
      output_dir = work_dir / f'out-{pair}'
      cold = run_pipeline(data_dir, output_dir, beam_args, work_dir / f'cold-{pair}.log')
      runs.append((round(cold['seconds'] / tutorial['seconds'], 2), tutorial, cold))
    ratio, tutorial, cold = sorted(runs, key=lambda run: run[0])[(pairs - 1) // 2]
    print('pipeline, nothing changed ...', flush=True)
    cached = measure(_run_command(data_dir, output_dir, beam_args),
                     log_path=work_dir / 'cached.log')
    print('pipeline, nothing changed, --rerun (answered by TFX\'s cache) ...', flush=True)
    rerun = run_pipeline(data_dir, output_dir, beam_args, work_dir / 'rerun.log', ['--rerun'])
    print('pipeline, scheduled with --if-new-data, nothing new ...', flush=True)
    scheduled = measure(_run_command(data_dir, output_dir, beam_args)
                        + ['--if-new-data'], log_path=work_dir / 'scheduled.log')
  return {
      'stack': stack.stack_name(),
      'versions': stack.versions(),
      'beam_args': list(configs.DEFAULT_BEAM_ARGS) + beam_args,
      'tutorial_script': tutorial,
      'pipeline_cold': cold,
      'pipeline_cached': cached,
      'pipeline_rerun_tfx_cache': rerun,
      'pipeline_scheduled_nothing_new': scheduled,
      'ratio_cold_to_script': ratio,
      'pairs': [{'ratio': ratio, 'tutorial_seconds': tutorial['seconds'],
                 'cold_seconds': cold['seconds'],
                 'steal_seconds': round(tutorial['steal_seconds'] + cold['steal_seconds'], 1)}
                for ratio, tutorial, cold in runs],
  }


def measure_stack(name: str, data_dir: Path, beam_args, pairs: int) -> dict:
  """measure_this_stack in the named stack's environment, as a child process."""
  with tempfile.NamedTemporaryFile(prefix=f'pipeline-bench-{name}-', suffix='.json',
                                   dir=REPO_ROOT / 'bench' / 'results') as out:
    # The clone is mounted at its own path in the Debian 13 root, so the file is seen from both.
    subprocess.run([str(REPO_ROOT / 'scripts' / 'in-env'), 'python', __file__, '--this-stack',
                    name, '--json-out', out.name, '--data-dir', str(data_dir),
                    f'--pairs={pairs}',
                    *[f'--beam-arg={arg}' for arg in beam_args]],
                   env={**os.environ, 'FASHION_PIPELINE_STACK': name}, check=True)
    return json.loads(Path(out.name).read_text())


def print_stack(results: dict) -> None:
  versions = results['versions']
  print(f"\n{results['stack']} stack: Python {versions['Python']}, TFX {versions['TFX']}, "
        f"TensorFlow {versions['TensorFlow']}, Beam {versions['Beam']}")
  print(f"{'run':<32}{'wall s':>8}{'peak GB':>9}{'accuracy':>10}")
  for name, key in (('tutorial script', 'tutorial_script'), ('pipeline, cold', 'pipeline_cold'),
                    ('pipeline, nothing changed', 'pipeline_cached'),
                    ('... --rerun (TFX cache)', 'pipeline_rerun_tfx_cache')):
    row = results[key]
    accuracy = f"{row['accuracy']:>10.4f}" if 'accuracy' in row else ''
    print(f"{name:<32}{row['seconds']:>8}{row['peak_rss_gb']:>9}{accuracy}")
  scheduled = results['pipeline_scheduled_nothing_new']
  print(f"{'run --if-new-data, nothing new':<32}{scheduled['seconds']:>8}"
        f"{scheduled['peak_rss_gb']:>9}")
  pairs = results.get('pairs', [])
  print(f"ratio pipeline cold / script: {results['ratio_cold_to_script']} (the median of "
        f"{len(pairs)}: " + ', '.join(f"{p['cold_seconds']} s / {p['tutorial_seconds']} s = "
                                       f"{p['ratio']}" for p in pairs) + ')')
  print('CPU time stolen by the hypervisor during each pair: '
        + ', '.join(f"{p.get('steal_seconds', '?')} s" for p in pairs))
  print(f"{'component (cold run)':<32}{'state':>8}{'wall s':>8}")
  for component, row in results['pipeline_cold']['components'].items():
    print(f"{component:<32}{row['state']:>8}{row['seconds']:>8}")


def add_data_dir_argument(parser: argparse.ArgumentParser) -> None:
  """--data-dir: the real files, by default where CI has them (as the acceptance test)."""
  parser.add_argument('--data-dir', type=Path,
                      default=Path(os.environ.get(configs.DATA_DIR_ENV_VAR) or
                                   REPO_ROOT.parent / 'shared' / 'data' / 'fashion-mnist'))


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  add_data_dir_argument(parser)
  parser.add_argument('--beam-arg', action='append', default=[], dest='beam_args')
  parser.add_argument('--pairs', type=int, default=3,
                      help='how many times the script and the cold pipeline run, one after the '
                      'other; the pair with the median ratio is reported (default: %(default)s)')
  parser.add_argument('--stacks', default='current,legacy',
                      help='comma-separated: which stacks to measure, in order (default: both)')
  # Internal: measure the stack this process runs in, and write its results to a file.
  parser.add_argument('--this-stack', help=argparse.SUPPRESS)
  parser.add_argument('--json-out', type=Path, help=argparse.SUPPRESS)
  args = parser.parse_args()
  data_dir = args.data_dir.absolute()
  if args.this_stack:
    if stack.stack_name() != args.this_stack:
      sys.exit(f'asked for the {args.this_stack} stack, but this environment is '
               f'{stack.stack_name()}')
    args.json_out.write_text(json.dumps(measure_this_stack(data_dir, args.beam_args, args.pairs)))
    return
  results = {
      'date': datetime.date.today().isoformat(),
      'cores': os.cpu_count(),
      'memory_gb': round(psutil.virtual_memory().total / 2**30, 1),
      'stacks': {name: measure_stack(name, data_dir, args.beam_args, args.pairs)
                 for name in args.stacks.split(',')},
  }
  for stack_results in results['stacks'].values():
    print_stack(stack_results)
  out = REPO_ROOT / 'bench' / 'results' / f"pipeline-{results['date']}-{results['cores']}cores.json"
  out.write_text(json.dumps(results, indent=2) + '\n')
  print(f'\nwritten: {out}')


if __name__ == '__main__':
  main()
