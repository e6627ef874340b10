"""Finding the version a request asks for, and the status and metadata answers, as TF Serving's
protos (what gRPC sends) and as the JSON its REST API prints from them.

In: a models.ModelManager and the request's model name, version and label (neither: the latest).
Out: a LoadedVersion, GetModelStatusResponse or GetModelMetadataResponse, or errors.NotFound /
InvalidArgument with TF Serving's wording (an unknown label is INVALID_ARGUMENT there).
"""

from typing import Optional

from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2

from fashion_mnist import stack
from serving import errors
from serving import versions

SIGNATURE_DEF_FIELD = 'signature_def'  # the one metadata field TF Serving knows


def resolve(snapshot: versions.Snapshot, version: Optional[int],
            label: Optional[str]) -> Optional[int]:
  """The version number a label names (or the version as given)."""
  if label is None:
    return version
  if label not in snapshot.labels:
    raise errors.InvalidArgument(f'Unrecognized servable version label: {label}')
  return snapshot.labels[label]


def find(models, name: str, version: Optional[int] = None,
         label: Optional[str] = None) -> versions.LoadedVersion:
  """The loaded version a request names (the latest if neither version nor label), or NotFound."""
  snapshot = models.snapshot(name, version)
  version = resolve(snapshot, version, label)
  loaded = snapshot.latest if version is None else snapshot.loaded.get(version)
  if loaded is None:
    raise errors.servable_not_found(name, version)
  return loaded


def status(models, name: str, version: Optional[int] = None,
           label: Optional[str] = None) -> get_model_status_pb2.GetModelStatusResponse:
  """Every version's state (or one version's), newest first."""
  try:
    snapshot = models.snapshot(name)
  except errors.NotFound:
    raise errors.NotFound(f'Could not find any versions of model {name}') from None
  version = resolve(snapshot, version, label)
  statuses = [s for s in snapshot.statuses if version is None or s.version == version]
  if not statuses:
    raise errors.NotFound(f'Could not find version {version} of model {name}' if version
                             is not None else f'Could not find any versions of model {name}')
  response = get_model_status_pb2.GetModelStatusResponse()
  for s in statuses:
    entry = response.model_version_status.add(
        version=s.version, state=get_model_status_pb2.ModelVersionStatus.State.Value(s.state))
    entry.status.error_code = 'UNKNOWN' if s.error else 'OK'  # tensorflow.error.Code names
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


def to_json(message) -> dict:
  """A proto as TF Serving's REST API prints it: proto field names, default values included."""
  return stack.message_to_dict_with_defaults(message)


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict:
  """TF Serving's REST metadata: the packed SignatureDefMap is printed as itself, not as an Any."""
  signature_defs = get_model_metadata_pb2.SignatureDefMap()
  response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_defs)
  return {'model_spec': to_json(response.model_spec),
          'metadata': {SIGNATURE_DEF_FIELD: to_json(signature_defs)}}
