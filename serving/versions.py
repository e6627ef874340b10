"""The versions of a model in a serving dir (TF Serving's layout): found, loaded, hot-swapped.

In: a serving dir whose integer-named subfolders are SavedModels; other names (such as the pusher's
`.123.incomplete` staging folders) are ignored. Out: a VersionRegistry whose `snapshot()` is an
immutable view of every loaded version and every version's state. A poll thread loads new versions
beside the old ones (newest first) and drops removed ones, each time by replacing the whole
snapshot at once: a request holds the snapshot it started with, so a switch can neither fail it
nor show it a half-loaded model. A version that fails to load (or to answer a warm-up request) is
logged and kept out; the versions already loaded go on serving, and it is retried only when its
files change.
"""

import dataclasses
import logging
import os
import re
import threading
from pathlib import Path
from typing import Dict, Mapping, Optional, Tuple

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from fashion_mnist import features
from serving import inference

logger = logging.getLogger(__name__)

_VERSION_NAME = re.compile(r'[0-9]+')
_SERVE_TAG = 'serve'

# States as TF Serving's GetModelStatus names them.
LOADING = 'LOADING'
AVAILABLE = 'AVAILABLE'
END = 'END'  # failed to load


def list_versions(model_dir: Path) -> Dict[int, Path]:
  """The version folders under model_dir, by version number; {} if model_dir is missing."""
  try:
    names = os.listdir(model_dir)
  except FileNotFoundError:
    return {}
  return {int(name): model_dir / name for name in names
          if _VERSION_NAME.fullmatch(name) and (model_dir / name).is_dir()}


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


def _warmup_inputs(input_specs: Mapping[str, tf.TensorSpec]) -> Optional[Dict[str, np.ndarray]]:
  """One blank image per input this project's signatures take; None for unknown signatures."""
  blank = np.zeros((1, *features.IMAGE_SHAPE), np.float32)
  known = {features.IMAGES_INPUT_KEY: blank,
           features.EXAMPLES_INPUT_KEY: inference.images_to_examples(blank)}
  if not set(input_specs) <= set(known):
    return None
  return {name: known[name] for name in input_specs}


@dataclasses.dataclass(frozen=True)
class LoadedVersion:
  """One loaded version: its callable signatures and their SignatureDefs (for metadata)."""
  version: int
  path: Path
  signatures: Mapping[str, tf.types.experimental.ConcreteFunction]
  signature_defs: get_model_metadata_pb2.SignatureDefMap
  model: object  # the loaded SavedModel, which owns the signatures' variables

  def signature(self, name: str):
    """The concrete function for a signature name, or NotFound."""
    if name not in self.signatures:
      raise inference.NotFound(f'Serving signature name: "{name}" not found in signature def '
                               f'(this model has {", ".join(sorted(self.signatures))})')
    return self.signatures[name]

  def predict(self, signature_name: str, inputs: Mapping[str, np.ndarray],
              max_batch_size: int) -> Dict[str, np.ndarray]:
    """Checks the inputs against the signature and runs it; outputs as numpy arrays."""
    return inference.run(self.signature(signature_name), inputs, max_batch_size)


def load_version(version: int, path: Path) -> LoadedVersion:
  """Loads a SavedModel and answers a warm-up request on each signature, so that a version that
  loads but cannot serve is refused before it is switched in."""
  model = tf.saved_model.load(str(path), tags=[_SERVE_TAG])
  saved_model = saved_model_pb2.SavedModel.FromString((path / 'saved_model.pb').read_bytes())
  meta_graph = next(graph for graph in saved_model.meta_graphs
                    if _SERVE_TAG in graph.meta_info_def.tags)
  loaded = LoadedVersion(
      version=version, path=path, signatures=dict(model.signatures), model=model,
      signature_defs=get_model_metadata_pb2.SignatureDefMap(
          signature_def=meta_graph.signature_def))
  for name, function in loaded.signatures.items():
    warmup = _warmup_inputs(function.structured_input_signature[1])
    if warmup is not None:
      loaded.predict(name, warmup, max_batch_size=1)
  return loaded


@dataclasses.dataclass(frozen=True)
class VersionStatus:
  version: int
  state: str
  error: str = ''


@dataclasses.dataclass(frozen=True)
class Snapshot:
  """What the server serves at one moment: never changed, only replaced."""
  loaded: Mapping[int, LoadedVersion]
  statuses: Tuple[VersionStatus, ...]  # newest first

  @property
  def latest(self) -> Optional[LoadedVersion]:
    return self.loaded[max(self.loaded)] if self.loaded else None


class VersionRegistry:
  """Polls a serving dir and keeps a Snapshot of its loaded versions (see the module docstring)."""

  def __init__(self, model_dir: Path, poll_interval_s: float):
    self._model_dir = model_dir
    self._poll_interval_s = poll_interval_s
    self._snapshot = Snapshot({}, ())
    self._failed: Dict[int, Tuple[Tuple, str]] = {}  # version: (fingerprint, error)
    self._stopping = threading.Event()
    self._thread = threading.Thread(target=self._poll_loop, name='version-poller', daemon=True)

  def snapshot(self) -> Snapshot:
    return self._snapshot  # one reference read: atomic

  def start(self) -> None:
    """Loads the newest loadable version now, then polls in the background for the rest."""
    self.poll(max_loads=1)
    self._thread.start()

  def stop(self) -> None:
    self._stopping.set()
    if self._thread.is_alive():
      self._thread.join()

  def _poll_loop(self) -> None:
    while not self._stopping.wait(self._poll_interval_s):
      try:
        self.poll()
      except Exception:  # pylint: disable=broad-except  (keep polling whatever happened)
        logger.exception('polling %s failed', self._model_dir)

  def poll(self, max_loads: Optional[int] = None) -> None:
    """One look at the serving dir: drops removed versions, loads new ones newest first."""
    on_disk = list_versions(self._model_dir)
    loaded = {v: lv for v, lv in self._snapshot.loaded.items() if v in on_disk}
    for version in set(self._snapshot.loaded) - set(loaded):
      logger.info('version %d was removed from %s: unloaded', version, self._model_dir)
    self._failed = {v: failure for v, failure in self._failed.items() if v in on_disk}
    self._publish(loaded, on_disk)
    loads = 0
    for version in sorted(set(on_disk) - set(loaded), reverse=True):
      if self._stopping.is_set() or (max_loads is not None and loads >= max_loads):
        return
      fingerprint = _fingerprint(on_disk[version])
      if version in self._failed and self._failed[version][0] == fingerprint:
        continue  # failed as it is now; retried when its files change
      try:
        loaded[version] = load_version(version, on_disk[version])
      except Exception as e:  # pylint: disable=broad-except  (any failure keeps the old versions)
        message = f'{type(e).__name__}: {e}'.strip()
        self._failed[version] = (fingerprint, message)
        logger.error('version %d in %s failed to load; still serving %s: %s', version,
                     self._model_dir, sorted(loaded, reverse=True) or 'nothing', message)
      else:
        loads += 1
        self._failed.pop(version, None)
        logger.info('version %d loaded from %s', version, on_disk[version])
      self._publish(loaded, on_disk)

  def _publish(self, loaded: Dict[int, LoadedVersion], on_disk: Mapping[int, Path]) -> None:
    statuses = tuple(
        VersionStatus(v, AVAILABLE) if v in loaded else
        VersionStatus(v, END, self._failed[v][1]) if v in self._failed else
        VersionStatus(v, LOADING) for v in sorted(on_disk, reverse=True))
    self._snapshot = Snapshot(dict(loaded), statuses)
