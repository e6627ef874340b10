"""Benchmark of `fashion-pipeline runs` and `lineage` on a store of hundreds of runs: each as a
whole process, from start to exit.

In: a generated ML Metadata store (tests/metadata_builder.py generate_history: --runs runs as the
pipeline records them, retention having removed the files of all but the last --keep), made in
--store (kept for the next time) or a temporary folder; --repo, the checkout whose code is
measured (default this one: another's measures the code before a change on the same store).
Out: a table on stdout and bench/results/history-<date>-<cores>cores.json: the best and
median wall time of each command over --repeats fresh processes, and the load average meanwhile.

  scripts/in-env python bench/history_bench.py --runs 500 --store /tmp/history-500
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import timing  # bench/timing.py, beside this script

_REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_REPO / 'tests'))
_CLI = str(Path(sys.executable).parent / 'fashion-pipeline')


def _commit(repo: Path) -> str:
  """The measured checkout's commit, which names its code (its path names only a folder here)."""
  head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=repo, capture_output=True,
                        text=True, check=False).stdout.strip()
  return head or 'unknown'


def _seconds(argv, repo: Path) -> float:
  environment = {**os.environ, 'PYTHONPATH': str(repo)}
  start = time.perf_counter()
  subprocess.run([_CLI, *argv], check=True, capture_output=True, env=environment, cwd=repo)
  return time.perf_counter() - start


def _store(args) -> Path:
  """The store's output dir, generated unless --store already holds one of --runs runs."""
  if args.store and (args.store / 'runs.json').is_file():
    if len(json.loads((args.store / 'runs.json').read_text())) == args.runs:
      return args.store
  from metadata_builder import generate_history  # pylint: disable=g-import-not-at-top
  root = args.store or Path(tempfile.mkdtemp(prefix='history-bench-'))
  shutil.rmtree(root, ignore_errors=True)
  root.mkdir(parents=True)
  start = time.perf_counter()
  run_ids = generate_history(root, runs=args.runs, keep=args.keep)
  (root / 'runs.json').write_text(json.dumps(run_ids))
  print(f'generated {args.runs} runs in {time.perf_counter() - start:.0f}s: {root}')
  return root


def _versions(root: Path):
  """The oldest and the newest version pushed (the oldest's files removed), read as `runs`
  does."""
  result = subprocess.run([_CLI, 'runs', '--output-dir', str(root), '--json'], check=True,
                          capture_output=True, text=True, env={**os.environ,
                                                               'PYTHONPATH': str(_REPO)})
  versions = [run['pushed_version'] for run in json.loads(result.stdout) if run['pushed_version']]
  return versions[0], versions[-1]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--runs', type=int, default=500)
  parser.add_argument('--keep', type=int, default=100)
  parser.add_argument('--store', type=Path)
  parser.add_argument('--repo', type=Path, default=_REPO)
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  root = _store(args)
  oldest, newest = _versions(root)
  where = ['--output-dir', str(root)]
  commands = {
      'runs': ['runs', *where],
      'runs --json': ['runs', '--json', *where],
      'lineage (newest)': ['lineage', newest, *where],
      'lineage (oldest, files removed)': ['lineage', oldest, *where],
  }
  results = {name: timing.figures([_seconds(argv, args.repo) for _ in range(args.repeats)])
             for name, argv in commands.items()}
  load = os.getloadavg()
  print(f'{args.runs} runs in the store; {args.repeats} processes each; load average '
        f'{load[0]:.1f} on {os.cpu_count()} cores; code of {args.repo} ({_commit(args.repo)})')
  timing.print_table('command', results)
  print(timing.write_results('history', runs=args.runs, keep=args.keep, code=_commit(args.repo),
                             load_average=load, repeats=args.repeats, results=results))
  if not args.store:
    shutil.rmtree(root)


if __name__ == '__main__':
  main()
