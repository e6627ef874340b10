"""Opens the pipeline's ML Metadata store, a SQLite file. Imports ml_metadata only (no TensorFlow),
so that quick commands stay quick."""

from pathlib import Path

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2


def connect(metadata_path: Path, writable: bool = False) -> metadata_store.MetadataStore:
  """The store in metadata_path, read-only unless writable (the file must exist)."""
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(metadata_path)
  connection.sqlite.connection_mode = (
      metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE if writable else
      metadata_store_pb2.SqliteMetadataSourceConfig.READONLY)
  return metadata_store.MetadataStore(connection)
