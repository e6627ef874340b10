"""`fashion-pipeline serve`: the model server process, REST (uvicorn) and gRPC side by side.

In: a ServingConfig. Out: runs until SIGTERM or SIGINT, then stops taking requests on both
protocols at once, lets those in flight finish (up to config.shutdown_grace_s), stops polling and
returns 0 (1 if a port cannot be had). Each model's newest loadable version is loaded before the
ports open; the other versions follow in the background, and new ones as they appear
(models.ModelManager, versions.VersionRegistry). With batching on, every predict request goes
through one batching.Batcher.
"""

import logging
import signal

import uvicorn

from serving import batching
from serving import grpc_service
from serving import http_limits
from serving import inference
from serving import rest
from serving import versions
from serving.config import ServingConfig
from serving.metrics import Metrics
from serving.models import ModelManager

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


def _runner(config: ServingConfig, metrics: Metrics):
  """How a checked request is run: directly, or merged with others by a Batcher; either way the
  model call's size goes into the batch-size metric. Returns the runner and the batcher."""
  if config.batching_parameters is None:
    def run_directly(loaded, signature_name, function, inputs):
      outputs = versions.run_directly(loaded, signature_name, function, inputs)
      metrics.batch(loaded.model_name, loaded.version, signature_name,
                    len(next(iter(inputs.values()))))
      return outputs
    return run_directly, None

  batcher = batching.Batcher(config.batching_parameters,
                             on_batch=lambda key, size: metrics.batch(*key, size))

  def run_batched(loaded, signature_name, function, inputs):
    return batcher.run((loaded.model_name, loaded.version, signature_name),
                       lambda merged: inference.call(function, merged), inputs)
  return run_batched, batcher


def serve(config: ServingConfig) -> int:
  """Serves until stopped (see the module docstring); returns the exit code."""
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s',
                      force=True)
  for sig in _STOP_SIGNALS:
    signal.signal(sig, _raise_stop)
  metrics = Metrics()
  runner, batcher = _runner(config, metrics)
  models = ModelManager(config, metrics, runner)
  grpc_server = None
  stopped_grpc = []

  def stop_grpc():
    if grpc_server is not None and not stopped_grpc:
      stopped_grpc.append(grpc_server.stop(config.shutdown_grace_s))

  try:
    for spec in config.models:
      logger.info('serving model "%s" from %s (version policy %s)', spec.name, spec.base_path,
                  spec.policy.text())
    if config.batching_parameters:
      logger.info('batching: %s', config.batching_parameters)
    models.start()
    for spec in config.models:
      if models.snapshot(spec.name).latest is None:
        logger.warning('model %s: no loadable version in %s yet: waiting for one', spec.name,
                       spec.base_path)
    grpc_server = grpc_service.start(config, models, metrics)
    rest_server = _RestServer(
        uvicorn.Config(rest.create_app(config, models, metrics), host=config.host,
                       port=config.rest_port, log_config=None, access_log=False,
                       timeout_graceful_shutdown=int(config.shutdown_grace_s),
                       **http_limits.uvicorn_settings(config)),
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
    models.stop()
    if batcher is not None:
      batcher.stop()
  logger.info('stopped')
  return 0
