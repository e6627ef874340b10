"""The command line: `fashion-pipeline run` (the same as `python pipeline_runner.py run`), `serve`
and `predict`.

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

# Progress lines shown without --verbose: components starting, finishing or skipped (after the
# data gate stopped a run), and the download.
_PROGRESS = re.compile(
    r'^(Component .* is (running|finished)|Skipping execution for |Downloading |Data: )')


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
  source = run.add_mutually_exclusive_group()
  source.add_argument('--data-dir', type=Path,
                      help='folder with the four IDX files (default: $%s, else the Keras cache '
                      '%s, else a verified download into it)' % (configs.DATA_DIR_ENV_VAR,
                                                                 configs.KERAS_CACHE_DIR))
  source.add_argument('--examples-dir', type=Path,
                      help='instead of IDX files: a folder with train/ and eval/ folders of '
                      'gzipped TFRecord files of tf.Examples (image: 784 ints, label: int)')
  run.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                   help='where the pipeline root, metadata and serving dir go '
                   '(default: %(default)s)')
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
  run.add_argument('--seed', type=int, default=configs.DEFAULT_SEED,
                   help='seed of the initial weights and the shuffling (default: %(default)s)')
  run.add_argument('--accuracy-threshold', type=float,
                   default=configs.DEFAULT_ACCURACY_THRESHOLD,
                   help='lowest test accuracy that blesses a model (default: %(default)s)')
  run.add_argument('--beam-arg', action='append', default=[], dest='beam_args',
                   metavar='ARG', help='a Beam pipeline option, repeatable, after the defaults '
                   f'{" ".join(configs.DEFAULT_BEAM_ARGS)} (e.g. '
                   '--beam-arg=--direct_running_mode=multi_processing)')
  run.add_argument('--accept-anomalies', action='store_true',
                   help='train and push this run even though the data gate found anomalies')
  run.add_argument('--verbose', action='store_true', help='show every log line')


def _run(args) -> int:
  config = configs.build(
      output_dir=args.output_dir, pipeline_root=args.pipeline_root,
      metadata_path=args.metadata_path, serving_dir=args.serving_dir, data_dir=args.data_dir,
      examples_dir=args.examples_dir, extra_beam_args=tuple(args.beam_args), epochs=args.epochs,
      batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
      accuracy_threshold=args.accuracy_threshold, accept_anomalies=args.accept_anomalies)
  _configure_output(args.verbose)
  from pipeline import runner  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  summary = runner.run(config)
  print(summary.format(config.accuracy_threshold))
  # Stopped at the data gate: a failure for whoever scheduled the run.
  return 1 if summary.gate_passed is False else 0



def _add_serve_parser(commands) -> None:
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  serve = commands.add_parser(
      'serve', help="serve the pushed models with TF Serving's REST and gRPC APIs, loading each "
      'new version as it is pushed')
  serve.add_argument('--model-dir', type=Path, required=True,
                     help='the serving dir: one SavedModel per numbered version (e.g. '
                     'output/serving)')
  serve.add_argument('--model-name', default=serving_config.DEFAULT_MODEL_NAME,
                     help='the name in the URLs and gRPC requests (default: %(default)s)')
  serve.add_argument('--host', default=serving_config.DEFAULT_HOST,
                     help='address to listen on (default: %(default)s, every interface)')
  serve.add_argument('--rest-port', type=int, default=serving_config.DEFAULT_REST_PORT,
                     help='default: %(default)s')
  serve.add_argument('--grpc-port', type=int, default=serving_config.DEFAULT_GRPC_PORT,
                     help='default: %(default)s')
  serve.add_argument('--poll-interval', type=float,
                     default=serving_config.DEFAULT_POLL_INTERVAL_S,
                     help='seconds between looks for new versions (default: %(default)s)')
  serve.add_argument('--max-body-bytes', type=int, default=serving_config.DEFAULT_MAX_BODY_BYTES,
                     help='largest request body or gRPC message (default: %(default)s)')
  serve.add_argument('--max-batch-size', type=int,
                     default=serving_config.DEFAULT_MAX_BATCH_SIZE,
                     help='most examples in one request (default: %(default)s)')


def _serve(args) -> int:
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  config = serving_config.build(
      args.model_dir, model_name=args.model_name, host=args.host, rest_port=args.rest_port,
      grpc_port=args.grpc_port, poll_interval_s=args.poll_interval,
      max_body_bytes=args.max_body_bytes, max_batch_size=args.max_batch_size)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from serving import server  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  return server.serve(config)


def _add_predict_parser(commands) -> None:
  predict = commands.add_parser(
      'predict', help='classify PNG or JPEG images with a pushed model, without a server')
  predict.add_argument('images', nargs='+', metavar='IMAGE',
                       help='an image file, or FILE=LABEL with its true class (a class id 0-9 or '
                       'a class name, e.g. boot.png=9 or top.jpg=t-shirt)')
  predict.add_argument('--model-dir', type=Path,
                       default=configs.DEFAULT_OUTPUT_DIR / 'serving',
                       help='a serving dir (its newest version is used) or one SavedModel '
                       '(default: %(default)s)')
  predict.add_argument('--plot', type=Path, metavar='OUT.png',
                       help="save the tutorial's picture: each image, its prediction and the "
                       'bar chart of the ten probabilities')
  predict.add_argument('--invert', action='store_true',
                       help='the images show a dark item on a light background (the model '
                       'expects a light item on a dark background, as in Fashion-MNIST)')


def _predict(args) -> int:
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from serving import predict  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  return predict.run(args.model_dir, args.images, plot_path=args.plot, invert=args.invert)

def _add_report_parser(commands) -> None:
  report = commands.add_parser('report', help="write a run's HTML report again; print its path")
  report.add_argument('--run', dest='run_id', help='the run id (default: the newest run)')
  report.add_argument('--out', type=Path, help='default: OUTPUT_DIR/reports/<run id>.html')
  report.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                      help='the output dir of the runs (default: %(default)s)')
  report.add_argument('--metadata-path', type=Path,
                      help='ML Metadata SQLite file (default: OUTPUT_DIR/metadata.sqlite)')


def _report(args) -> int:
  config = configs.build(output_dir=args.output_dir, metadata_path=args.metadata_path)
  _configure_output(verbose=False)
  from pipeline import reports  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  print(reports.rewrite(config, args.run_id, args.out))
  return 0


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog='fashion-pipeline',
      description='A TFX pipeline that trains, validates and ships a Fashion-MNIST classifier.')
  commands = parser.add_subparsers(dest='command', required=True)
  _add_run_parser(commands)
  _add_serve_parser(commands)
  _add_predict_parser(commands)
  _add_report_parser(commands)
  args = parser.parse_args(argv)
  from fashion_mnist import idx  # pylint: disable=g-import-not-at-top
  from pipeline import data_source  # pylint: disable=g-import-not-at-top
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  try:
    return {'run': _run, 'serve': _serve, 'predict': _predict,
            'report': _report}[args.command](args)
  except (configs.ConfigError, data_source.DataSourceError, idx.IdxFormatError,
          serving_config.ConfigError, LookupError) as e:
    print(f'fashion-pipeline: error: {e}', file=sys.stderr)
    return 2


if __name__ == '__main__':
  sys.exit(main())
