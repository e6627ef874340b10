"""The pipeline's configuration: one typed object, built once from the command line and passed down.

Every default lives here.
"""

import dataclasses
import os
from pathlib import Path
from typing import Optional, Tuple, Union

from fashion_mnist import dataset

PIPELINE_NAME = 'fashion-pipeline'

DEFAULT_OUTPUT_DIR = Path('output')
# In the output dir: held by the run using it (pipeline/run_lock.py).
RUN_LOCK_FILE = 'run.lock'
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 0.001
DEFAULT_ACCURACY_THRESHOLD = 0.85
DEFAULT_MAX_ACCURACY_DROP = 0.0  # a candidate less accurate than the last blessed model is refused
DEFAULT_NUM_SPANS = 1  # train on the newest span only
DEFAULT_WARM_START_EPOCHS = 3  # starting from a trained model's weights needs fewer passes
DEFAULT_SEED = 0  # training is repeatable: the same data and settings give the same model
# `gc`: the runs whose artifacts are all kept, and the newest serving versions kept (besides
# those a label names). `run --retain-runs/--retain-versions` has no default: keep everything.
DEFAULT_KEEP_RUNS = 3
DEFAULT_KEEP_VERSIONS = 3
# In the output dir: the copies of reports `fashion-pipeline report` writes.
REPORTS_DIR = 'reports'
# The Trainer holds a training window in memory when its transformed pixels fit in this many MB
# (a span of 60,000 images takes 188 MB), and streams it from disk otherwise (models/model.py).
DEFAULT_TRAIN_CACHE_MB = 256
# Beam's DirectRunner in this process: on 70,000 images and 2 cores it ran the pipeline in 108 s
# with a 2.0 GB peak, against 160 s and 3.1 GB with a worker process per core (multi_processing,
# which pays TensorFlow's start-up and a copy of the data in each worker; bench/results/). On many
# cores try --beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=0.
# The runner is named, not left to Beam: Beam 2.77's DirectRunner first tries Prism, a Go runner it
# downloads from the internet for each Beam component (offline it falls back after a failed lookup;
# online it would switch runners). The FnApiRunner is what the DirectRunner runs batch pipelines
# on, on both stacks, and it honours --direct_running_mode. --beam-arg values come after these
# and win.
#
# Two workers in this process, one per core: the FnApiRunner then runs a stage's bundles two at a
# time on threads, each worker taking its share of the stage's input (ExampleGen's shards, the
# shards StatisticsGen reads). Decoding examples, TFDV's quantiles sketches, zlib and TensorFlow
# let go of Python's lock, so the two run on both cores. In memory, not `multi_threading`, which
# is the same threads behind a gRPC data plane: in the same cold runs on 2 cores ExampleGen and
# StatisticsGen took 1.5 and 2.9 s so, against 1.5 and 3.2 s (and 2.3 and 3.9 s on one worker).
# Beam logs a warning that in_memory ignores the count: the FnApiRunner honours it.
DEFAULT_BEAM_ARGS = ('--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner',
                     '--direct_running_mode=in_memory', '--direct_num_workers=2')
# Except the Evaluator: TFMA's metric combiners are Python that holds the lock, and a second
# worker loads the models once more: 3.7-4.6 s on two workers against 2.8-3.0 s on one.
EVALUATOR_BEAM_ARGS = ('--direct_num_workers=1',)

# Where the data comes from when --data-dir is not given, in order.
DATA_DIR_ENV_VAR = 'FASHION_MNIST_DIR'
KERAS_CACHE_DIR = Path('~/.keras/datasets/fashion-mnist')
MIRROR_URL_ENV_VAR = 'FASHION_MNIST_MIRROR'

SCHEMA_FILE = Path(__file__).resolve().parent.parent / 'schemas' / 'schema.pbtxt'


class ConfigError(ValueError):
  """A configuration value is out of range; the message names the setting."""


# A local path, or a URI (gs://bucket/dir) where the orchestrator's filesystem supports one.
Location = Union[Path, str]


def _location(value) -> Location:
  text = str(value)
  return text if '://' in text else Path(text).expanduser().absolute()


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """Everything a pipeline run needs to know. Paths are absolute once built by `build`."""
  output_dir: Path
  pipeline_root: Location
  metadata_path: Path
  serving_dir: Location
  data_dir: Optional[Path] = None  # None: resolved by pipeline.data_source
  examples_dir: Optional[Location] = None  # tf.Examples instead of IDX files (train/, eval/)
  data_cache_dir: Path = KERAS_CACHE_DIR.expanduser()
  mirror_url: str = dataset.PUBLIC_MIRROR_URL
  epochs: int = DEFAULT_EPOCHS
  batch_size: int = DEFAULT_BATCH_SIZE
  learning_rate: float = DEFAULT_LEARNING_RATE
  seed: int = DEFAULT_SEED
  accuracy_threshold: float = DEFAULT_ACCURACY_THRESHOLD
  max_accuracy_drop: float = DEFAULT_MAX_ACCURACY_DROP
  num_spans: int = DEFAULT_NUM_SPANS  # the training window: the last num_spans spans
  warm_start: bool = False  # start from the latest blessed model's weights
  warm_start_epochs: int = DEFAULT_WARM_START_EPOCHS
  train_cache_mb: int = DEFAULT_TRAIN_CACHE_MB  # 0: always stream the window
  beam_args: Tuple[str, ...] = DEFAULT_BEAM_ARGS
  schema_file: Path = SCHEMA_FILE
  accept_anomalies: bool = False  # let this run train despite the data gate's anomalies
  pipeline_name: str = PIPELINE_NAME
  # At the end of a run, keep the last retain_runs runs and the newest retain_versions serving
  # versions, removing the rest (pipeline/garbage_collection.py); None keeps all.
  retain_runs: Optional[int] = None
  retain_versions: Optional[int] = None

  @property
  def lock_path(self) -> Path:
    """The run lock: one run at a time per output dir."""
    return self.output_dir / RUN_LOCK_FILE

  def __post_init__(self):
    if self.epochs < 1:
      raise ConfigError(f'epochs must be at least 1, not {self.epochs}')
    if self.warm_start_epochs < 1:
      raise ConfigError(f'warm start epochs must be at least 1, not {self.warm_start_epochs}')
    if self.train_cache_mb < 0:
      raise ConfigError(f'the training cache budget must be at least 0 MB, not '
                        f'{self.train_cache_mb}')
    if self.num_spans < 1:
      raise ConfigError(f'the number of spans must be at least 1, not {self.num_spans}')
    if not 0.0 <= self.max_accuracy_drop <= 1.0:
      raise ConfigError(
          f'max accuracy drop must be between 0 and 1, not {self.max_accuracy_drop}')
    if self.batch_size < 1:
      raise ConfigError(f'batch size must be at least 1, not {self.batch_size}')
    if not 0 < self.learning_rate:
      raise ConfigError(f'learning rate must be positive, not {self.learning_rate}')
    if self.data_dir and self.examples_dir:
      raise ConfigError('give either a data dir (IDX files) or an examples dir, not both')
    for what, count in (('runs', self.retain_runs), ('serving versions', self.retain_versions)):
      if count is not None and count < 1:
        raise ConfigError(f'the {what} to keep must be at least 1, not {count}')
    if not 0.0 <= self.accuracy_threshold <= 1.0:
      raise ConfigError(
          f'accuracy threshold must be between 0 and 1, not {self.accuracy_threshold}')


def build(output_dir: Optional[Path] = None,
          pipeline_root: Optional[Location] = None,
          metadata_path: Optional[Path] = None,
          serving_dir: Optional[Location] = None,
          data_dir: Optional[Path] = None,
          examples_dir: Optional[Location] = None,
          extra_beam_args: Tuple[str, ...] = (),
          environ=os.environ,
          **settings) -> PipelineConfig:
  """Builds the configuration: pipeline root, metadata and serving dir default to the output dir."""
  output_dir = Path(output_dir or DEFAULT_OUTPUT_DIR).absolute()
  if data_dir is None and examples_dir is None and environ.get(DATA_DIR_ENV_VAR):
    data_dir = Path(environ[DATA_DIR_ENV_VAR])
  if environ.get(MIRROR_URL_ENV_VAR):
    settings.setdefault('mirror_url', environ[MIRROR_URL_ENV_VAR])
  return PipelineConfig(
      output_dir=output_dir,
      pipeline_root=_location(pipeline_root or output_dir / 'pipeline_root'),
      metadata_path=Path(metadata_path or output_dir / 'metadata.sqlite').absolute(),
      serving_dir=_location(serving_dir or output_dir / 'serving'),
      data_dir=Path(data_dir).expanduser().absolute() if data_dir else None,
      examples_dir=_location(examples_dir) if examples_dir else None,
      beam_args=DEFAULT_BEAM_ARGS + tuple(extra_beam_args),
      **settings)
