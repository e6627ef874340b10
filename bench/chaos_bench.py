"""Kill-point chaos over every point: a kill -9 as each component's executor starts, and at
seeded random moments, each in a fresh output dir, followed by a rerun and the checks of
reliability/chaos.py.

In: the real Fashion-MNIST files (a small subset is used: --subset). Out: a line per kill on
stdout and bench/results/chaos-<date>-<cores>cores.json: the kills tried, landed and survived, and
each trial's point, kill time, rerun exit code and time, and problems.

  scripts/in-env python bench/chaos_bench.py --data-dir ../shared/data/fashion-mnist
"""

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import timing  # bench/timing.py, beside this script

from reliability import chaos


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
  parser.add_argument('--data-dir', type=Path, required=True)
  parser.add_argument('--subset', type=int, nargs=2, default=(400, 200),
                      metavar=('TRAIN', 'TEST'), help='default: %(default)s')
  parser.add_argument('--random-kills', type=int, default=2, help='default: %(default)s')
  parser.add_argument('--seed', type=int, default=0, help='of the random kill times')
  parser.add_argument('--longest-s', type=float, default=30.0,
                      help='random kills fall in 0.5 s to this (default: %(default)s, about a '
                      "cold run's length here)")
  args = parser.parse_args()
  points = [chaos.KillPoint(component=component) for component in chaos.COMPONENTS]
  points += chaos.random_points(args.seed, args.random_kills, args.longest_s)
  start = time.monotonic()
  trials = []
  with tempfile.TemporaryDirectory(prefix='chaos-') as out:
    data_dir = chaos.write_subset(args.data_dir, Path(out) / 'data', *args.subset)
    for number, point in enumerate(points):
      trials += chaos.run_trials(data_dir, Path(out) / str(number), [point], fresh=True)
      # After each trial, so that a bench cut short still leaves what it measured.
      path = _write(args, trials, time.monotonic() - start)
  print(f'{len(trials)} kills tried, {sum(t.landed for t in trials)} landed before the run '
        f'ended, {sum(t.survived for t in trials)} survived, in '
        f'{time.monotonic() - start:.0f} s: {path}')
  return 0 if all(trial.survived for trial in trials) else 1


def _write(args, trials, seconds: float) -> Path:
  return timing.write_results(
      'chaos', subset={'train': args.subset[0], 'test': args.subset[1]}, seed=args.seed,
      kills_tried=len(trials), kills_landed=sum(t.landed for t in trials),
      kills_survived=sum(t.survived for t in trials), total_s=round(seconds, 1),
      trials=[dataclasses.asdict(trial) for trial in trials])

if __name__ == '__main__':
  sys.exit(main())
