"""The server's configuration: one typed object, built once from the command line.

In: the command-line values. Out: a frozen ServingConfig (paths absolute), or a ConfigError whose
message names the setting. Every serving default lives here (and TF Serving's config defaults in
model_config.py and batching.py).
"""

import dataclasses
from pathlib import Path
from typing import Optional, Tuple

from serving import batching
from serving import model_config
from serving.model_config import ConfigError, ModelSpec

DEFAULT_MODEL_NAME = 'fashion'
DEFAULT_HOST = '0.0.0.0'  # TF Serving listens on every interface
DEFAULT_REST_PORT = 8501  # TF Serving's usual ports
DEFAULT_GRPC_PORT = 8500
DEFAULT_POLL_INTERVAL_S = 1.0
# TF Serving's --model_config_file_poll_wait_seconds defaults to 0 (read once); so does ours.
DEFAULT_CONFIG_POLL_S = 0.0
# A JSON batch of 1,000 images is about 4 MB; an upload is a photo of a few MB.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 1000
# Values in one request's tensors: 1,000 images of 28x28 fit; checked on the declared shape of a
# gRPC TensorProto before anything is allocated.
DEFAULT_MAX_REQUEST_ELEMENTS = 1_000_000
# Pixels an uploaded image may decode to (4096x4096; a JPEG decodes at down to 1/8 scale, so up to
# 64 times that in its header); conversion takes at most images.BYTES_PER_PIXEL bytes each.
DEFAULT_MAX_IMAGE_PIXELS = 4096 * 4096
# A REST client must send a whole request head within this many seconds of connecting (or of its
# previous answer), and each next piece of a body within this many seconds of the last; else 408.
DEFAULT_CLIENT_TIMEOUT_S = 10.0
# How long SIGTERM waits for requests in flight before closing their connections.
DEFAULT_SHUTDOWN_GRACE_S = 10.0


@dataclasses.dataclass(frozen=True)
class ServingConfig:
  """Everything `fashion-pipeline serve` needs to know. `models` is what the command line or the
  model config file said at start; with a config file, the server re-reads it every
  config_poll_s seconds (0: never)."""
  models: Tuple[ModelSpec, ...]
  model_config_file: Optional[Path] = None
  config_poll_s: float = DEFAULT_CONFIG_POLL_S
  host: str = DEFAULT_HOST
  rest_port: int = DEFAULT_REST_PORT
  grpc_port: int = DEFAULT_GRPC_PORT
  poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
  max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
  max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
  max_request_elements: int = DEFAULT_MAX_REQUEST_ELEMENTS
  max_image_pixels: int = DEFAULT_MAX_IMAGE_PIXELS
  client_timeout_s: float = DEFAULT_CLIENT_TIMEOUT_S
  shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S
  batching_parameters: Optional[batching.BatchingParameters] = None  # None: batching off

  def __post_init__(self):
    for name in ('rest_port', 'grpc_port'):
      if not 0 <= getattr(self, name) <= 65535:
        raise ConfigError(f'{name.replace("_", " ")} must be 0-65535, not {getattr(self, name)}')
    if self.rest_port == self.grpc_port != 0:
      raise ConfigError(f'REST and gRPC ports must differ (both {self.rest_port})')
    if self.poll_interval_s <= 0:
      raise ConfigError(f'poll interval must be positive, not {self.poll_interval_s}')
    if self.config_poll_s < 0:
      raise ConfigError(f'model config file poll wait must be 0 or more, not {self.config_poll_s}')
    if self.max_body_bytes < 1024:
      raise ConfigError(f'max body bytes must be at least 1024, not {self.max_body_bytes}')
    if self.max_batch_size < 1:
      raise ConfigError(f'max batch size must be at least 1, not {self.max_batch_size}')
    if self.max_request_elements < 1:
      raise ConfigError(f'max request elements must be at least 1, not '
                        f'{self.max_request_elements}')
    if self.max_image_pixels < 1:
      raise ConfigError(f'max image pixels must be at least 1, not {self.max_image_pixels}')
    if self.client_timeout_s <= 0:
      raise ConfigError(f'client timeout must be positive, not {self.client_timeout_s}')


def build(model_dir: Optional[Path] = None, model_name: str = DEFAULT_MODEL_NAME,
          version_policy: str = model_config.DEFAULT_VERSION_POLICY,
          model_config_file: Optional[Path] = None, enable_batching: bool = False,
          batching_parameters_file: Optional[Path] = None, **settings) -> ServingConfig:
  """Builds the configuration: one model from model_dir/model_name/version_policy, or the models
  of a model config file (TF Serving's --model_base_path or --model_config_file: one of them)."""
  if (model_dir is None) == (model_config_file is None):
    raise ConfigError('give either --model-dir or --model-config-file')
  if model_config_file is not None:
    model_config_file = Path(model_config_file).expanduser().absolute()
    models = model_config.read(model_config_file)
  else:
    model_config.check_model_name(model_name)
    models = (ModelSpec(model_name, Path(model_dir).expanduser().absolute(),
                        model_config.parse_policy(version_policy)),)
  for spec in models:
    if not spec.base_path.is_dir():
      raise ConfigError(f'model "{spec.name}": base path {spec.base_path} is not a directory')
    model_config.check_labels(spec, str(model_config_file or spec.base_path))
  if batching_parameters_file is not None and not enable_batching:
    raise ConfigError('--batching-parameters-file needs --enable-batching')
  parameters = None
  if enable_batching:
    parameters = (batching.read_parameters(Path(batching_parameters_file))
                  if batching_parameters_file else batching.BatchingParameters())
  return ServingConfig(models=models, model_config_file=model_config_file,
                       batching_parameters=parameters,
                       **settings)
