"""Benchmark: how the pipeline scales with the training window, and the output dir with retention.

Phase `windows`: the real training set repeated as spans (span-1 ... span-10 in a scratch folder,
each a folder of symlinks to the four real files), then `run --data-dir SPANS --spans K` cold into
a fresh output dir for K = 1, 3 and 10 (600,000 images at 10): wall time, peak memory of the whole
process tree (pipeline_bench.measure: RSS of the process and its children, sampled every 0.2 s),
each component's wall time from ML Metadata, and the bytes under the output dir. The goal: memory
flat from 1 to 10 spans, time growing with the data.

Phase `retention`: 30 scheduled small runs into one output dir, each on a new span of 2,000 of the
real training images (consecutive slices, the real test set), 1 epoch, every model blessed
(threshold 0, any drop allowed) so that each run pushes, with `--retain-runs 3 --retain-versions
3`; after each run the bytes under the output dir and the run's wall time, plotted against the run
number (PNG). The goal: disk flat once retention starts removing.

Each phase writes bench/results/scale-<phase>-<date>-<cores>cores.json (and .png):

  scripts/in-env python bench/scale_bench.py [--phase windows|retention|all] [--data-dir DIR]
      [--spans 1,3,10] [--epochs N] [--runs 30]
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / 'bench'))

from fashion_mnist import dataset  # pylint: disable=wrong-import-position
from fashion_mnist import idx  # pylint: disable=wrong-import-position
from pipeline import configs  # pylint: disable=wrong-import-position
import pipeline_bench  # pylint: disable=wrong-import-position
import timing  # pylint: disable=wrong-import-position

RETAINED = 3  # runs and serving versions kept in the retention phase
RETENTION_SPAN_IMAGES = 2_000


def command() -> List[str]:
  return [str(Path(sys.executable).parent / 'fashion-pipeline')]


def bytes_under(directory: Path) -> int:
  """Bytes of the files under directory (symlinks counted as links, not followed)."""
  return sum(os.lstat(os.path.join(root, name)).st_size
             for root, _, names in os.walk(directory) for name in names)


def component_seconds(output_dir: Path) -> dict:
  """The newest run's components and their wall times, from ML Metadata."""
  from mlmd import run_summary  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  summary = run_summary.summarize(configs.build(output_dir=output_dir, environ={}))
  return {'accuracy': summary.accuracy,
          'components': {c.component_id: round(c.seconds, 1) for c in summary.components}}


def repeated_spans(data_dir: Path, spans_dir: Path, count: int) -> Path:
  """span-1 ... span-<count>, each the real files again (symlinks)."""
  for number in range(1, count + 1):
    span = spans_dir / f'{dataset.SPAN_DIR_PREFIX}{number}'
    span.mkdir(parents=True)
    for name in dataset.FILE_NAMES:
      (span / name).symlink_to(data_dir / name)
  return spans_dir


def windows_phase(data_dir: Path, span_counts: List[int], epochs: int, work_dir: Path) -> dict:
  spans_dir = repeated_spans(data_dir, work_dir / 'spans', max(span_counts))
  results = {}
  for count in span_counts:
    output_dir = work_dir / f'out-{count}'
    print(f'{count} spans ({count * 60_000:,} training images), cold ...', flush=True)
    log = work_dir / f'windows-{count}.log'
    try:
      result = pipeline_bench.measure(
          [*command(), 'run', '--data-dir', str(spans_dir), '--spans', str(count),
           '--epochs', str(epochs), '--output-dir', str(output_dir)], log_path=log)
    except RuntimeError:
      # The log goes with the scratch folder: show its end first.
      print(''.join(log.read_text().splitlines(keepends=True)[-40:]), flush=True)
      raise
    result['output_dir_mb'] = round(bytes_under(output_dir) / 2**20, 1)
    result.update(component_seconds(output_dir))
    results[str(count)] = result
    print(f"  {result['seconds']} s, peak {result['peak_rss_gb']} GB, "
          f"{result['output_dir_mb']} MB, Trainer {result['components'].get('Trainer')} s",
          flush=True)
  return results


def add_small_span(data_dir: Path, spans_dir: Path, images, labels, number: int) -> None:
  """span-<number>: the number-th slice of RETENTION_SPAN_IMAGES training images, the real test
  set (symlinks)."""
  span = spans_dir / f'{dataset.SPAN_DIR_PREFIX}{number}'
  span.mkdir(parents=True)
  start = ((number - 1) * RETENTION_SPAN_IMAGES) % len(labels)
  idx.write_images(span / dataset.TRAIN.images_file,
                   images[start:start + RETENTION_SPAN_IMAGES])
  idx.write_labels(span / dataset.TRAIN.labels_file,
                   labels[start:start + RETENTION_SPAN_IMAGES])
  for name in (dataset.TEST.images_file, dataset.TEST.labels_file):
    (span / name).symlink_to(data_dir / name)


def retention_phase(data_dir: Path, runs: int, work_dir: Path) -> dict:
  images, labels = idx.read_split(data_dir / dataset.TRAIN.images_file,
                                  data_dir / dataset.TRAIN.labels_file)
  spans_dir, output_dir = work_dir / 'small-spans', work_dir / 'out-retention'
  rows = []
  for number in range(1, runs + 1):
    add_small_span(data_dir, spans_dir, images, labels, number)
    started = time.perf_counter()
    subprocess.run(
        [*command(), 'run', '--data-dir', str(spans_dir), '--if-new-data', '--epochs', '1',
         '--accuracy-threshold', '0', '--max-accuracy-drop', '1',
         '--retain-runs', str(RETAINED), '--retain-versions', str(RETAINED),
         '--output-dir', str(output_dir)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, check=True)
    rows.append({'run': number, 'seconds': round(time.perf_counter() - started, 1),
                 'output_dir_mb': round(bytes_under(output_dir) / 2**20, 1),
                 'serving_versions': len(list((output_dir / 'serving').glob('[0-9]*')))})
    print(f"run {number}: {rows[-1]['seconds']} s, {rows[-1]['output_dir_mb']} MB, "
          f"{rows[-1]['serving_versions']} versions", flush=True)
  return {'runs': rows}


def plot(png: Path, title: str, x_label: str, rows: List[dict], x_key: str) -> None:
  """Output dir size and run time against x_key, one panel each."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot  # pylint: disable=g-import-not-at-top
  figure, (size_axes, time_axes) = pyplot.subplots(1, 2, figsize=(10, 4))
  x = [row[x_key] for row in rows]
  size_axes.plot(x, [row['output_dir_mb'] for row in rows], marker='o')
  size_axes.set(xlabel=x_label, ylabel='output dir (MB)', ylim=(0, None))
  time_axes.plot(x, [row['seconds'] for row in rows], marker='o', color='tab:orange')
  time_axes.set(xlabel=x_label, ylabel='wall time (s)', ylim=(0, None))
  if 'peak_rss_gb' in rows[0]:
    memory_axes = time_axes.twinx()
    memory_axes.plot(x, [row['peak_rss_gb'] for row in rows], marker='s', color='tab:green')
    memory_axes.set(ylabel='peak memory (GB, green)', ylim=(0, None))
  figure.suptitle(title)
  figure.tight_layout()
  figure.savefig(png, dpi=100)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n', maxsplit=1)[0])
  pipeline_bench.add_data_dir_argument(parser)
  parser.add_argument('--phase', choices=('windows', 'retention', 'all'), default='all')
  parser.add_argument('--spans', default='1,3,10',
                      help='windows phase: comma-separated window sizes (default: %(default)s)')
  parser.add_argument('--epochs', type=int, default=configs.DEFAULT_EPOCHS,
                      help='windows phase (default: %(default)s)')
  parser.add_argument('--runs', type=int, default=30,
                      help='retention phase: scheduled runs (default: %(default)s)')
  args = parser.parse_args()
  data_dir = args.data_dir.absolute()
  if args.phase in ('windows', 'all'):
    span_counts = [int(count) for count in args.spans.split(',')]
    with tempfile.TemporaryDirectory(prefix='scale-bench-') as work:
      results = windows_phase(data_dir, span_counts, args.epochs, Path(work))
    out = timing.write_results('scale-windows', epochs=args.epochs, windows=results)
    rows = [{'spans': int(count), **result} for count, result in results.items()]
    plot(out.with_suffix('.png'), f'Cold runs, {args.epochs} epochs, 60,000 images a span',
         'spans in the training window', rows, 'spans')
    print(f'written: {out} and its .png')
  if args.phase in ('retention', 'all'):
    with tempfile.TemporaryDirectory(prefix='scale-bench-') as work:
      results = retention_phase(data_dir, args.runs, Path(work))
    out = timing.write_results('scale-retention', retained=RETAINED,
                               span_images=RETENTION_SPAN_IMAGES, **results)
    plot(out.with_suffix('.png'), f'{args.runs} scheduled runs, --retain-runs {RETAINED} '
         f'--retain-versions {RETAINED}', 'run', results['runs'], 'run')
    print(f'written: {out} and its .png')


if __name__ == '__main__':
  main()
