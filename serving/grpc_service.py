"""TF Serving's gRPC API: PredictionService (Predict, GetModelMetadata) and ModelService
(GetModelStatus), with the protos of the tensorflow-serving-api package, so that clients written
against TF Serving (prediction_service_pb2_grpc.PredictionServiceStub) work unchanged.

In: a ServingConfig, a models.ModelManager and the server's Metrics. Out: `start`, a running
grpc.Server on config.host:config.grpc_port. A ModelSpec names a version by number, by label
(`version_label`) or neither (the latest). Errors are gRPC status codes with a message:
INVALID_ARGUMENT for a bad request (an unknown signature or label too, as in TF Serving),
NOT_FOUND for an unknown model or version, RESOURCE_EXHAUSTED for a message over --max-body-bytes
(from gRPC itself) or a full batching queue; Classify, Regress and MultiInference are
UNIMPLEMENTED (the model has no classify or regress signatures). Every call is logged on one line
with its status and latency, and counted in the metrics.

Hostile clients: a message that does not parse is INVALID_ARGUMENT (gRPC's own answer would be
INTERNAL); TensorProtos are checked against the signature and the limits before any allocation
(tensor_protos); the server bounds concurrent calls (RESOURCE_EXHAUSTED beyond), streams per
connection, metadata size, and closes idle, silent or very old connections (_OPTIONS).
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

from serving import errors
from serving import metrics
from serving import model_info
from serving import tensor_protos
from serving.config import ServingConfig
from serving.models import ModelManager

logger = logging.getLogger(__name__)

# Threads for requests in flight (with batching, each waits for its batch); TensorFlow has its
# own threads for the computation.
_WORKERS = 64
_MAX_CONCURRENT_RPCS = 4 * _WORKERS  # calls waiting for a worker beyond: RESOURCE_EXHAUSTED
# Per connection: streams at once, header bytes; connections silent for 5 minutes are closed,
# pings check an idle client is there (20 s to answer), and a connection is closed after an hour
# (calls in flight get 10 s), so a stalled or hoarding client cannot keep resources for ever.
_OPTIONS = [('grpc.max_concurrent_streams', 100), ('grpc.max_metadata_size', 16 * 1024),
            ('grpc.max_connection_idle_ms', 300_000), ('grpc.keepalive_time_ms', 60_000),
            ('grpc.keepalive_timeout_ms', 20_000), ('grpc.max_connection_age_ms', 3_600_000),
            ('grpc.max_connection_age_grace_ms', 10_000)]
_API_NAMES = {'Predict': 'predict', 'GetModelMetadata': 'metadata', 'GetModelStatus': 'status'}


def _logged(method):
  """Wraps a servicer method: logs it, counts it in the metrics (with the version that answered),
  and turns a ServingError into the call's status."""

  @functools.wraps(method)
  def wrapper(self, request, context):
    start = time.perf_counter()
    code = grpc.StatusCode.OK
    if isinstance(request, _Undecodable):
      logger.info('gRPC %s %s: %s', method.__name__, grpc.StatusCode.INVALID_ARGUMENT.name,
                  request.error)
      context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.error)
    spec = request.model_spec
    try:
      return method(self, request, context)
    except errors.ServingError as e:
      code = getattr(grpc.StatusCode, e.grpc_code)
      context.abort(code, _printable(str(e)))
    except Exception:
      code = grpc.StatusCode.INTERNAL
      logger.exception('gRPC %s failed', method.__name__)
      context.abort(code, f'{method.__name__} failed: see the server log')
    finally:
      seconds = time.perf_counter() - start
      logger.info('gRPC %s %s %.1f ms', method.__name__, code.name, seconds * 1000)
      signature = getattr(spec, 'signature_name', '')
      if method.__name__ == 'Predict':
        signature = signature or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
      self._metrics.request(spec.name, *self._served(spec, signature),
                            _API_NAMES[method.__name__], metrics.GRPC, code.name, seconds)

  return wrapper


def _printable(text: str) -> str:
  """gRPC sends details as UTF-8: a lone surrogate from a client's string would fail the call."""
  return text.encode('utf-8', 'backslashreplace').decode('utf-8')


class _Undecodable:
  """What the server's deserializer gives for bytes that are not the method's message."""

  def __init__(self, error: str):
    self.error = error


def _tolerant(deserializer):
  """A request deserializer that never fails: gRPC would answer INTERNAL for a parse error."""

  def deserialize(data: bytes):
    try:
      return deserializer(data)
    except Exception as e:  # protobuf's DecodeError, and RuntimeError on deep nesting
      return _Undecodable(f'the request is not a valid message of this method: {e}')
  return deserialize


class _TolerantDeserializing(grpc.ServerInterceptor):
  def intercept_service(self, continuation, handler_call_details):
    handler = continuation(handler_call_details)
    if handler is None or handler.request_deserializer is None:
      return handler
    return handler._replace(request_deserializer=_tolerant(handler.request_deserializer))


def _version(model_spec):
  """The version and the label a ModelSpec asks for (neither: the latest)."""
  if model_spec.WhichOneof('version_choice') == 'version_label':
    return None, model_spec.version_label
  return (model_spec.version.value if model_spec.HasField('version') else None), None


class _Servicer:
  def __init__(self, config: ServingConfig, models: ModelManager, server_metrics: metrics.Metrics):
    self._config = config
    self._models = models
    self._metrics = server_metrics

  def _served(self, model_spec, signature: str):
    """The version and signature a call asked for, as metric labels: only those served (else
    ''), so that clients cannot grow the metrics with names of their own."""
    try:
      loaded = model_info.find(self._models, model_spec.name, *_version(model_spec))
    except errors.ServingError:
      return None, ''
    return loaded.version, (signature if signature in loaded.signatures else '')


def _unimplemented(name: str, why: str):
  """A method answered UNIMPLEMENTED on one log line (gRPC's stub would log a traceback)."""

  def method(self, request, context):
    logger.info('gRPC %s %s', name, grpc.StatusCode.UNIMPLEMENTED.name)
    context.abort(grpc.StatusCode.UNIMPLEMENTED, f'{name} is not implemented: {why}')
  method.__name__ = name
  return method


_NO_SIGNATURE = 'the model has no classify or regress signature'


class PredictionService(_Servicer, prediction_service_pb2_grpc.PredictionServiceServicer):
  """Predict and GetModelMetadata over the models' current snapshots."""
  Classify = _unimplemented('Classify', _NO_SIGNATURE)
  Regress = _unimplemented('Regress', _NO_SIGNATURE)
  MultiInference = _unimplemented('MultiInference', _NO_SIGNATURE)

  def _find(self, model_spec):
    return model_info.find(self._models, model_spec.name, *_version(model_spec))

  @_logged
  def Predict(self, request, context):  # pylint: disable=invalid-name  (gRPC's method names)
    loaded = self._find(request.model_spec)
    signature_name = (request.model_spec.signature_name
                      or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY)
    inputs = tensor_protos.to_arrays(
        request.inputs, loaded.signature(signature_name).structured_input_signature[1],
        self._config.max_batch_size, self._config.max_request_elements)
    outputs = loaded.predict(signature_name, inputs, self._config.max_batch_size)
    unknown = set(request.output_filter) - set(outputs)
    if unknown:
      raise errors.InvalidArgument(f'output_filter names unknown outputs {sorted(unknown)}; '
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
      raise errors.InvalidArgument(
          f'metadata_field must be ["{model_info.SIGNATURE_DEF_FIELD}"], the only one supported, '
          f'not {sorted(fields)}')
    return model_info.metadata(self._find(request.model_spec), request.model_spec.name)


class ModelService(_Servicer, model_service_pb2_grpc.ModelServiceServicer):
  """GetModelStatus (HandleReloadConfigRequest is UNIMPLEMENTED: the config file is re-read
  instead, --model-config-file-poll-wait-seconds)."""
  HandleReloadConfigRequest = _unimplemented(
      'HandleReloadConfigRequest', 'the model config file is re-read instead '
      '(--model-config-file-poll-wait-seconds)')

  @_logged
  def GetModelStatus(self, request, context):  # pylint: disable=invalid-name
    return model_info.status(self._models, request.model_spec.name, *_version(request.model_spec))


def start(config: ServingConfig, models: ModelManager,
          server_metrics: metrics.Metrics) -> grpc.Server:
  """Starts the gRPC server; returns it (stop it with server.stop(grace)). SO_REUSEPORT is off,
  so that a port already taken is an error rather than shared with another server."""
  server = grpc.server(
      futures.ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix='grpc'),
      interceptors=[_TolerantDeserializing()], maximum_concurrent_rpcs=_MAX_CONCURRENT_RPCS,
      options=[('grpc.max_receive_message_length', config.max_body_bytes),
               ('grpc.so_reuseport', 0), *_OPTIONS])
  prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
      PredictionService(config, models, server_metrics), server)
  model_service_pb2_grpc.add_ModelServiceServicer_to_server(
      ModelService(config, models, server_metrics), server)
  address = f'{config.host}:{config.grpc_port}'
  port = server.add_insecure_port(address)
  if port == 0:
    raise OSError(f'gRPC cannot listen on {address}')
  server.start()
  logger.info('gRPC listening on %s:%d', config.host, port)
  return server
