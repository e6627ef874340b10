"""Finding the version a request asks for, and the status and metadata answers, as TF Serving's
protos (what gRPC sends) and as the JSON its REST API prints from them.

In: a versions.Snapshot, the served model's name and the request's model name and version (None:
the latest). Out: a LoadedVersion, GetModelStatusResponse or GetModelMetadataResponse, or
inference.NotFound with TF Serving's wording.
"""

import inspect
from typing import Optional

from google.protobuf import json_format
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2

from serving import inference
from serving import versions

SIGNATURE_DEF_FIELD = 'signature_def'  # the one metadata field TF Serving knows
_ERROR_CODES = {versions.END: 'UNKNOWN'}  # tensorflow.error.Code names; the rest are OK


def find(snapshot: versions.Snapshot, model_name: str, name: str,
         version: Optional[int]) -> versions.LoadedVersion:
  """The loaded version a request names (the latest if version is None), or NotFound."""
  loaded = None
  if name == model_name:
    loaded = snapshot.latest if version is None else snapshot.loaded.get(version)
  if loaded is None:
    raise inference.servable_not_found(name, version)
  return loaded


def status(snapshot: versions.Snapshot, model_name: str, name: str,
           version: Optional[int]) -> get_model_status_pb2.GetModelStatusResponse:
  """Every version's state (or one version's), newest first."""
  if name != model_name:
    raise inference.NotFound(f'Could not find any versions of model {name}')
  statuses = [s for s in snapshot.statuses if version is None or s.version == version]
  if not statuses:
    raise inference.NotFound(f'Could not find version {version} of model {name}' if version
                             is not None else f'Could not find any versions of model {name}')
  response = get_model_status_pb2.GetModelStatusResponse()
  for s in statuses:
    entry = response.model_version_status.add(
        version=s.version, state=get_model_status_pb2.ModelVersionStatus.State.Value(s.state))
    entry.status.error_code = _ERROR_CODES.get(s.state, 'OK')
    entry.status.error_message = s.error
  return response


def metadata(loaded: versions.LoadedVersion,
             name: str) -> get_model_metadata_pb2.GetModelMetadataResponse:
  """The version's signature definitions, in `metadata["signature_def"]`."""
  response = get_model_metadata_pb2.GetModelMetadataResponse()
  response.model_spec.name = name
  response.model_spec.version.value = loaded.version
  response.metadata[SIGNATURE_DEF_FIELD].Pack(loaded.signature_defs)
  return response


# The option that prints fields at their default values: protobuf 5.26 renamed it (protobuf 4.25
# has only the old name, 6 only the new one).
_PRINT_DEFAULT_VALUES = (
    'always_print_fields_with_no_presence'
    if 'always_print_fields_with_no_presence' in inspect.signature(
        json_format.MessageToDict).parameters else 'including_default_value_fields')


def to_json(message) -> dict:
  """A proto as TF Serving's REST API prints it: proto field names, default values included."""
  return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                    **{_PRINT_DEFAULT_VALUES: True})


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
  """TF Serving's REST metadata: the packed SignatureDefMap is printed as itself, not as an Any."""
  signature_defs = get_model_metadata_pb2.SignatureDefMap()
  response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_defs)
  return {'model_spec': to_json(response.model_spec),
          'metadata': {SIGNATURE_DEF_FIELD: to_json(signature_defs)}}
