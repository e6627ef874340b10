"""The curated schema as an artifact, entered by its content rather than by its path.

In: the schema's text (a schema_pb2.Schema in protobuf text format). Out: a Schema artifact
holding it as `schema.pbtxt`, as TFX's ImportSchemaGen writes it.

TFX's ImportSchemaGen takes the file's absolute path as its setting, so the same schema in a clone
moved to another folder looked like a new setting: the schema imported again and every component
after it run again. Here the setting is the text itself: ML Metadata's cache sees a change of
schema and nothing else.
"""

import os

from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.dsl.component.experimental.annotations import OutputArtifact
from tfx.dsl.component.experimental.annotations import Parameter
from tfx.dsl.component.experimental.decorators import component
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts


@component
def SchemaImport(  # pylint: disable=invalid-name  (a component class, as TFX's are named)
    schema_text: Parameter[str],
    schema: OutputArtifact[standard_artifacts.Schema]) -> None:
  # A schema that does not parse fails here (naming its line and column), not in StatisticsGen.
  text_format.Parse(schema_text, schema_pb2.Schema())
  with fileio.open(os.path.join(schema.uri, schema_gen_executor.DEFAULT_FILE_NAME), 'w') as f:
    f.write(schema_text)
