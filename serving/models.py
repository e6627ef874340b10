"""Every model the server serves: a VersionRegistry each, kept in step with the model config file.

In: a ServingConfig, the server's Metrics, and a Runner (direct, or through the batcher). Out: a
ModelManager: `snapshot(name)` is one model's current versions.Snapshot (or NotFound); a poll
thread calls each registry's poll every config.poll_interval_s, and re-reads the model config
file every config.config_poll_s (as TF Serving's --model_config_file_poll_wait_seconds): models
added are loaded, models removed are unloaded, and changed policies and labels are applied. A
config file that cannot be read or parsed, or whose labels name versions its policies do not
serve, is logged and the last good one kept (as TF Serving).
"""

import logging
import threading
import time
from typing import Dict, Iterator, Tuple

from serving import errors
from serving import model_config
from serving.config import ServingConfig
from serving.metrics import Metrics
from serving.versions import Runner, Snapshot, VersionRegistry

logger = logging.getLogger(__name__)


class ModelManager:
  """The models and their poll thread (see the module docstring)."""

  def __init__(self, config: ServingConfig, metrics: Metrics, runner: Runner):
    self._config = config
    self._metrics = metrics
    self._runner = runner
    self._registries: Dict[str, VersionRegistry] = {
        spec.name: VersionRegistry(spec, metrics, runner) for spec in config.models}
    self._config_text = (config.model_config_file.read_text()
                         if config.model_config_file else None)
    self._stopping = threading.Event()
    self._thread = threading.Thread(target=self._poll_loop, name='model-poller', daemon=True)
    metrics.watch_states(self.states, self.names)

  def names(self) -> Tuple[str, ...]:
    return tuple(self._registries)

  def snapshot(self, name: str, version=None) -> Snapshot:
    registry = self._registries.get(name)
    if registry is None:
      raise errors.servable_not_found(name, version)
    return registry.snapshot()

  def states(self) -> Iterator[Tuple[str, int, str]]:
    for name, registry in list(self._registries.items()):
      for status in registry.snapshot().statuses:
        yield name, status.version, status.state

  def start(self) -> None:
    """Loads each model's newest loadable wanted version now; the rest in the background."""
    self._poll_models(max_loads=1)
    self._thread.start()

  def stop(self) -> None:
    self._stopping.set()
    if self._thread.is_alive():
      self._thread.join()

  def _poll_models(self, max_loads=None) -> None:
    for name, registry in list(self._registries.items()):
      try:
        registry.poll(self._stopping, max_loads)
      except Exception:  # pylint: disable=broad-except  (keep polling whatever happened)
        logger.exception('polling model %s in %s failed', name, registry.spec.base_path)

  def _poll_loop(self) -> None:
    next_config_read = time.monotonic() + self._config.config_poll_s
    while not self._stopping.wait(self._config.poll_interval_s):
      if self._config_text is not None and self._config.config_poll_s and (
          time.monotonic() >= next_config_read):
        next_config_read = time.monotonic() + self._config.config_poll_s
        self._reload_config()
      self._poll_models()

  def _reload_config(self) -> None:
    path = self._config.model_config_file
    try:
      text = path.read_text()
      if text == self._config_text:
        return
      specs = {spec.name: spec for spec in model_config.parse(text, str(path))}
      for spec in specs.values():
        model_config.check_labels(spec, str(path))
    except (OSError, model_config.ConfigError) as e:
      logger.error('model config file %s not applied, still serving the last one: %s', path, e)
      return
    self._config_text = text
    registries = dict(self._registries)
    for name in set(registries) - set(specs):
      logger.info('model %s is no longer in %s: unloaded', name, path)
      del registries[name]
    for name, spec in specs.items():
      if name in registries:
        registries[name].set_spec(spec)
      else:
        logger.info('model %s added by %s', name, path)
        registries[name] = VersionRegistry(spec, self._metrics, self._runner)
    self._registries = registries  # replaced whole: readers see the old or the new dict
    logger.info('model config file %s applied: %s', path, ', '.join(
        f'{s.name} ({s.policy.text()}{"".join(f", {k}={v}" for k, v in sorted(s.labels.items()))})'
        for s in specs.values()))
