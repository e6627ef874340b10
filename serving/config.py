"""The server's configuration: one typed object, built once from the command line.

In: the command-line values. Out: a frozen ServingConfig (paths absolute), or a ConfigError whose
message names the setting. Every serving default lives here.
"""

import dataclasses
from pathlib import Path

DEFAULT_MODEL_NAME = 'fashion'
DEFAULT_HOST = '0.0.0.0'  # TF Serving listens on every interface
DEFAULT_REST_PORT = 8501  # TF Serving's usual ports
DEFAULT_GRPC_PORT = 8500
DEFAULT_POLL_INTERVAL_S = 1.0
# A JSON batch of 1,000 images is about 4 MB; an upload is a photo of a few MB.
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
DEFAULT_MAX_BATCH_SIZE = 1000
# How long SIGTERM waits for requests in flight before closing their connections.
DEFAULT_SHUTDOWN_GRACE_S = 10.0


class ConfigError(ValueError):
  """A setting or argument of `serve` or `predict` (a port, a model dir, an image file, a label)
  cannot be used; the message names it and says why."""


@dataclasses.dataclass(frozen=True)
class ServingConfig:
  """Everything `fashion-pipeline serve` needs to know."""
  model_dir: Path
  model_name: str = DEFAULT_MODEL_NAME
  host: str = DEFAULT_HOST
  rest_port: int = DEFAULT_REST_PORT
  grpc_port: int = DEFAULT_GRPC_PORT
  poll_interval_s: float = DEFAULT_POLL_INTERVAL_S
  max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
  max_batch_size: int = DEFAULT_MAX_BATCH_SIZE
  shutdown_grace_s: float = DEFAULT_SHUTDOWN_GRACE_S

  def __post_init__(self):
    if not self.model_dir.is_dir():
      raise ConfigError(f'model dir {self.model_dir} is not a directory')
    if not self.model_name or any(c in self.model_name for c in '/:'):
      raise ConfigError(f'model name must be non-empty without "/" or ":", not {self.model_name!r}')
    for name in ('rest_port', 'grpc_port'):
      if not 0 <= getattr(self, name) <= 65535:
        raise ConfigError(f'{name.replace("_", " ")} must be 0-65535, not {getattr(self, name)}')
    if self.rest_port == self.grpc_port != 0:
      raise ConfigError(f'REST and gRPC ports must differ (both {self.rest_port})')
    if self.poll_interval_s <= 0:
      raise ConfigError(f'poll interval must be positive, not {self.poll_interval_s}')
    if self.max_body_bytes < 1024:
      raise ConfigError(f'max body bytes must be at least 1024, not {self.max_body_bytes}')
    if self.max_batch_size < 1:
      raise ConfigError(f'max batch size must be at least 1, not {self.max_batch_size}')


def build(model_dir: Path, **settings) -> ServingConfig:
  """Builds the configuration with an absolute model dir; other settings keep their defaults."""
  return ServingConfig(model_dir=Path(model_dir).expanduser().absolute(), **settings)
