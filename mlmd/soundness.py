"""Checks of the ML Metadata store that a run makes before it starts, and the pushes it recorded.

In: the pipeline's configuration. Out: `check_store` raises MetadataStoreError when the SQLite
file cannot be opened or is corrupt; `check_not_moved` raises MissingArtifactError when the store
records its artifacts under another pipeline root that is gone (the output dir was moved or copied
from elsewhere: ML Metadata holds absolute URIs); `recorded_pushes` is every serving path a
published PushedModel names.

Both checks read SQLite directly or through ML Metadata and import no TensorFlow; on the store of
a few runs they take milliseconds (SQLite's quick_check reads every page once).
"""

import sqlite3
from pathlib import Path
from typing import Optional, Set

from ml_metadata.proto import metadata_store_pb2

from mlmd import names
from mlmd import store as mlmd_store
from pipeline.configs import PipelineConfig
from pipeline.faults import MetadataStoreError
from pipeline.faults import MissingArtifactError

# An artifact's folder is <pipeline root>/<component>/<output key>/<execution id>.
_URI_DEPTH_BELOW_ROOT = 3


def check_store(metadata_path: Path) -> None:
  """Opens the store's SQLite file read-only and checks its pages, if the file exists."""
  if not metadata_path.exists():
    return  # the first run creates it
  if not metadata_path.is_file():
    raise MetadataStoreError(f'{metadata_path}: is not a file (a SQLite file belongs there)')
  try:
    with sqlite3.connect(f'file:{metadata_path}?mode=ro', uri=True) as connection:
      problems = [row[0] for row in connection.execute('PRAGMA quick_check')]
    connection.close()
  except sqlite3.Error as e:
    raise MetadataStoreError(f'{metadata_path}: cannot be read: {e}') from e
  if problems != ['ok']:
    raise MetadataStoreError(f'{metadata_path}: is corrupt: {problems[0]}')


def _recorded_root(uri: str) -> Optional[str]:
  parts = uri.rstrip('/').split('/')
  return '/'.join(parts[:-_URI_DEPTH_BELOW_ROOT]) if len(parts) > _URI_DEPTH_BELOW_ROOT else None


def check_not_moved(config: PipelineConfig) -> None:
  """Refuses a store whose artifacts all lie under a pipeline root other than config's that does
  not exist: the output dir was moved or copied, and every cached artifact would be missing."""
  if not config.metadata_path.is_file() or '://' in str(config.pipeline_root):
    return
  store = mlmd_store.connect(config.metadata_path)
  uris = [artifact.uri for artifact in store.get_artifacts() if artifact.uri]
  root = str(config.pipeline_root).rstrip('/')
  if not uris or any(uri.startswith(root + '/') for uri in uris):
    return
  recorded = _recorded_root(max(uris))
  if recorded and not Path(recorded).exists():
    raise MissingArtifactError(
        f'{config.metadata_path} records its artifacts under {recorded}, which does not exist, '
        f'not under this pipeline root {root}: the output dir was moved or copied (ML Metadata '
        'holds absolute paths); move it back, or start a new output dir')


def recorded_pushes(config: PipelineConfig) -> Set[str]:
  """The serving paths of every push ML Metadata recorded (published PushedModel artifacts)."""
  if not config.metadata_path.is_file():
    return set()
  store = mlmd_store.connect(config.metadata_path)
  return {artifact.custom_properties[names.PUSHED_DESTINATION].string_value
          for artifact in store.get_artifacts_by_type(names.PUSHED_MODEL)
          if artifact.state == metadata_store_pb2.Artifact.LIVE
          and artifact.custom_properties[names.PUSHED].int_value}
