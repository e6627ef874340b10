"""Benchmark of the commands that only read ML Metadata: how long `fashion-pipeline runs`,
`lineage VERSION` and `run --if-new-data` (with nothing new) take from start to exit.

In: an output dir of earlier runs (its metadata and serving dir) and the data dir they read.
Out: a table on stdout and bench/results/startup-<date>-<cores>cores.json: each command's best and
median wall time over --repeats fresh processes, and the machine's load average meanwhile (these
are short: other work on the machine shows in them).

  scripts/in-env python bench/startup_bench.py --output-dir output --data-dir DATA_DIR
"""

import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / 'bench' / 'results'
_CLI = str(Path(sys.executable).parent / 'fashion-pipeline')


def _seconds(argv) -> float:
  start = time.perf_counter()
  subprocess.run([_CLI, *argv], check=True, capture_output=True)
  return time.perf_counter() - start


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--output-dir', type=Path, required=True)
  parser.add_argument('--data-dir', type=Path, required=True)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  version = max(p.name for p in (args.output_dir / 'serving').iterdir() if p.name.isdigit())
  where = ['--output-dir', str(args.output_dir)]
  commands = {
      'runs': ['runs', *where],
      'lineage': ['lineage', version, *where],
      'run --if-new-data': ['run', '--if-new-data', '--data-dir', str(args.data_dir), *where],
  }
  results = {}
  for name, argv in commands.items():
    seconds = [_seconds(argv) for _ in range(args.repeats)]
    results[name] = {'best_s': min(seconds), 'median_s': statistics.median(seconds),
                     'runs_s': seconds}
  load = os.getloadavg()
  print(f'{args.repeats} runs each; load average {load[0]:.1f} on {os.cpu_count()} cores')
  print(f'{"command":20} {"best":>7} {"median":>7}')
  for name, result in results.items():
    print(f'{name:20} {result["best_s"]:6.2f}s {result["median_s"]:6.2f}s')
  RESULTS_DIR.mkdir(parents=True, exist_ok=True)
  out = RESULTS_DIR / f'startup-{datetime.date.today()}-{os.cpu_count()}cores.json'
  out.write_text(json.dumps({
      'date': datetime.datetime.now(datetime.timezone.utc).isoformat(),
      'cores': os.cpu_count(), 'load_average': load, 'repeats': args.repeats,
      'results': results}, indent=2) + '\n')
  print(out)


if __name__ == '__main__':
  main()
