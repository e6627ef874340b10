"""The versions of one model in its serving dir (TF Serving's layout): chosen by the version
policy, loaded, warmed up, hot-swapped, unloaded; and its version labels.

In: a ModelSpec (serving dir, version policy, labels) whose integer-named subfolders are
SavedModels; other names (such as the pusher's `.123.incomplete` staging folders) are ignored.
Out: a VersionRegistry whose `snapshot()` is an immutable view of the loaded versions, every
version's state and the labels. Each `poll()` loads the versions the policy wants beside the ones
serving (newest first), replays each one's warm-up requests (warmup.py), and only then publishes
a new snapshot without the versions the policy no longer wants: a request holds the snapshot it
started with, so a switch can neither fail it nor show it a half-loaded model, and the memory
held is that of the policy's versions. A version that fails to load (or to warm up) is logged and
kept out, and never replaces a working one: for each wanted version that is not loaded, the
newest loaded version the policy dropped stays. It is retried only when its files change. A label
moves only to a loaded version; until then it keeps naming the old one (TF Serving refuses a
label on a version that is not AVAILABLE).
"""

import dataclasses
import gc
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Dict, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving import errors
from serving import inference
from serving import warmup
from serving.metrics import Metrics
from serving.model_config import ModelSpec, list_versions

logger = logging.getLogger(__name__)

_SERVE_TAG = 'serve'

# States as TF Serving's GetModelStatus names them.
LOADING = 'LOADING'
AVAILABLE = 'AVAILABLE'
END = 'END'  # unloaded, or failed to load (with an error)

# Runs a checked request: (LoadedVersion, signature name, function, inputs) -> outputs. Directly,
# or through the batcher.
Runner = Callable[['LoadedVersion', str, object, Mapping[str, np.ndarray]], Dict[str, np.ndarray]]


def resolve_model_path(path: Path) -> Path:
  """A SavedModel folder as given, or the newest version of a serving dir."""
  if (path / 'saved_model.pb').is_file():
    return path
  versions = list_versions(path)
  if not versions:
    raise FileNotFoundError(f'{path} is neither a SavedModel nor a serving dir with numbered '
                            'versions')
  return versions[max(versions)]


def _fingerprint(path: Path) -> Tuple:
  """Names, sizes and modification times of a folder's files: they change when it is rewritten."""
  return tuple(sorted(
      (os.path.relpath(os.path.join(root, name), path), stat.st_size, stat.st_mtime_ns)
      for root, _, names in os.walk(path)
      for name, stat in ((name, os.stat(os.path.join(root, name))) for name in names)))


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
  """One loaded version: its callable signatures and their SignatureDefs (for metadata)."""
  model_name: str
  version: int
  path: Path
  signatures: Mapping[str, tf.types.experimental.ConcreteFunction]
  signature_defs: get_model_metadata_pb2.SignatureDefMap
  model: object  # the loaded SavedModel, which owns the signatures' variables
  runner: Runner

  def signature(self, name: str):
    """The concrete function for a signature name, or InvalidArgument (as TF Serving)."""
    if name not in self.signatures:
      raise errors.InvalidArgument(
          f'Serving signature name: "{name}" not found in signature def (this model has '
          f'{", ".join(sorted(self.signatures))})')
    return self.signatures[name]

  def predict(self, signature_name: str, inputs: Mapping[str, np.ndarray],
              max_batch_size: int) -> Dict[str, np.ndarray]:
    """Checks the inputs against the signature and runs it; outputs as numpy arrays."""
    function = self.signature(signature_name)
    inference.check_inputs(function.structured_input_signature[1], inputs, max_batch_size)
    return self.runner(self, signature_name, function, inputs)


def run_directly(loaded: LoadedVersion, _signature_name: str, function,
                 inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
  return inference.call(function, inputs)


def load_version(model_name: str, version: int, path: Path, runner: Runner) -> LoadedVersion:
  """Loads a SavedModel and replays its warm-up requests (directly, not batched), so that a
  version that loads but cannot serve is refused before it is switched in."""
  model = tf.saved_model.load(str(path), tags=[_SERVE_TAG])
  saved_model = saved_model_pb2.SavedModel.FromString((path / 'saved_model.pb').read_bytes())
  meta_graph = next(graph for graph in saved_model.meta_graphs
                    if _SERVE_TAG in graph.meta_info_def.tags)
  loaded = LoadedVersion(
      model_name=model_name, version=version, path=path, signatures=dict(model.signatures),
      model=model, runner=run_directly,
      signature_defs=get_model_metadata_pb2.SignatureDefMap(
          signature_def=meta_graph.signature_def))
  for signature_name, inputs in warmup.read(path):
    loaded.predict(signature_name, inputs, max_batch_size=len(next(iter(inputs.values()))))
  return dataclasses.replace(loaded, runner=runner)


@dataclasses.dataclass(frozen=True)
class VersionStatus:
  version: int
  state: str
  error: str = ''


@dataclasses.dataclass(frozen=True)
class Snapshot:
  """What the server serves of one model at one moment: never changed, only replaced."""
  loaded: Mapping[int, LoadedVersion]
  statuses: Tuple[VersionStatus, ...]  # newest first
  labels: Mapping[str, int]

  @property
  def latest(self) -> Optional[LoadedVersion]:
    return self.loaded[max(self.loaded)] if self.loaded else None


class VersionRegistry:
  """Keeps a Snapshot of one model's versions (see the module docstring); `poll()` is called by
  models.ModelManager, from one thread."""

  def __init__(self, spec: ModelSpec, metrics: Metrics, runner: Runner):
    self._spec = spec
    self._metrics = metrics
    self._runner = runner
    self._snapshot = Snapshot({}, (), {})
    self._failed: Dict[int, Tuple[Tuple, str]] = {}  # version: (fingerprint, error)
    self._unloaded = set()  # versions once loaded, dropped by the policy, still on disk
    self._label_warnings = set()

  @property
  def spec(self) -> ModelSpec:
    return self._spec

  def set_spec(self, spec: ModelSpec) -> None:
    """A new policy or new labels, from a changed config file: applied by the next poll."""
    self._spec = spec

  def snapshot(self) -> Snapshot:
    return self._snapshot  # one reference read: atomic

  def poll(self, stopping: threading.Event, max_loads: Optional[int] = None) -> None:
    """One look at the serving dir: loads the policy's new versions newest first, then drops
    the versions it no longer wants (see the module docstring)."""
    on_disk = list_versions(self._spec.base_path)
    wanted = self._spec.policy.select(on_disk)
    loaded = {v: lv for v, lv in self._snapshot.loaded.items() if v in on_disk}
    for version in set(self._snapshot.loaded) - set(loaded):
      logger.info('model %s: version %d was removed from %s: unloaded', self._spec.name, version,
                  self._spec.base_path)
    self._failed = {v: failure for v, failure in self._failed.items() if v in wanted}
    self._publish(loaded, on_disk, wanted)
    loads = 0
    for version in sorted(wanted - set(loaded), reverse=True):
      if stopping.is_set() or (max_loads is not None and loads >= max_loads):
        break
      fingerprint = _fingerprint(on_disk[version])
      if version in self._failed and self._failed[version][0] == fingerprint:
        continue  # failed as it is now; retried when its files change
      start = time.perf_counter()
      try:
        loaded[version] = load_version(self._spec.name, version, on_disk[version], self._runner)
      except Exception as e:  # pylint: disable=broad-except  (any failure keeps the old versions)
        message = f'{type(e).__name__}: {e}'.strip()
        self._failed[version] = (fingerprint, message)
        self._metrics.load_failed(self._spec.name, version)
        logger.error('model %s: version %d in %s failed to load; still serving %s: %s',
                     self._spec.name, version, self._spec.base_path,
                     sorted(loaded, reverse=True) or 'nothing', message)
      else:
        loads += 1
        self._failed.pop(version, None)
        self._unloaded.discard(version)
        self._metrics.loaded(self._spec.name, version, time.perf_counter() - start)
        logger.info('model %s: version %d loaded from %s', self._spec.name, version,
                    on_disk[version])
      self._publish(loaded, on_disk, wanted)

  def _serving(self, loaded: Dict[int, LoadedVersion], wanted) -> Dict[int, LoadedVersion]:
    """The wanted loaded versions, and for each wanted one not loaded (loading or failed) the
    newest other loaded version: availability is never lost to a version that is not ready."""
    serving = {v: lv for v, lv in loaded.items() if v in wanted}
    missing = len(wanted) - len(serving)
    for version in sorted(set(loaded) - set(serving), reverse=True)[:max(missing, 0)]:
      serving[version] = loaded[version]
    return serving

  def _labels(self, serving: Mapping[int, LoadedVersion]) -> Dict[str, int]:
    labels = {}
    for label, version in self._spec.labels.items():
      if version in serving:
        labels[label] = version
        self._label_warnings.discard((label, version))
        continue
      if label in self._snapshot.labels:
        labels[label] = self._snapshot.labels[label]
      if (label, version) not in self._label_warnings:
        self._label_warnings.add((label, version))
        logger.warning('model %s: label "%s" names version %d, which is not loaded: the label '
                       'stays at %s until it is', self._spec.name, label, version,
                       labels.get(label, 'nothing'))
    return labels

  def _publish(self, loaded: Dict[int, LoadedVersion], on_disk: Mapping[int, Path],
               wanted) -> None:
    serving = self._serving(loaded, wanted)
    dropped = set(loaded) - set(serving)
    for version in dropped:
      logger.info('model %s: version %d unloaded (version policy %s)', self._spec.name, version,
                  self._spec.policy.text())
      del loaded[version]
      self._unloaded.add(version)
    self._unloaded &= set(on_disk)
    shown = (wanted | set(serving) | self._unloaded) & set(on_disk)
    statuses = tuple(
        VersionStatus(v, AVAILABLE) if v in serving else
        VersionStatus(v, END, self._failed[v][1]) if v in self._failed else
        VersionStatus(v, END) if v in self._unloaded else
        VersionStatus(v, LOADING) for v in sorted(shown, reverse=True))
    self._snapshot = Snapshot(dict(serving), statuses, self._labels(serving))
    if dropped:
      # A loaded SavedModel's functions and variables are held in reference cycles: without a
      # collection an unloaded version's memory stays until the collector happens to run.
      gc.collect()
