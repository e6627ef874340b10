"""`fashion-pipeline serve`: the model server process, REST (uvicorn) and gRPC side by side.

In: a ServingConfig. Out: runs until SIGTERM or SIGINT, then stops taking requests on both
protocols at once, lets those in flight finish (up to config.shutdown_grace_s), stops polling and
returns 0 (1 if a port cannot be had). The newest loadable version is loaded before the ports
open; the other versions follow in the background, and new ones as they appear
(versions.VersionRegistry).
"""

import logging
import signal

import uvicorn

from serving import grpc_service
from serving import rest
from serving.config import ServingConfig
from serving.versions import VersionRegistry

logger = logging.getLogger(__name__)

_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class _Stop(Exception):
  """Raised by a stop signal outside uvicorn's own handling (while loading, or re-raised by
  uvicorn after its shutdown), so that the clean-up below still runs."""


def _raise_stop(signum, _frame):
  raise _Stop(signal.Signals(signum).name)


class _RestServer(uvicorn.Server):
  """uvicorn's server, which on a stop signal also starts the gRPC server's graceful stop."""

  def __init__(self, config: uvicorn.Config, on_stop):
    super().__init__(config)
    self._on_stop = on_stop

  def handle_exit(self, sig, frame):
    self._on_stop()
    super().handle_exit(sig, frame)


def serve(config: ServingConfig) -> int:
  """Serves until stopped (see the module docstring); returns the exit code."""
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s',
                      force=True)
  for sig in _STOP_SIGNALS:
    signal.signal(sig, _raise_stop)
  registry = VersionRegistry(config.model_dir, config.poll_interval_s)
  grpc_server = None
  stopped_grpc = []

  def stop_grpc():
    if grpc_server is not None and not stopped_grpc:
      stopped_grpc.append(grpc_server.stop(config.shutdown_grace_s))

  try:
    logger.info('serving model "%s" from %s', config.model_name, config.model_dir)
    registry.start()
    if registry.snapshot().latest is None:
      logger.warning('no loadable version in %s yet: waiting for one', config.model_dir)
    grpc_server = grpc_service.start(config, registry)
    rest_server = _RestServer(
        uvicorn.Config(rest.create_app(config, registry), host=config.host,
                       port=config.rest_port, log_config=None, access_log=False,
                       timeout_graceful_shutdown=int(config.shutdown_grace_s)),
        on_stop=stop_grpc)
    rest_server.run()
  except _Stop as e:
    logger.info('%s received', e)
  except OSError as e:  # a port taken, an address not ours
    logger.error('cannot serve: %s', e)
    return 1
  finally:
    stop_grpc()
    if stopped_grpc:
      stopped_grpc[0].wait()
    registry.stop()
  logger.info('stopped')
  return 0
