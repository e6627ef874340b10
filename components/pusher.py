"""Pusher that publishes each blessed model as a new version directory, atomically.

In: the Trainer's model and the Evaluator's blessing. Out: when blessed, the model copied to
`<serving dir>/<version>/` (TF Serving's layout; the version is a Unix timestamp, always greater
than any version already there) and a PushedModel artifact recording the path and version.

TFX's own Pusher copies straight into the version directory, which a model server polling the
serving dir can see half-written. Here the copy goes to a hidden staging directory (a name TF
Serving ignores, not being a number) and is renamed into place only when complete. The staged
copy also gets TF Serving's warm-up file (`assets.extra/tf_serving_warmup_requests`, a Predict
request for each signature: serving/warmup.py), which TF Serving and our server replay before the
version serves.

A model identical to the newest version (the same files with the same bytes) is not published
again: that version is its push. This happens when a run was killed after the rename but before
ML Metadata recorded the push, so the next run's Pusher pushes the same model again.

The rename is the executor's last step (the archived copy in the pipeline root is written
before), so a failure inside the executor, a full disk say, never leaves a live version behind a
failed Pusher. What can still fail after the rename is ML Metadata's record of the push; the
runner then withdraws the version (`withdraw`, pipeline/runner.py), so that the serving dir holds
only what `fashion-pipeline runs` shows pushed.
"""

import hashlib
import os
import time
from typing import List

import tfx.components
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils
from tfx.types import standard_component_specs
from tfx.utils import io_utils
from tfx.utils import proto_utils

from serving import warmup

_STAGING_SUFFIX = '.incomplete'


def versions(serving_dir: str) -> List[int]:
  """The versions in serving_dir (integer-named folders; none if it does not exist)."""
  if not fileio.exists(serving_dir):
    return []
  return [int(name) for name in fileio.listdir(serving_dir) if name.isdigit()]


def next_version(serving_dir: str) -> int:
  """A Unix-timestamp version, bumped past the newest existing version if the clock is behind."""
  return max([int(time.time())] + [version + 1 for version in versions(serving_dir)])


def model_digest(model_path: str) -> str:
  """A SHA-256 of a directory tree: each folder's and file's relative path, and each file's
  SHA-256 (SavedModels here are a few MB: read whole)."""
  entries = []
  for root, dirs, files in fileio.walk(model_path):
    relative_root = os.path.relpath(root, model_path)
    entries += [(os.path.join(relative_root, name), b'folder') for name in dirs]
    for name in files:
      with fileio.open(os.path.join(root, name), 'rb') as f:
        entries.append((os.path.join(relative_root, name), hashlib.sha256(f.read()).digest()))
  digest = hashlib.sha256()
  for relative_path, content in sorted(entries):
    digest.update(relative_path.encode() + b'\0' + content)
  return digest.hexdigest()


def publish(model_path: str, serving_dir: str) -> str:
  """Copies a SavedModel, with the warm-up file, to a new version directory under serving_dir,
  unless the newest version is identical to that; returns the version's path."""
  fileio.makedirs(serving_dir)
  for name in fileio.listdir(serving_dir):
    if name.endswith(_STAGING_SUFFIX):  # left by a push that was killed part-way
      fileio.rmtree(os.path.join(serving_dir, name))
  version = str(next_version(serving_dir))
  staging_path = os.path.join(serving_dir, f'.{version}{_STAGING_SUFFIX}')
  io_utils.copy_dir(model_path, staging_path)
  warmup.write(staging_path)
  existing = versions(serving_dir)
  if existing:
    newest = os.path.join(serving_dir, str(max(existing)))
    # Pushed already, by a run killed before ML Metadata recorded it: one copy is enough.
    if model_digest(newest) == model_digest(staging_path):
      fileio.rmtree(staging_path)
      return newest
  serving_path = os.path.join(serving_dir, version)
  fileio.rename(staging_path, serving_path)
  return serving_path


def withdraw(serving_path: str) -> None:
  """Takes a version out of service: renamed back to a staging folder, which model servers
  ignore and the next push removes."""
  serving_dir, version = os.path.split(serving_path.rstrip('/'))
  fileio.rename(serving_path, os.path.join(serving_dir, f'.{version}{_STAGING_SUFFIX}'))


class AtomicPushExecutor(pusher_executor.Executor):
  """TFX's Pusher executor, with the copy to the filesystem destination made atomic."""

  def Do(self, input_dict, output_dict, exec_properties) -> None:
    self._log_startup(input_dict, output_dict, exec_properties)
    model_push = artifact_utils.get_single_instance(
        output_dict[standard_component_specs.PUSHED_MODEL_KEY])
    if not self.CheckBlessing(input_dict):
      self._MarkNotPushed(model_push)
      return
    model_path = self.GetModelPath(input_dict)
    destination = proto_utils.json_to_proto(
        exec_properties[standard_component_specs.PUSH_DESTINATION_KEY],
        pusher_pb2.PushDestination())
    # The archived copy in the pipeline root first: publishing must be the last thing that can
    # fail here, so that a failed Pusher never leaves a version live.
    io_utils.copy_dir(model_path, model_push.uri)
    serving_path = publish(model_path, destination.filesystem.base_directory)
    self._MarkPushed(model_push, pushed_destination=serving_path,
                     pushed_version=os.path.basename(serving_path))


def create_pusher(model, model_blessing, serving_dir: str) -> tfx.components.Pusher:
  """The Pusher component: pushes `model` to serving_dir when `model_blessing` says blessed."""
  return tfx.components.Pusher(
      model=model,
      model_blessing=model_blessing,
      push_destination=pusher_pb2.PushDestination(
          filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=serving_dir)),
      custom_executor_spec=executor_spec.ExecutorClassSpec(AtomicPushExecutor))
