"""Benchmark of the commands that only read ML Metadata: how long `fashion-pipeline runs`,
`lineage VERSION` and `run --if-new-data` (with nothing new) take from start to exit.

In: an output dir of earlier runs (its metadata and serving dir) and the data dir they read.
Out: a table on stdout and bench/results/startup-<date>-<cores>cores.json: each command's best and
median wall time over --repeats fresh processes, and the machine's load average meanwhile (these
are short: other work on the machine shows in them).

  scripts/in-env python bench/startup_bench.py --output-dir output --data-dir DATA_DIR
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import timing  # bench/timing.py, beside this script

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
    results[name] = timing.figures(seconds)
  load = os.getloadavg()
  print(f'{args.repeats} runs each; load average {load[0]:.1f} on {os.cpu_count()} cores')
  timing.print_table('command', results)
  print(timing.write_results('startup', load_average=load, repeats=args.repeats,
                             results=results))


if __name__ == '__main__':
  main()
