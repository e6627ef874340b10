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

Hostile clients: a version of more digits than an int64 has is 404 (no such path); error bodies
escape any string a client sent (a lone surrogate cannot be written as UTF-8); a client that
disconnects is logged as such on one line; uploads are judged by their header's dimensions
(images.decode). Slow and stalled connections are server.py's (uvicorn's limits and a head
timeout).
"""

import asyncio
import functools
import json
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
from starlette.requests import ClientDisconnect, Request
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


class _VersionConvertor(Convertor):
  """A version: at most 18 digits, so that it is an int64 (TF Serving's) and int() is cheap (a
  version of 5,000 digits made Python's int conversion limit answer 500); longer: no such path."""
  regex = '[0-9]{1,18}'

  def convert(self, value: str) -> int:
    return int(value)

  def to_string(self, value: int) -> str:
    return str(value)


register_url_convertor('model', _ModelNameConvertor())
register_url_convertor('version', _VersionConvertor())


def _error(status: int, message: str, headers=None) -> Response:
  """{"error": message}, non-ASCII escaped: a client's lone surrogate is not valid UTF-8."""
  return Response(json.dumps({'error': message}), status_code=status, headers=headers,
                  media_type='application/json')


def _numpy_dtype(spec: tf.TensorSpec):
  return object if spec.dtype == tf.string else spec.dtype.as_numpy_dtype


def _counted(api: str):
  """Wraps a handler: counts the request in the metrics, with the version and signature the
  handler found (request.state) and the status as a gRPC code name, as TF Serving counts it."""

  def decorate(handler):
    @functools.wraps(handler)
    async def wrapper(self, request: Request) -> Response:
      start = time.perf_counter()
      request.state.version = None  # set by the handler once found: only versions served
      request.state.signature = ''
      status = 'OK'
      try:
        return await handler(self, request)
      except errors.ServingError as e:
        status = e.grpc_code
        raise
      except ClientDisconnect:
        status = 'CANCELLED'
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
    request.state.version = request.path_params.get('version')
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
      parsed = json_tensors.parse_predict_body(body, self._config.max_request_elements)
      name = parsed.signature_name or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY
      specs = loaded.signature(name).structured_input_signature[1]
      request.state.signature = name
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
        image = images.decode(data, invert=invert, max_pixels=self._config.max_image_pixels)
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


_CLOSE = {'connection': 'close'}  # the body was not read to its end: the connection cannot go on


class _BodyTooLarge(Exception):
  pass


class _BodyStalled(Exception):
  pass


class _BodyLimit:
  """ASGI middleware: 413 for a body over the limit, whether declared (Content-Length) or
  streamed; 408 for a body whose next bytes do not come within the client timeout (a stalled
  upload held its connection and task for ever). The rest of an oversized body is read and
  dropped first (up to a bound, and while it keeps coming), so that the client gets the answer
  instead of a connection reset mid-upload."""

  def __init__(self, app, max_bytes: int, timeout_s: float):
    self._app = app
    self._max_bytes = max_bytes
    self._timeout_s = timeout_s

  async def __call__(self, scope, receive, send):
    if scope['type'] != 'http':
      return await self._app(scope, receive, send)
    declared = dict(scope['headers']).get(b'content-length', b'')
    received = 0
    complete = False

    async def timed_receive():
      nonlocal complete
      if complete:  # after the body: a disconnect, whenever it comes
        return await receive()
      try:
        message = await asyncio.wait_for(receive(), self._timeout_s)
      except asyncio.TimeoutError:
        raise _BodyStalled() from None
      complete = message['type'] != 'http.request' or not message.get('more_body')
      return message

    async def limited_receive():
      nonlocal received
      message = await timed_receive()
      received += len(message.get('body', b''))
      if received > self._max_bytes:
        raise _BodyTooLarge()
      return message

    try:
      # At most 18 digits before int(): one of 5,000 would pass Python's int conversion limit.
      if declared.isdigit() and (len(declared) > 18 or int(declared) > self._max_bytes):
        raise _BodyTooLarge()
      await self._app(scope, limited_receive, send)
    except _BodyTooLarge:
      await _drain(timed_receive, budget=4 * self._max_bytes)
      await _error(413, f'request body is larger than the limit of {self._max_bytes} bytes '
                   '(--max-body-bytes)', _CLOSE)(scope, receive, send)
    except _BodyStalled:
      logger.info('REST %s %s: no body bytes for %g s: 408', scope['method'], scope['path'],
                  self._timeout_s)
      await _error(408, f'the request body stalled: nothing came for {self._timeout_s:g} s '
                   '(--client-timeout)', _CLOSE)(scope, receive, send)


async def _drain(receive, budget: int) -> None:
  try:
    while budget > 0:
      message = await receive()
      budget -= len(message.get('body', b''))
      if message['type'] != 'http.request' or not message.get('more_body'):
        return
  except _BodyStalled:  # the client waits for the answer: give it
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

    outcome = None
    try:
      await self._app(scope, receive, logging_send)
    except ClientDisconnect:  # before its answer: not the server's error, and nothing to send
      outcome = 'client disconnected'
    finally:
      logger.info('REST %s %s %s %.1f ms', scope['method'], scope['path'], outcome or status,
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
  for prefix in ('/v1/models/{name:model}', '/v1/models/{name:model}/versions/{version:version}',
                 '/v1/models/{name:model}/labels/{label:model}'):
    routes += [
        Route(prefix, api.status, methods=['GET']),
        Route(prefix + '/metadata', api.metadata, methods=['GET']),
        Route(prefix + ':predict', api.predict, methods=['POST']),
        Route(prefix + ':predict_image', api.predict_image, methods=['POST']),
    ]
  app = Starlette(
      routes=routes,
      middleware=[Middleware(_RequestLog), Middleware(
          _BodyLimit, max_bytes=config.max_body_bytes, timeout_s=config.client_timeout_s)],
      exception_handlers={errors.ServingError: _serving_error, HTTPException: _http_error})
  app.router.redirect_slashes = False  # a path with a trailing "/" is 404, as in TF Serving
  return app
