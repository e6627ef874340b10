"""The command line: `fashion-pipeline run` (the same as `python pipeline_runner.py run`),
`compile`, `add-span`, `split`, `runs`, `lineage`, `report`, `serve`, `predict`, `promote`,
`rollback` and `gc`.

Parses arguments into a PipelineConfig and hands it to library code; nothing else lives here.
"""

import os

# Transform and TFMA need Keras 2; this must be set before anything imports TensorFlow.
os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')

import argparse  # pylint: disable=g-import-not-at-top,wrong-import-position
import concurrent.futures
import gc
import logging
import re
import sys
import warnings
from pathlib import Path

from absl import logging as absl_logging

from engines import beam_services as engine_beam_services
from engines import fetch as engine_fetch
from engines import processes as engine_processes
from engines import settings as engine_settings
from mlmd import lineage
from mlmd import run_fingerprint as mlmd_run_fingerprint
from mlmd import run_summary
from pipeline import configs
from pipeline import data_source
from pipeline import faults
from pipeline import fingerprint
from pipeline import garbage_collection
from pipeline import preflight
from pipeline import run_lock
from pipeline import scheduling
from pipeline import spans

# Progress lines shown without --verbose: components starting, finishing or skipped (after the
# data gate stopped a run), the download, and waiting for another run (--wait).
_PROGRESS = re.compile(
    r'^(Component .* is (running|finished)|Skipping execution for |Downloading |Data: '
    r'|Waiting for )')


class _ProgressFilter(logging.Filter):
  """Progress lines and errors; not the tracebacks that TFX and Beam log as a run fails: the
  command's own one-line error says what failed and names the log with the traceback."""

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno >= logging.ERROR:
      return not record.exc_info and 'Traceback (most recent call last)' not in str(record.msg)
    return bool(_PROGRESS.match(str(record.msg)))


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


def _add_pipeline_options(parser) -> None:
  """The options that define a pipeline: its data, places, training and blessing settings."""
  source = parser.add_mutually_exclusive_group()
  source.add_argument('--data-dir', type=Path,
                      help='folder with the four IDX files, or with span folders (span-1/, '
                      'span-2/, ...) that each hold them (default: '
                      f'${configs.DATA_DIR_ENV_VAR}, else the Keras cache '
                      f'{configs.KERAS_CACHE_DIR}, else a verified download into it)')
  source.add_argument('--examples-dir',
                      help='instead of IDX files: a folder with train/ and eval/ folders of '
                      'gzipped TFRecord files of tf.Examples (image: 784 ints, label: int)')
  parser.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                      help='where the pipeline root, metadata and serving dir go '
                      '(default: %(default)s)')
  # Not Path, nor --examples-dir: these may be URIs (gs://bucket/dir), which Path would mangle.
  parser.add_argument('--pipeline-root', help='default: OUTPUT_DIR/pipeline_root')
  parser.add_argument('--metadata-path', type=Path,
                      help='ML Metadata SQLite file (default: OUTPUT_DIR/metadata.sqlite)')
  parser.add_argument('--serving-dir',
                      help='where blessed models are pushed as numbered versions '
                      '(default: OUTPUT_DIR/serving)')
  parser.add_argument('--epochs', type=int, default=configs.DEFAULT_EPOCHS,
                      help='default: %(default)s')
  parser.add_argument('--batch-size', type=int, default=configs.DEFAULT_BATCH_SIZE,
                      help='default: %(default)s')
  parser.add_argument('--learning-rate', type=float, default=configs.DEFAULT_LEARNING_RATE,
                      help="Adam's learning rate (default: %(default)s)")
  parser.add_argument('--seed', type=int, default=configs.DEFAULT_SEED,
                      help='seed of the initial weights and the shuffling (default: %(default)s)')
  parser.add_argument('--accuracy-threshold', type=float,
                      default=configs.DEFAULT_ACCURACY_THRESHOLD,
                      help='lowest test accuracy that blesses a model (default: %(default)s)')
  parser.add_argument('--max-accuracy-drop', type=float,
                      default=configs.DEFAULT_MAX_ACCURACY_DROP,
                      help='how far below the latest blessed model a candidate may be and still '
                      'be blessed (default: %(default)s)')
  parser.add_argument('--spans', type=int, default=configs.DEFAULT_NUM_SPANS, dest='num_spans',
                      metavar='K', help='train on the last K spans of a data dir of span folders '
                      '(default: %(default)s, the newest)')
  parser.add_argument('--warm-start', action='store_true',
                      help="start training from the latest blessed model's weights (one trained "
                      'on other data), for --warm-start-epochs epochs')
  parser.add_argument('--warm-start-epochs', type=int,
                      default=configs.DEFAULT_WARM_START_EPOCHS, help='default: %(default)s')
  parser.add_argument('--train-cache-mb', type=int, default=configs.DEFAULT_TRAIN_CACHE_MB,
                      metavar='MB', help='the Trainer holds the training window in memory when '
                      'it fits in MB (60,000 images take 188 MB), else streams it from disk each '
                      'epoch (default: %(default)s)')
  parser.add_argument('--beam-arg', action='append', default=[], dest='beam_args',
                      metavar='ARG', help='a Beam pipeline option, repeatable, after the defaults '
                      f'{" ".join(configs.DEFAULT_BEAM_ARGS)} (e.g. '
                      '--beam-arg=--direct_running_mode=multi_processing)')
  parser.add_argument('--accept-anomalies', action='store_true',
                      help='train and push even though the data gate found anomalies')
  parser.add_argument('--engine', choices=('direct', *engine_settings.ENGINES), default='direct',
                      help="where the Beam work runs: Beam's DirectRunner in this process "
                      '(default), or the local Flink or Spark cluster that `fashion-pipeline '
                      'cluster start ENGINE` started (the Beam options it adds come before '
                      '--beam-arg values, which win)')


def _config(args, **settings) -> configs.PipelineConfig:
  """The pipeline options' configuration; settings: those of one command (run's retention)."""
  return configs.build(
      output_dir=args.output_dir, pipeline_root=args.pipeline_root,
      metadata_path=args.metadata_path, serving_dir=args.serving_dir, data_dir=args.data_dir,
      examples_dir=args.examples_dir,
      extra_beam_args=(*engine_settings.beam_args(args.engine), *args.beam_args),
      epochs=args.epochs,
      batch_size=args.batch_size, learning_rate=args.learning_rate, seed=args.seed,
      accuracy_threshold=args.accuracy_threshold, accept_anomalies=args.accept_anomalies,
      max_accuracy_drop=args.max_accuracy_drop, num_spans=args.num_spans,
      warm_start=args.warm_start, warm_start_epochs=args.warm_start_epochs,
      train_cache_mb=args.train_cache_mb, **settings)


def _add_run_parser(commands) -> None:
  run = commands.add_parser(
      'run', help='run the whole pipeline once (ingest, validate, transform, train, evaluate, '
      'push)')
  _add_pipeline_options(run)
  run.add_argument('--if-new-data', action='store_true',
                   help='exit at once (code 0) when no span is newer than the newest one already '
                   'ingested: for calling often from cron or a systemd timer')
  run.add_argument('--rerun', action='store_true',
                   help="run the pipeline even when nothing changed since the last run; TFX's "
                   "cache then reuses each component's results (default: answer from ML "
                   'Metadata that the last run stands)')
  run.add_argument('--wait', action='store_true',
                   help='when another run is using the output dir, wait for it to finish '
                   f'(default: exit at once with code {faults.EXIT_BUSY})')
  run.add_argument('--verbose', action='store_true', help='show every log line')
  run.add_argument('--retain-runs', type=int, metavar='N',
                   help='after the run, remove what the last N runs, the kept serving versions '
                   'and the next run do not need, as `gc --keep-runs N` (default: keep all)')
  run.add_argument('--retain-versions', type=int, metavar='N',
                   help='after the run, remove serving versions older than the newest N, but '
                   'none a label names, as `gc --keep-versions N` (default: keep all)')


def _checked_and_imported(config: configs.PipelineConfig):
  """(pipeline.runner, the run's inputs): the import and, on a thread at the same time, the checks
  that come before a run (pipeline/preflight.py), whose error, if any, is raised here."""
  with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
    checked = pool.submit(preflight.check, config)
    runner = _import_runner()
    return runner, checked.result()


def _import_runner():
  """pipeline.runner, imported with Python's garbage collector off, and what the import made frozen.

  Importing TensorFlow, TFX and Beam makes millions of objects that live as long as the process,
  and each full collection traverses them all, during the imports and after: 2.35 s of a cold run
  went to collections, 1.6 s of it to five full ones. Off while importing, then those objects
  frozen (never traversed again): 0.6 s. The import's own cyclic garbage stays, frozen with them."""
  gc.disable()
  try:
    from pipeline import runner  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  finally:
    gc.freeze()
    gc.enable()
  return runner


def _run(args) -> int:
  config = _config(args, retain_runs=args.retain_runs, retain_versions=args.retain_versions)
  _configure_output(args.verbose)
  # First, so that a refused run costs nothing and everything below sees one run at a time.
  with run_lock.hold(config.lock_path, wait=args.wait):
    if args.if_new_data:
      if config.examples_dir:
        raise configs.ConfigError('--if-new-data looks for new span folders of IDX files; it '
                                  'does not work with --examples-dir')
      message = scheduling.nothing_new(config, data_source.resolve_data_dir(config))
      if message:
        print(message)
        return faults.EXIT_OK
    # Taken before the run, of what it starts from: a file changed while it runs then shows as
    # a change to the next run.
    run_fingerprint = fingerprint.of_run(
        config, None if config.examples_dir else data_source.resolve_data_dir(config))
    summary = None if args.rerun else scheduling.unchanged_run(config, run_fingerprint)
    if summary:
      print(f'Nothing changed since run {summary.run_id} (same data, schema, code, options and '
            'stack): its results stand; no new run recorded (--rerun runs the pipeline, answered '
            "by TFX's cache).")
    else:
      runner, inputs = _checked_and_imported(config)
      summary = runner.run(config, inputs)
      if run_fingerprint and summary.gate_passed is not False:  # a run that exits 0
        mlmd_run_fingerprint.record(config, summary.run_id, run_fingerprint)
    retained = None  # still under the lock: no other run reads what goes
    if config.retain_runs is not None or config.retain_versions is not None:
      retained = garbage_collection.collect(config)
  print(summary.format(config.accuracy_threshold))
  if retained:
    print(retained.format(details=False))
  # Stopped at the data gate: a failure for whoever scheduled the run.
  return faults.EXIT_DATA_GATE if summary.gate_passed is False else faults.EXIT_OK


def _add_compile_parser(commands) -> None:
  compile_parser = commands.add_parser(
      'compile', help='compile the pipeline for another orchestrator: Kubeflow Pipelines v2 or '
      'Vertex AI Pipelines')
  _add_pipeline_options(compile_parser)
  compile_parser.add_argument('--target', choices=['kubeflow'], required=True)
  compile_parser.add_argument('--image', required=True,
                              help='the container image every step runs in: TFX 1.16 with this '
                              'project installed')
  compile_parser.add_argument('--output', type=Path, required=True, metavar='FILE.json',
                              help='where the pipeline spec goes')
  compile_parser.add_argument('--with-spans', action='store_true',
                              help='the data dir holds span folders (the newest is read)')


def _compile(args) -> int:
  config = _config(args)
  _configure_output(verbose=False)
  from pipeline import kubeflow  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  print(kubeflow.compile_pipeline(config, args.image, args.output, args.with_spans))
  return 0


def _add_serve_parser(commands) -> None:
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  from serving import model_config  # pylint: disable=g-import-not-at-top
  serve = commands.add_parser(
      'serve', help="serve the pushed models with TF Serving's REST and gRPC APIs, loading each "
      'new version as it is pushed')
  models = serve.add_mutually_exclusive_group(required=True)
  models.add_argument('--model-dir', type=Path,
                      help='the serving dir: one SavedModel per numbered version (e.g. '
                      'output/serving)')
  models.add_argument('--model-config-file', type=Path,
                      help="TF Serving's ModelServerConfig text file: several models, their "
                      'serving dirs, version policies and labels')
  serve.add_argument('--model-name', default=serving_config.DEFAULT_MODEL_NAME,
                     help='with --model-dir: the name in the URLs and gRPC requests (default: '
                     '%(default)s)')
  serve.add_argument('--version-policy', default=model_config.DEFAULT_VERSION_POLICY,
                     help='with --model-dir: latest:N, all or specific:V1,V2,... (default: '
                     '%(default)s, as TF Serving)')
  serve.add_argument('--model-config-file-poll-wait-seconds', type=float,
                     default=serving_config.DEFAULT_CONFIG_POLL_S,
                     help='seconds between reads of --model-config-file (default: %(default)s: '
                     'read once, as TF Serving)')
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
  serve.add_argument('--max-request-elements', type=int,
                     default=serving_config.DEFAULT_MAX_REQUEST_ELEMENTS,
                     help='most values in one request\'s tensors (default: %(default)s)')
  serve.add_argument('--max-image-pixels', type=int,
                     default=serving_config.DEFAULT_MAX_IMAGE_PIXELS,
                     help='most pixels an uploaded image may decode to (default: %(default)s)')
  serve.add_argument('--client-timeout', type=float,
                     default=serving_config.DEFAULT_CLIENT_TIMEOUT_S,
                     help='seconds a REST client may keep the server waiting for a whole '
                     'request head or the next bytes of a body; then 408 (default: %(default)s)')
  serve.add_argument('--enable-batching', action='store_true',
                     help='merge concurrent requests into one model call')
  serve.add_argument('--batching-parameters-file', type=Path,
                     help="TF Serving's BatchingParameters text file (max_batch_size, "
                     'batch_timeout_micros, num_batch_threads, max_enqueued_batches)')


def _serve(args) -> int:
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  config = serving_config.build(
      args.model_dir, model_name=args.model_name, version_policy=args.version_policy,
      model_config_file=args.model_config_file, enable_batching=args.enable_batching,
      batching_parameters_file=args.batching_parameters_file,
      config_poll_s=args.model_config_file_poll_wait_seconds, host=args.host,
      rest_port=args.rest_port, grpc_port=args.grpc_port, poll_interval_s=args.poll_interval,
      max_body_bytes=args.max_body_bytes, max_batch_size=args.max_batch_size,
      max_request_elements=args.max_request_elements, max_image_pixels=args.max_image_pixels,
      client_timeout_s=args.client_timeout)
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
  from serving import server  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  return server.serve(config)


def _add_label_parsers(commands) -> None:
  from serving import model_config  # pylint: disable=g-import-not-at-top
  promote = commands.add_parser(
      'promote', help='point a version label of the model config file at a version (a serving '
      'server re-reading the file moves its traffic)')
  promote.add_argument('version', type=int, help="the version (its folder in the serving dir)")
  rollback = commands.add_parser(
      'rollback', help='point a version label back at the version it named before its last '
      'promote')
  for command in (promote, rollback):
    command.add_argument('--label', default=model_config.DEFAULT_LABEL,
                         help='default: %(default)s')
    command.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                         help='the output dir of the runs (default: %(default)s)')
    command.add_argument('--model-config-file', type=Path,
                         help=f'default: OUTPUT_DIR/{model_config.MODEL_CONFIG_FILE}, which '
                         '`runs` and `lineage` read')
    command.add_argument('--model-name',
                         help='the model in the file (default: its only one)')
  promote.add_argument('--model-dir', type=Path,
                       help='the serving dir, when the file is created (default: '
                       'OUTPUT_DIR/serving; the model is named --model-name or "fashion")')


def _model_config_file(config: configs.PipelineConfig, given=None) -> Path:
  """The model config file promote and rollback edit and runs and lineage read."""
  from serving import model_config  # pylint: disable=g-import-not-at-top
  return given or config.output_dir / model_config.MODEL_CONFIG_FILE


def _promote(args) -> int:
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  from serving import model_config  # pylint: disable=g-import-not-at-top
  config = configs.build(output_dir=args.output_dir)
  path = _model_config_file(config, args.model_config_file)
  model_name = args.model_name
  if model_name is None and not path.exists():
    model_name = serving_config.DEFAULT_MODEL_NAME
  print(model_config.promote(path, args.version, args.label, model_name,
                             args.model_dir or Path(config.serving_dir)))
  return 0


def _rollback(args) -> int:
  from serving import model_config  # pylint: disable=g-import-not-at-top
  path = _model_config_file(configs.build(output_dir=args.output_dir), args.model_config_file)
  print(model_config.rollback(path, args.label, args.model_name))
  return 0


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
  _add_metadata_arguments(report)


def _add_metadata_arguments(command) -> None:
  command.add_argument('--output-dir', type=Path, default=configs.DEFAULT_OUTPUT_DIR,
                       help='the output dir of the runs (default: %(default)s)')
  command.add_argument('--metadata-path', type=Path,
                       help='ML Metadata SQLite file (default: OUTPUT_DIR/metadata.sqlite)')


def _report(args) -> int:
  config = configs.build(output_dir=args.output_dir, metadata_path=args.metadata_path)
  _configure_output(verbose=False)
  from pipeline import reports  # pylint: disable=g-import-not-at-top  (TensorFlow: seconds)
  print(reports.rewrite(config, args.run_id, args.out))
  return 0


def _add_history_parsers(commands) -> None:
  runs = commands.add_parser(
      'runs', help='list the past runs: start, duration, spans, component states, accuracy, '
      'blessing, pushed version')
  lineage = commands.add_parser(
      'lineage', help='show what produced a pushed model: spans, statistics, schema, transform '
      'graph, training run, evaluation')
  lineage.add_argument('version', help="the model's version (its folder in the serving dir)")
  for command in (runs, lineage):
    _add_metadata_arguments(command)
    command.add_argument('--json', action='store_true', help='print JSON instead of text')


def _labels_by_version(config: configs.PipelineConfig):
  """The version labels of the output dir's model config file (promote's default one)."""
  from serving import model_config  # pylint: disable=g-import-not-at-top
  return model_config.labels_by_version(_model_config_file(config), config.serving_dir)


def _runs(args) -> int:
  config = configs.build(output_dir=args.output_dir, metadata_path=args.metadata_path)
  _configure_output(verbose=False)
  summaries = run_summary.with_labels(run_summary.history(config), _labels_by_version(config))
  print(run_summary.to_json(summaries) if args.json else run_summary.format_table(summaries))
  return 0


def _lineage(args) -> int:
  config = configs.build(output_dir=args.output_dir, metadata_path=args.metadata_path)
  _configure_output(verbose=False)
  found = lineage.trace(config, args.version, _labels_by_version(config).get(args.version, []))
  print(run_summary.to_json(found) if args.json else found.format())
  return 0


def _add_span_parsers(commands) -> None:
  add_span = commands.add_parser(
      'add-span', help='check new IDX files and add them to a data dir as its next span folder')
  add_span.add_argument('files', nargs='+', type=Path, metavar='FILE',
                        help='the training images and labels IDX files; or four files: also the '
                        'test images and labels, named t10k-* (default: the test set of the '
                        'newest span, or of --test-set)')
  add_span.add_argument('--data-dir', type=Path, required=True,
                        help='the data dir of span folders (span-1/, span-2/, ...)')
  add_span.add_argument('--test-set', type=Path, metavar='DIR',
                        help='a folder with the t10k-* test files, for a first span given only '
                        'training files')
  split = commands.add_parser(
      'split', help='cut a training set into parts of consecutive images, each a folder ready '
      'for add-span (for demos and tests: e.g. 6 parts of 10,000 images)')
  split.add_argument('--data-dir', type=Path,
                     help='the folder with the training files (default: as for run)')
  split.add_argument('--parts', type=int, default=6, help='default: %(default)s')
  split.add_argument('--out', type=Path, required=True,
                     help='where the part-1/, part-2/, ... folders go')


def _add_span(args) -> int:
  number, folder = spans.add_span(args.data_dir.absolute(), args.files, args.test_set)
  print(f'Added span {number}: {folder}')
  return 0


def _split(args) -> int:
  source = data_source.resolve_data_dir(configs.build(data_dir=args.data_dir))
  for folder in spans.split_training_set(source, args.out, args.parts):
    print(folder)
  return 0


def _add_gc_parser(commands) -> None:
  gc_parser = commands.add_parser(
      'gc', help='remove the files of artifacts and serving versions that nothing still needs '
      '(their ML Metadata records stay, marked DELETED)')
  gc_parser.add_argument('--keep-runs', type=int, default=configs.DEFAULT_KEEP_RUNS, metavar='N',
                         help='keep everything of the last N runs (default: %(default)s)')
  gc_parser.add_argument('--keep-versions', type=int, default=configs.DEFAULT_KEEP_VERSIONS,
                         metavar='N', help='keep the newest N serving versions, besides any a '
                         'label names (default: %(default)s)')
  gc_parser.add_argument('--spans', type=int, default=configs.DEFAULT_NUM_SPANS, dest='num_spans',
                         metavar='K', help="the runs' --spans: the examples of the last K spans "
                         'are kept for the next run (default: %(default)s)')
  gc_parser.add_argument('--dry-run', action='store_true',
                         help='only print what would be removed and how many bytes')
  gc_parser.add_argument('--wait', action='store_true',
                         help='when a run is using the output dir, wait for it (default: exit '
                         f'at once with code {faults.EXIT_BUSY})')
  _add_metadata_arguments(gc_parser)
  gc_parser.add_argument('--pipeline-root', help='default: OUTPUT_DIR/pipeline_root')
  gc_parser.add_argument('--serving-dir', help='default: OUTPUT_DIR/serving')


def _gc(args) -> int:
  config = configs.build(output_dir=args.output_dir, metadata_path=args.metadata_path,
                         pipeline_root=args.pipeline_root, serving_dir=args.serving_dir,
                         num_spans=args.num_spans, retain_runs=args.keep_runs,
                         retain_versions=args.keep_versions)
  with run_lock.hold(config.lock_path, wait=args.wait):
    print(garbage_collection.collect(config, dry_run=args.dry_run).format())
  return 0


def _add_cluster_parser(commands) -> None:
  cluster = commands.add_parser(
      'cluster', help='start, stop or show a local Flink or Spark cluster for run --engine: the '
      "engine's processes, Beam's job server and an SDK worker pool, on 127.0.0.1")
  cluster.add_argument('action', choices=('start', 'stop', 'status'))
  cluster.add_argument('engine', choices=engine_settings.ENGINES)


def _cluster(args) -> int:
  from engines import cluster  # pylint: disable=g-import-not-at-top
  if args.action == 'stop':
    stopped = cluster.stop(args.engine)
    print(f'Stopped: {", ".join(stopped)}' if stopped else f'No {args.engine} cluster was running')
    return 0
  if args.action == 'start':
    print(f'Starting the {args.engine} cluster (its files are fetched into '
          f'{engine_settings.cache_dir()} on first use)...', flush=True)
    cluster.start(args.engine)
  statuses = cluster.status(args.engine)
  for status in statuses:
    state = f'pid {status.pid}' if status.pid else 'not running'
    print(f'{status.name:12} {engine_settings.HOST}:{status.port:<6} {state:12} {status.log_path}')
  print(f'UI: http://{engine_settings.HOST}:{engine_settings.PORTS[args.engine].ui}/  '
        f'run: fashion-pipeline run --engine {args.engine}')
  return 0 if all(status.pid for status in statuses) else 1


class _PrintStack(argparse.Action):
  """--version: reads package metadata only, so it answers before anything imports TensorFlow."""

  def __call__(self, parser, namespace, values, option_string=None):
    from fashion_mnist import stack  # pylint: disable=g-import-not-at-top
    print(stack.describe())
    parser.exit()


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
      prog='fashion-pipeline',
      description='A TFX pipeline that trains, validates and ships a Fashion-MNIST classifier.')
  parser.add_argument('--version', action=_PrintStack, nargs=0,
                      help='print the stack (current or legacy) and its versions, and exit')
  commands = parser.add_subparsers(dest='command', required=True)
  _add_run_parser(commands)
  _add_compile_parser(commands)
  _add_serve_parser(commands)
  _add_predict_parser(commands)
  _add_report_parser(commands)
  _add_history_parsers(commands)
  _add_span_parsers(commands)
  _add_label_parsers(commands)
  _add_cluster_parser(commands)
  _add_gc_parser(commands)
  args = parser.parse_args(argv)
  from fashion_mnist import idx  # pylint: disable=g-import-not-at-top
  from serving import config as serving_config  # pylint: disable=g-import-not-at-top
  try:
    return {'run': _run, 'compile': _compile, 'serve': _serve, 'predict': _predict,
            'report': _report, 'add-span': _add_span, 'split': _split, 'runs': _runs,
            'lineage': _lineage, 'promote': _promote, 'rollback': _rollback,
            'cluster': _cluster, 'gc': _gc}[args.command](args)
  except (configs.ConfigError, data_source.DataSourceError, idx.IdxFormatError, spans.SpanError,
          serving_config.ConfigError, LookupError, engine_processes.ClusterError,
          engine_fetch.FetchError) as e:
    print(f'fashion-pipeline: error: {e}', file=sys.stderr)
    return faults.EXIT_BAD_INPUT
  except run_lock.RunLockBusy as e:
    print(f'fashion-pipeline: {e}', file=sys.stderr)
    return faults.EXIT_BUSY
  except engine_beam_services.BeamJobFailed as e:
    print(f'fashion-pipeline: error: {e}', file=sys.stderr)
    return faults.EXIT_CLUSTER_JOB_FAILED
  except Exception as e:  # pylint: disable=broad-except  (one line and a log, not a traceback)
    return _report_fault(e, args)


def _report_fault(error: Exception, args) -> int:
  """A failure of the environment or a bug: one line on stderr naming the file and the cause,
  the traceback in a log under the output dir; the cause's exit code (pipeline/faults.py)."""
  output_dir = getattr(args, 'output_dir', None)
  pipeline_root = getattr(args, 'pipeline_root', None) or (
      output_dir and str(Path(output_dir).absolute() / 'pipeline_root'))
  fault = faults.classify(error, pipeline_root)
  log = faults.write_log(error, fault, output_dir and Path(output_dir).absolute(),
                         ' '.join(sys.argv))
  print(f'fashion-pipeline: error: {fault.message} (exit {fault.exit_code}; '
        f'{f"traceback in {log}" if log else "no log could be written"})', file=sys.stderr)
  return fault.exit_code


def cli() -> int:
  """The console script: main(), then the exit without a last garbage collection."""
  exit_code = main()
  # At exit Python would collect the cycles among TensorFlow's, Beam's and TFX's objects: 1.5 s
  # of every command, for memory the process gives back anyway. Frozen objects are left alone.
  gc.freeze()
  return exit_code


if __name__ == '__main__':
  sys.exit(cli())
