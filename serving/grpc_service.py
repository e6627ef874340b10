"""TF Serving's gRPC API: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), with the protos of the tensorflow-serving-api package, so that clients written
against TF Serving (prediction_service_pb2_grpc.PredictionServiceStub) work unchanged.

In: a ServingConfig and a VersionRegistry. Out: `start`, a running grpc.Server on
config.host:config.grpc_port. Errors are gRPC status codes with a message: INVALID_ARGUMENT for a
bad request, NOT_FOUND for an unknown model, version or signature, RESOURCE_EXHAUSTED (from gRPC
itself) for a message over --max-body-bytes; Classify, Regress and MultiInference are
UNIMPLEMENTED (the model has no classify or regress signatures). Every call is logged on one line
with its status and latency.
"""

import functools
import logging
import time
from concurrent import futures

import grpc
import tensorflow as tf
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from serving import inference
from serving import model_info
from serving.config import ServingConfig
from serving.versions import VersionRegistry

logger = logging.getLogger(__name__)

# Threads for requests in flight; TensorFlow has its own threads for the computation.
_WORKERS = 16


def _logged(method):
  """Wraps a servicer method: logs it, and turns a ServingError into the call's status."""

  @functools.wraps(method)
  def wrapper(self, request, context):
    start = time.perf_counter()
    code = grpc.StatusCode.OK
    try:
      return method(self, request, context)
    except inference.ServingError as e:
      code = getattr(grpc.StatusCode, e.grpc_code)
      context.abort(code, str(e))
    except Exception:
      code = grpc.StatusCode.INTERNAL
      logger.exception('gRPC %s failed', method.__name__)
      raise
    finally:
      logger.info('gRPC %s %s %.1f ms', method.__name__, code.name,
                  (time.perf_counter() - start) * 1000)

  return wrapper


def _version(model_spec):
  """The version a ModelSpec asks for; None for the latest. Labels are not supported."""
  if model_spec.WhichOneof('version_choice') == 'version_label':
    raise inference.InvalidArgument(
        f'version labels are not supported (got "{model_spec.version_label}"): ask for a version '
        'number, or none for the latest')
  return model_spec.version.value if model_spec.HasField('version') else None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
  """Predict and GetModelMetadata over the registry's current snapshot."""

  def __init__(self, config: ServingConfig, registry: VersionRegistry):
    self._config = config
    self._registry = registry

  def _find(self, model_spec):
    return model_info.find(self._registry.snapshot(), self._config.model_name, model_spec.name,
                           _version(model_spec))

  @_logged
  def Predict(self, request, context):  # pylint: disable=invalid-name  (gRPC's method names)
    loaded = self._find(request.model_spec)
    signature_name = (request.model_spec.signature_name
                      or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)
    try:
      inputs = {name: tf.make_ndarray(tensor) for name, tensor in request.inputs.items()}
    except (TypeError, ValueError) as e:
      raise inference.InvalidArgument(f'an input TensorProto cannot be read: {e}') from e
    outputs = loaded.predict(signature_name, inputs, self._config.max_batch_size)
    unknown = set(request.output_filter) - set(outputs)
    if unknown:
      raise inference.InvalidArgument(f'output_filter names unknown outputs {sorted(unknown)}; '
                                      f'the signature has {sorted(outputs)}')
    response = predict_pb2.PredictResponse()
    response.model_spec.name = request.model_spec.name
    response.model_spec.version.value = loaded.version
    response.model_spec.signature_name = signature_name
    for name, array in outputs.items():
      if not request.output_filter or name in request.output_filter:
        response.outputs[name].CopyFrom(tf.make_tensor_proto(array))
    return response

  @_logged
  def GetModelMetadata(self, request, context):  # pylint: disable=invalid-name
    fields = set(request.metadata_field)
    if fields != {model_info.SIGNATURE_DEF_FIELD}:
      raise inference.InvalidArgument(
          f'metadata_field must be ["{model_info.SIGNATURE_DEF_FIELD}"], the only one supported, '
          f'not {sorted(fields)}')
    return model_info.metadata(self._find(request.model_spec), request.model_spec.name)


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
  """GetModelStatus (HandleReloadConfigRequest is UNIMPLEMENTED: the model dir is fixed)."""

  def __init__(self, config: ServingConfig, registry: VersionRegistry):
    self._config = config
    self._registry = registry

  @_logged
  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    return model_info.status(self._registry.snapshot(), self._config.model_name,
                             request.model_spec.name, _version(request.model_spec))


def start(config: ServingConfig, registry: VersionRegistry) -> grpc.Server:
  """Starts the gRPC server; returns it (stop it with server.stop(grace)). SO_REUSEPORT is off,
  so that a port already taken is an error rather than shared with another server."""
  server = grpc.server(
      futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix='grpc'),
      options=[('grpc.max_receive_message_length', config.max_body_bytes),
               ('grpc.so_reuseport', 0)])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      PredictionService(config, registry), server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(config, registry), server)
  address = f'{config.host}:{config.grpc_port}'
  port = server.add_insecure_port(address)
  if port == 0:
    raise OSError(f'gRPC cannot listen on {address}')
  server.start()
  logger.info('gRPC listening on %s:%d', config.host, port)
  return server
