"""Kill-point chaos: runs the pipeline, kills it with SIGKILL at a chosen point, runs it again, and
checks what the README promises after a kill.

In: a data dir (small data: see --subset), an output dir and kill points: `start:<Component>` (as
the component's executor starts, when TFX's launcher logs "Going to run a new execution") or
`time:<seconds>` (that long after the run started). Out: one Trial per point: whether the kill
landed before the run ended, the rerun's exit code and the problems found, each one line:

- the rerun exits 0;
- ML Metadata is sound: no execution is left NEW or RUNNING (the rerun cancels the killed run's);
- every version in the serving dir is complete (byte for byte a model the Trainer finished, with
  TF Serving's warm-up file) and recorded as pushed in ML Metadata, no two versions are the same
  model, and the rerun's push, when blessed, is there.

Each trial's run and rerun use `--seed <trial number>`, so that in one output dir (`fresh=False`)
every trial trains, evaluates and pushes a new model; with `fresh=True` each trial gets an output
dir of its own, so that a kill at any component lands (nothing is cached).

  scripts/in-env python reliability/chaos.py --data-dir DIR --subset 400 200 --out /tmp/chaos \\
      --point start:Trainer --point time:12.5
"""

import argparse
import collections
import dataclasses
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence


from fashion_mnist import dataset
from fashion_mnist import idx
from mlmd import names
from mlmd import store as mlmd_store
from pipeline import configs

# The components of a run on one folder of IDX files, in the order they start; resolvers, which
# only read ML Metadata, are left out.
COMPONENTS = ('FileBasedExampleGen', 'ImportSchemaGen', 'StatisticsGen', 'ExampleValidator',
              'DataGate', 'Transform', 'Trainer', 'Evaluator', 'Pusher', 'RunReport')
_PROGRESS = re.compile(r'Component (\S+) is running')
_EXECUTOR_STARTS = 'Going to run a new execution'
_CLI = str(Path(sys.executable).parent / 'fashion-pipeline')
_UNFINISHED = ('NEW', 'RUNNING')


@dataclasses.dataclass(frozen=True)
class KillPoint:
  component: Optional[str] = None  # kill as its executor starts
  after_s: Optional[float] = None  # or this long after the start

  @classmethod
  def parse(cls, text: str) -> 'KillPoint':
    kind, _, value = text.partition(':')
    if kind == 'start' and value in COMPONENTS:
      return cls(component=value)
    if kind == 'time':
      return cls(after_s=float(value))
    raise ValueError(f'kill point {text!r}: expected start:<one of {", ".join(COMPONENTS)}> or '
                     'time:<seconds>')

  def __str__(self) -> str:
    return f'start:{self.component}' if self.component else f'time:{self.after_s:.2f}'


def random_points(seed: int, count: int, longest_s: float) -> List[KillPoint]:
  """count kill times drawn uniformly from 0.5 s to longest_s, repeatably (seeded)."""
  rng = random.Random(seed)
  return [KillPoint(after_s=round(rng.uniform(0.5, longest_s), 2)) for _ in range(count)]


@dataclasses.dataclass
class Trial:
  point: str
  landed: bool  # the run was killed before it ended
  killed_after_s: float
  rerun_exit_code: int
  rerun_s: float
  problems: List[str]

  @property
  def survived(self) -> bool:
    return not self.problems


def write_subset(source: Path, target: Path, num_train: int, num_test: int) -> Path:
  """The first num_train training and num_test test images of source's IDX files, in target."""
  target.mkdir(parents=True, exist_ok=True)
  for split, count in ((dataset.TRAIN, num_train), (dataset.TEST, num_test)):
    images, labels = idx.read_split(source / split.images_file, source / split.labels_file)
    idx.write_images(target / split.images_file, images[:count])
    idx.write_labels(target / split.labels_file, labels[:count])
  return target


def _run_args(data_dir: Path, output_dir: Path, seed: int) -> List[str]:
  # Few epochs and a threshold every model passes: each run is blessed and pushes.
  return ['run', '--data-dir', str(data_dir), '--output-dir', str(output_dir), '--epochs', '2',
          '--accuracy-threshold', '0', '--seed', str(seed)]


def kill_at(args: Sequence[str], point: KillPoint, env=None) -> tuple:
  """Runs the command line with args and kills its process group with SIGKILL at point;
  returns (whether the kill landed before the run ended, seconds from the start)."""
  start = time.monotonic()
  process = subprocess.Popen([_CLI, *args, '--verbose'], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)
  if point.after_s is not None:
    try:
      process.wait(timeout=point.after_s)
    except subprocess.TimeoutExpired:
      os.killpg(process.pid, signal.SIGKILL)
    process.stderr.close()
  else:
    running = None
    with process.stderr:
      for line in process.stderr:
        progress = _PROGRESS.search(line)
        if progress:
          running = progress[1]
        elif running == point.component and _EXECUTOR_STARTS in line:
          os.killpg(process.pid, signal.SIGKILL)
          break
  landed = process.wait() == -signal.SIGKILL
  return landed, time.monotonic() - start


def trained_digests(output_dir: Path) -> set:
  """The digests of every model the Trainer finished, as the Pusher publishes it."""
  # pylint: disable=g-import-not-at-top  (TensorFlow, only for the check)
  from components import pusher
  from serving import warmup
  digests = set()
  for path in (output_dir / 'pipeline_root/Trainer/model').glob('*/Format-Serving'):
    with tempfile.TemporaryDirectory() as tmp:
      published = Path(tmp) / 'model'
      shutil.copytree(path, published)
      warmup.write(str(published))
      digests.add(pusher.model_digest(str(published)))
  return digests


def check(output_dir: Path, pushed_path: Optional[str]) -> List[str]:
  """The problems of an output dir after a rerun (see the module's docstring); [] when sound."""
  from components import pusher  # pylint: disable=g-import-not-at-top  (TensorFlow)
  config = configs.build(output_dir=output_dir, environ={})
  problems = []
  store = mlmd_store.connect(config.metadata_path)
  for execution in store.get_executions():
    state = mlmd_store.Execution.State.Name(execution.last_known_state)
    if state in _UNFINISHED:
      problems.append(f'execution {execution.id} is still {state}')
  recorded = {artifact.custom_properties[names.PUSHED_DESTINATION].string_value
              for artifact in store.get_artifacts_by_type(names.PUSHED_MODEL)
              if artifact.custom_properties[names.PUSHED].int_value}
  serving = Path(config.serving_dir)
  versions = sorted(p for p in serving.iterdir() if p.name.isdigit()) if serving.is_dir() else []
  trained = trained_digests(output_dir)
  digests = collections.Counter()
  for version in versions:
    digest = pusher.model_digest(str(version))
    digests[digest] += 1
    if digest not in trained:
      problems.append(f'{version}: not byte for byte a model the Trainer finished')
    if str(version) not in recorded:
      problems.append(f'{version}: live, but ML Metadata records no push of it')
  if any(count > 1 for count in digests.values()):
    problems.append(f'the same model is pushed more than once: {[str(v) for v in versions]}')
  if pushed_path and not Path(pushed_path).is_dir():
    problems.append(f'the rerun pushed {pushed_path}, which is not there')
  return problems


def run_trials(data_dir: Path, out: Path, points: Sequence[KillPoint], fresh: bool,
               log=print) -> List[Trial]:
  """Each point: a run killed there, then a rerun, then the checks (see the module docstring)."""
  from mlmd import run_summary  # pylint: disable=g-import-not-at-top
  trials = []
  for number, point in enumerate(points):
    output_dir = out / (f'trial-{number}' if fresh else 'output')
    args = _run_args(data_dir, output_dir, seed=number)
    landed, killed_after_s = kill_at(args, point)
    start = time.monotonic()
    rerun = subprocess.run([_CLI, *args], capture_output=True, text=True, check=False)
    rerun_s = time.monotonic() - start
    problems = [] if rerun.returncode == 0 else [
        f'the rerun exited {rerun.returncode}: {rerun.stderr.strip()[-500:]}']
    pushed = None
    if not problems:
      run_id = re.search(r'^Run (\S+):', rerun.stdout, re.MULTILINE)[1]
      pushed = run_summary.summarize(configs.build(output_dir=output_dir, environ={}),
                                     run_id).pushed_path
    problems += check(output_dir, pushed)
    trial = Trial(str(point), landed, round(killed_after_s, 2), rerun.returncode,
                  round(rerun_s, 2), problems)
    log(f'{trial.point:24} {"killed" if landed else "ended first":12} '
        f'{trial.killed_after_s:6.1f}s  rerun {trial.rerun_exit_code} {trial.rerun_s:5.1f}s  '
        f'{"survived" if trial.survived else "; ".join(problems)}')
    trials.append(trial)
  return trials


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
  parser.add_argument('--data-dir', type=Path, required=True)
  parser.add_argument('--subset', type=int, nargs=2, metavar=('TRAIN', 'TEST'),
                      help="use only the first TRAIN and TEST images of the data dir's files")
  parser.add_argument('--out', type=Path, required=True, help='where the output dirs go')
  parser.add_argument('--point', action='append', default=[], type=KillPoint.parse,
                      help='start:<Component> or time:<seconds>, repeatable')
  parser.add_argument('--fresh', action='store_true', help='a new output dir per trial')
  args = parser.parse_args()
  data_dir = args.data_dir
  if args.subset:
    data_dir = write_subset(args.data_dir, args.out / 'data', *args.subset)
  trials = run_trials(data_dir, args.out, args.point, args.fresh)
  return 0 if all(trial.survived for trial in trials) else 1


if __name__ == '__main__':
  sys.exit(main())
