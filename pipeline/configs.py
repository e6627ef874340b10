"""The pipeline's configuration: one typed object, built once from the command line and passed down.

Every default lives here.
"""

import dataclasses
import os
from pathlib import Path
from typing import Optional, Tuple

from fashion_mnist import dataset

PIPELINE_NAME = 'fashion-pipeline'

DEFAULT_OUTPUT_DIR = Path('output')
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 32
DEFAULT_LEARNING_RATE = 0.001
DEFAULT_ACCURACY_THRESHOLD = 0.85
DEFAULT_SEED = 0  # training is repeatable: the same data and settings give the same model
# Beam's DirectRunner in this process: on 70,000 images and 2 cores it ran the pipeline in 108 s
# with a 2.0 GB peak, against 160 s and 3.1 GB with a worker process per core (multi_processing,
# which pays TensorFlow's start-up and a copy of the data in each worker; bench/results/). On many
# cores try --beam-arg=--direct_running_mode=multi_processing --beam-arg=--direct_num_workers=0.
# --beam-arg values come after these and win.
DEFAULT_BEAM_ARGS = ('--direct_running_mode=in_memory',)

# Where the data comes from when --data-dir is not given, in order.
DATA_DIR_ENV_VAR = 'FASHION_MNIST_DIR'
KERAS_CACHE_DIR = Path('~/.keras/datasets/fashion-mnist')
MIRROR_URL_ENV_VAR = 'FASHION_MNIST_MIRROR'

SCHEMA_FILE = Path(__file__).resolve().parent.parent / 'schemas' / 'schema.pbtxt'


class ConfigError(ValueError):
  """A configuration value is out of range; the message names the setting."""


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
  """Everything a pipeline run needs to know. Paths are absolute once built by `build`."""
  output_dir: Path
  pipeline_root: Path
  metadata_path: Path
  serving_dir: Path
  data_dir: Optional[Path] = None  # None: resolved by pipeline.data_source
  examples_dir: Optional[Path] = None  # tf.Examples instead of IDX files (train/, eval/)
  data_cache_dir: Path = KERAS_CACHE_DIR.expanduser()
  mirror_url: str = dataset.PUBLIC_MIRROR_URL
  epochs: int = DEFAULT_EPOCHS
  batch_size: int = DEFAULT_BATCH_SIZE
  learning_rate: float = DEFAULT_LEARNING_RATE
  seed: int = DEFAULT_SEED
  accuracy_threshold: float = DEFAULT_ACCURACY_THRESHOLD
  beam_args: Tuple[str, ...] = DEFAULT_BEAM_ARGS
  schema_file: Path = SCHEMA_FILE
  accept_anomalies: bool = False  # let this run train despite the data gate's anomalies
  pipeline_name: str = PIPELINE_NAME

  def __post_init__(self):
    if self.epochs < 1:
      raise ConfigError(f'epochs must be at least 1, not {self.epochs}')
    if self.batch_size < 1:
      raise ConfigError(f'batch size must be at least 1, not {self.batch_size}')
    if not 0 < self.learning_rate:
      raise ConfigError(f'learning rate must be positive, not {self.learning_rate}')
    if self.data_dir and self.examples_dir:
      raise ConfigError('give either a data dir (IDX files) or an examples dir, not both')
    if not 0.0 <= self.accuracy_threshold <= 1.0:
      raise ConfigError(
          f'accuracy threshold must be between 0 and 1, not {self.accuracy_threshold}')


def build(output_dir: Optional[Path] = None,
          pipeline_root: Optional[Path] = None,
          metadata_path: Optional[Path] = None,
          serving_dir: Optional[Path] = None,
          data_dir: Optional[Path] = None,
          examples_dir: Optional[Path] = None,
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
      pipeline_root=Path(pipeline_root or output_dir / 'pipeline_root').absolute(),
      metadata_path=Path(metadata_path or output_dir / 'metadata.sqlite').absolute(),
      serving_dir=Path(serving_dir or output_dir / 'serving').absolute(),
      data_dir=Path(data_dir).expanduser().absolute() if data_dir else None,
      examples_dir=Path(examples_dir).expanduser().absolute() if examples_dir else None,
      beam_args=DEFAULT_BEAM_ARGS + tuple(extra_beam_args),
      **settings)
