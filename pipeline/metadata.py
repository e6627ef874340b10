"""Opens the pipeline's ML Metadata store, a SQLite file, and reads an Examples artifact's span.
Imports ml_metadata only (no TensorFlow), so that quick commands stay quick."""

from pathlib import Path
from typing import Optional

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


EXAMPLES_TYPE = 'Examples'  # tfx.types.standard_artifacts.Examples.TYPE_NAME
# ExampleGen's custom property of its Examples (tfx.components.example_gen.utils.SPAN_PROPERTY_NAME);
# Transform's transformed examples (when it writes them), of the same type, have none.
_SPAN = 'span'


def span_of(artifact: metadata_store_pb2.Artifact) -> Optional[int]:
  """The data span of an ExampleGen's Examples; None for any other artifact."""
  if artifact.type != EXAMPLES_TYPE:
    return None
  for properties in (artifact.custom_properties, artifact.properties):
    if _SPAN in properties:
      return properties[_SPAN].int_value
  return None
