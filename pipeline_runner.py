"""The command line: `fashion-pipeline run` (the same as `python pipeline_runner.py run`).

Parses arguments into a PipelineConfig and hands it to library code; nothing else lives here.
"""

import os

# Transform and TFMA need Keras 2; this must be set before anything imports TensorFlow.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import argparse  # pylint: disable=g-import-not-at-top,wrong-import-position
import logging
import re
import sys
import warnings
from pathlib import Path

from absl import logging as absl_logging

from pipeline import configs

# Progress lines shown without --verbose: components starting and finishing, and the download.
_PROGRESS = re.compile(r'^(Component .* is (running|finished)|Downloading |Data: )')


class _ProgressFilter(logging.Filter):

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR or bool(_PROGRESS.match(str(record.msg)))


def _configure_output(verbose: bool) -> None:
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(message)s', datefmt='%H:%M:%S',
                      force=True)
  # Explicit, because TensorFlow's SavedModel export saves and restores absl's verbosity, and
  # absl's unset default restores as WARNING, which would hide the rest of the progress lines.
  absl_logging.set_verbosity(absl_logging.INFO)
  if verbose:
    return
  # Environment variables, so that Beam's worker processes and TFX's pip calls are quiet too.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '3')
  os.environ.setdefault('PYTHONWARNINGS', 'ignore::FutureWarning,ignore::DeprecationWarning')
  os.environ.setdefault('PIP_QUIET', '1')
  for handler in logging.getLogger().handlers:
    handler.addFilter(_ProgressFilter())
  warnings.filterwarnings('ignore', category=FutureWarning)
  warnings.filterwarnings('ignore', category=DeprecationWarning)


def _add_run_parser(commands) -> None:
  run = commands.add_parser(
      'run', help='run the whole pipeline once (ingest, validate, transform, train, evaluate, '
      'push)')
  run.add_argument('--data-dir', type=Path,
                   help='folder with the four IDX files (default: $%s, else the Keras cache %s, '
                   'else a verified download into it)' % (configs.DATA_DIR_ENV_VAR,
                                                          configs.KERAS_CACHE_DIR))
  run.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                   help='where the pipeline root, metadata and serving dir go (default: %(default)s)')
  run.add_argument('--pipeline-root', type=Path, help='default: OUTPUT_DIR/pipeline_root')
  run.add_argument('--metadata-path', type=Path,
                   help='ML Metadata SQLite file (default: OUTPUT_DIR/metadata.sqlite)')
  run.add_argument('--serving-dir', type=Path,
                   help='where blessed models are pushed as numbered versions '
                   '(default: OUTPUT_DIR/serving)')
  run.add_argument('--epochs', type=int, default=configs.DEFAULT_EPOCHS,
                   help='default: %(default)s')
  run.add_argument('--batch-size', type=int, default=configs.DEFAULT_BATCH_SIZE,
                   help='default: %(default)s')
  run.add_argument('--learning-rate', type=float, default=configs.DEFAULT_LEARNING_RATE,
                   help="Adam's learning rate (default: %(default)s)")
  run.add_argument('--accuracy-threshold', type=float,
                   default=configs.DEFAULT_ACCURACY_THRESHOLD,
                   help='lowest test accuracy that blesses a model (default: %(default)s)')
  run.add_argument('--beam-arg', action='append', default=[], dest='beam_args',
                   metavar='ARG', help='a Beam pipeline option, repeatable, after the defaults '
                   f'{" ".join(configs.DEFAULT_BEAM_ARGS)} (e.g. '
                   '--beam-arg=--direct_running_mode=in_memory)')
  run.add_argument('--verbose', action='store_true', help='show every log line')


def _run(args) -> int:
  config = configs.build(
      output_dir=args.output_dir, pipeline_root=args.pipeline_root,
      metadata_path=args.metadata_path, serving_dir=args.serving_dir, data_dir=args.data_dir,
      extra_beam_args=tuple(args.beam_args), epochs=args.epochs, batch_size=args.batch_size,
      learning_rate=args.learning_rate, accuracy_threshold=args.accuracy_threshold)
  _configure_output(args.verbose)
  from pipeline import runner  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  summary = runner.run(config)
  print(summary.format(config.accuracy_threshold))
  return 0


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog='fashion-pipeline',
      description='A TFX pipeline that trains, validates and ships a Fashion-MNIST classifier.')
  commands = parser.add_subparsers(dest='command', required=True)
  _add_run_parser(commands)
  args = parser.parse_args(argv)
  from fashion_mnist import idx  # pylint: disable=g-import-not-at-top
  from pipeline import data_source  # pylint: disable=g-import-not-at-top
  try:
    return _run(args)
  except (configs.ConfigError, data_source.DataSourceError, idx.IdxFormatError) as e:
    print(f'fashion-pipeline: error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
