"""TF Serving's REST API (and an image upload for people), as a Starlette ASGI app.

In: a ServingConfig, a models.ModelManager and the server's Metrics. Out: `create_app`, serving
(where [V] is nothing, `/versions/{v}` or `/labels/{label}`)
  GET  /v1/models/{name}[V]            model_version_status
  GET  /v1/models/{name}[V]/metadata   signature definitions
  POST /v1/models/{name}[V]:predict    row ("instances") or columnar ("inputs") JSON
  POST /v1/models/{name}[V]:predict_image   a PNG or JPEG (raw body or a multipart file;
       `?invert=true` for a dark item on a light background): class and probabilities
  GET  /monitoring/prometheus/metrics  the metrics, in Prometheus text format
Errors are `{"error": "..."}`: 400 bad request (an unknown signature or label too, as in TF
Serving), 404 unknown model, version or path, 413 body over --max-body-bytes, 429 batching queue
full. Predictions carry an `X-Model-Version` header (TF Serving's JSON has no version in it).
Every request is logged on one line with its status and latency, and counted in the metrics.
"""

import functools
import logging
import time

import orjson
import tensorflow as tf
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fashion_mnist import features
from serving import errors
from serving import images
from serving import json_tensors
from serving import metrics
from serving import model_info
from serving.config import ServingConfig
from serving.models import ModelManager

logger = logging.getLogger(__name__)

VERSION_HEADER = 'X-Model-Version'
_TRUE = ('1', 'true', 'yes')


class _ModelNameConvertor(Convertor):
  """A model name stops at "/" and at ":" (which starts the verb, as in TF Serving's paths)."""
  regex = '[^/:]+'

  def convert(self, value: str) -> str:
    return value

  def to_string(self, value: str) -> str:
    return value


register_url_convertor('model', _ModelNameConvertor())


def _error(status: int, message: str) -> JSONResponse:
  return JSONResponse({'error': message}, status_code=status)


def _numpy_dtype(spec: tf.TensorSpec):
  return object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype


def _counted(api: str):
  """Wraps a handler: counts the request in the metrics, with the version and signature the
  handler found (request.state) and the status as a gRPC code name, as TF Serving counts it."""

  def decorate(handler):
    @functools.wraps(handler)
    async def wrapper(self, request: Request) -> Response:
      start = time.perf_counter()
      request.state.version = request.path_params.get('version')
      request.state.signature = ''
      status = 'OK'
      try:
        return await handler(self, request)
      except errors.ServingError as e:
        status = e.grpc_code
        raise
      except Exception:
        status = 'INTERNAL'
        raise
      finally:
        self._metrics.request(request.path_params['name'], request.state.version,
                              request.state.signature, api, metrics.REST, status,
                              time.perf_counter() - start)
    return wrapper
  return decorate


class _Api:
  """The route handlers, over one config, model manager and metrics."""

  def __init__(self, config: ServingConfig, models: ModelManager, server_metrics: metrics.Metrics):
    self._config = config
    self._models = models
    self._metrics = server_metrics

  def _find(self, request: Request):
    loaded = model_info.find(self._models, request.path_params['name'],
                             request.path_params.get('version'), request.path_params.get('label'))
    request.state.version = loaded.version
    return loaded

  @_counted('status')
  async def status(self, request: Request) -> Response:
    response = model_info.status(self._models, request.path_params['name'],
                                 request.path_params.get('version'),
                                 request.path_params.get('label'))
    return JSONResponse(model_info.to_json(response))

  @_counted('metadata')
  async def metadata(self, request: Request) -> Response:
    response = model_info.metadata(self._find(request), request.path_params['name'])
    return JSONResponse(model_info.metadata_json(response))

  async def prometheus(self, _: Request) -> Response:
    return Response(self._metrics.exposition(), media_type=metrics.CONTENT_TYPE)

  @_counted('predict')
  async def predict(self, request: Request) -> Response:
    loaded = self._find(request)
    body = await request.body()

    def answer() -> bytes:  # parsing and formatting big batches is CPU work too: off the loop
      parsed = json_tensors.parse_predict_body(body)
      name = parsed.signature_name or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
      request.state.signature = name
      specs = loaded.signature(name).structured_input_signature[1]
      inputs = json_tensors.to_input_arrays(
          parsed, {key: _numpy_dtype(spec) for key, spec in specs.items()})
      outputs = loaded.predict(name, inputs, self._config.max_batch_size)
      return json_tensors.format_predict_response(outputs, parsed.row_format)

    return Response(await run_in_threadpool(answer), media_type='application/json',
                    headers={VERSION_HEADER: str(loaded.version)})

  @_counted('predict_image')
  async def predict_image(self, request: Request) -> Response:
    loaded = self._find(request)
    request.state.signature = features.IMAGES_SIGNATURE
    data = await _uploaded_bytes(request)
    invert = request.query_params.get('invert', '').lower() in _TRUE

    def answer() -> bytes:
      try:
        image = images.decode(data, invert=invert)
      except images.ImageError as e:
        raise errors.InvalidArgument(str(e)) from e
      outputs = loaded.predict(features.IMAGES_SIGNATURE,
                               {features.IMAGES_INPUT_KEY: image[None]}, max_batch_size=1)
      probabilities = outputs[features.PROBABILITIES_KEY][0]
      class_id = int(outputs[features.CLASS_ID_KEY][0])
      return orjson.dumps({'model_version': str(loaded.version), 'class_id': class_id,
                           'class_name': features.CLASS_NAMES[class_id],
                           'probability': probabilities[class_id],
                           'probabilities': dict(zip(features.CLASS_NAMES, probabilities))},
                          option=orjson.OPT_SERIALIZE_NUMPY)  # float32s written shortest

    return Response(await run_in_threadpool(answer), media_type='application/json',
                    headers={VERSION_HEADER: str(loaded.version)})


async def _uploaded_bytes(request: Request) -> bytes:
  """The image: the first file of a multipart form, else the raw body."""
  if not request.headers.get('content-type', '').startswith('multipart/form-data'):
    return await request.body()
  form = await request.form(max_files=1)
  uploads = [value for value in form.values() if isinstance(value, UploadFile)]
  if not uploads:
    raise errors.InvalidArgument('the multipart form has no file: send the image as a file '
                                    'field (curl -F image=@FILE) or as the raw body')
  return await uploads[0].read()


class _BodyTooLarge(Exception):
  pass


class _BodyLimit:
  """ASGI middleware: 413 for a body over the limit, whether declared (Content-Length) or
  streamed. The rest of the body is read and dropped first (up to a bound), so that the client
  gets the answer instead of a connection reset mid-upload."""

  def __init__(self, app, max_bytes: int):
    self._app = app
    self._max_bytes = max_bytes

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      return await self._app(scope, receive, send)
    declared = dict(scope['headers']).get(b'content-length', b'')
    received = 0

    async def limited_receive():
      nonlocal received
      message = await receive()
      received += len(message.get('body', b''))
      if received > self._max_bytes:
        raise _BodyTooLarge()
      return message

    try:
      if declared.isdigit() and int(declared) > self._max_bytes:
        raise _BodyTooLarge()
      await self._app(scope, limited_receive, send)
    except _BodyTooLarge:
      await _drain(receive, budget=4 * self._max_bytes)
      await _error(413, f'request body is larger than the limit of {self._max_bytes} bytes '
                   '(--max-body-bytes)')(scope, receive, send)


async def _drain(receive, budget: int) -> None:
  while budget > 0:
    message = await receive()
    budget -= len(message.get('body', b''))
    if message['type'] != 'http.request' or not message.get('more_body'):
      return


class _RequestLog:
  """ASGI middleware: one log line per request: method, path, status, latency."""

  def __init__(self, app):
    self._app = app

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      return await self._app(scope, receive, send)
    start = time.perf_counter()
    status = 500  # unless a response starts

    async def logging_send(message):
      nonlocal status
      if message['type'] == 'http.response.start':
        status = message['status']
      await send(message)

    try:
      await self._app(scope, receive, logging_send)
    finally:
      logger.info('REST %s %s %d %.1f ms', scope['method'], scope['path'], status,
                  (time.perf_counter() - start) * 1000)


async def _serving_error(_: Request, exc: errors.ServingError) -> Response:
  return _error(exc.http_status, str(exc))


async def _http_error(request: Request, exc: HTTPException) -> Response:
  message = {404: f'no such path: {request.method} {request.url.path}',
             405: f'method {request.method} is not allowed on {request.url.path}'}
  return _error(exc.status_code, message.get(exc.status_code, str(exc.detail)))


def create_app(config: ServingConfig, models: ModelManager,
               server_metrics: metrics.Metrics) -> Starlette:
  """The ASGI app (see the module docstring)."""
  api = _Api(config, models, server_metrics)
  routes = [Route(metrics.PATH, api.prometheus, methods=['GET'])]
  for prefix in ('/v1/models/{name:model}', '/v1/models/{name:model}/versions/{version:int}',
                 '/v1/models/{name:model}/labels/{label:model}'):
    routes += [
        Route(prefix, api.status, methods=['GET']),
        Route(prefix + '/metadata', api.metadata, methods=['GET']),
        Route(prefix + ':predict', api.predict, methods=['POST']),
        Route(prefix + ':predict_image', api.predict_image, methods=['POST']),
    ]
  return Starlette(
      routes=routes,
      middleware=[Middleware(_RequestLog), Middleware(_BodyLimit, max_bytes=config.max_body_bytes)],
      exception_handlers={errors.ServingError: _serving_error, HTTPException: _http_error})
