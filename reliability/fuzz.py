"""A seeded fuzzer for the model server's REST and gRPC APIs: hostile requests to a real server.

In: a running server (serving.process.running_server: `fashion-pipeline serve` on 127.0.0.1), how
many REST and gRPC requests to try, a seed and a time limit. Out: a FuzzReport: the requests
tried, their outcomes counted (an HTTP status, a gRPC code name, or what the connection did:
`closed` by the server, `client-closed` when the fuzzer hung up on purpose), the server's resident
memory before, at its peak (VmRSS sampled every 10 ms) and after, and a few examples of every
outcome that is a server error (5xx, UNKNOWN, INTERNAL, or no answer at all).

Every request is a mutation of a valid one, chosen by a seeded random generator, so a run is
reproducible: REST bodies (JSON types, shapes, values, NaN and huge numbers, strings with lone
surrogates, non-BMP characters and invalid UTF-8, deep nesting, truncation and flipped bytes),
paths (versions of thousands of digits, labels, names, verbs), methods, headers (bad lengths and
multipart), image uploads (decompression-bomb headers, the 177-byte 100000x1 PNG, the largest
allowed image), client disconnects mid-body and stalled request heads; gRPC PredictRequests
(dtypes, including numbers no dtype has, negative and huge declared shapes, value counts that do
not match them, names, versions and labels) and raw bytes that are no message at all. Requests
go one at a time over raw sockets (REST) and gRPC's generic calls, each with a timeout.
"""

import base64
import collections
import dataclasses
import io
import json
import random
import socket
import struct
import threading
import time
import zlib
from pathlib import Path
from typing import Callable, Dict, List, Optional

import grpc
import numpy as np
from PIL import Image
from tensorflow.core.example import example_pb2
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import predict_pb2

from fashion_mnist import features
from serving.process import MODEL_NAME, Server

_TIMEOUT_S = 30  # per request: far above any answer, so that a hang is seen as one
_SAMPLE_S = 0.01
_MB = 1024 * 1024
REST_OK = ('200', 'closed', 'client-closed') + tuple(str(s) for s in range(400, 500))
GRPC_BAD = ('UNKNOWN', 'INTERNAL', 'DEADLINE_EXCEEDED', 'UNAVAILABLE')
_PREDICTION = '/tensorflow.serving.PredictionService/'
_MODEL = '/tensorflow.serving.ModelService/'


def png(width: int, height: int, color_type: int = 0, bit_depth: int = 8,
        idat: bytes = b'') -> bytes:
  """A PNG of exactly these header dimensions (its pixel data whatever idat is: a bomb when the
  header is huge and the data short)."""
  def chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff))
  header = struct.pack('>IIBBBBB', width, height, bit_depth, color_type, 0, 0, 0)
  return (b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', header) + chunk(b'IDAT', zlib.compress(idat))
          + chunk(b'IEND', b''))


def encoded(image: Image.Image, fmt: str = 'PNG') -> bytes:
  buffer = io.BytesIO()
  image.save(buffer, fmt)
  return buffer.getvalue()


def jpeg_declaring(width: int, height: int) -> bytes:
  """A small real JPEG whose frame header (SOF0) declares width x height."""
  data = bytearray(encoded(Image.new('L', (16, 16), 128), 'JPEG'))
  sof = data.index(b'\xff\xc0')
  data[sof + 5:sof + 9] = struct.pack('>HH', height, width)
  return bytes(data)


def wide_png() -> bytes:
  """The issue's 177-byte upload: a 100000x1 image, which padding to a square made 10 GB."""
  return encoded(Image.new('L', (100_000, 1), 255))


@dataclasses.dataclass
class FuzzReport:
  rest_tried: int = 0
  grpc_tried: int = 0
  rest: Dict[str, int] = dataclasses.field(default_factory=collections.Counter)
  grpc: Dict[str, int] = dataclasses.field(default_factory=collections.Counter)
  rss_before_mb: float = 0.0
  rss_peak_mb: float = 0.0
  rss_after_mb: float = 0.0
  seconds: float = 0.0
  failures: List[str] = dataclasses.field(default_factory=list)  # examples of server errors

  @property
  def rest_server_errors(self) -> int:
    return sum(n for status, n in self.rest.items() if status not in REST_OK)

  @property
  def grpc_server_errors(self) -> int:
    return sum(self.grpc.get(code, 0) for code in GRPC_BAD)

  def to_dict(self) -> dict:
    result = dataclasses.asdict(self)
    result['rest'] = dict(sorted(self.rest.items()))
    result['grpc'] = dict(sorted(self.grpc.items()))
    result['rest_server_errors'] = self.rest_server_errors
    result['grpc_server_errors'] = self.grpc_server_errors
    return result


def _rss_mb(pid: int, field: str = 'VmRSS') -> float:
  for line in Path(f'/proc/{pid}/status').read_text().splitlines():
    if line.startswith(field + ':'):
      return int(line.split()[1]) / 1024
  raise RuntimeError(f'no {field} for process {pid}')


class MemoryWatch:
  """Samples a process's resident memory in a thread; peak is the largest sample."""

  def __init__(self, pid: int):
    self._pid = pid
    self.before = self.peak = _rss_mb(pid)
    self._stop = threading.Event()
    self._thread = threading.Thread(target=self._sample, daemon=True)
    self._thread.start()

  def _sample(self):
    while not self._stop.wait(_SAMPLE_S):
      self.peak = max(self.peak, _rss_mb(self._pid))

  def stop(self) -> float:
    self._stop.set()
    self._thread.join()
    return _rss_mb(self._pid)


# ---------------------------------------------------------------------------------------------
# Values and strings


_STRINGS = ['', 'predict_images', 'serving_default', 'a' * 300, '\ud800', '\udfff', 'x\ud83d',
            '\U0001f600', '\u202e', '\x00', '%ff', '../../etc/passwd', 'stable', '<unknown>',
            'é', '\ufffd', '{}', '"', '\\']
_NUMBERS = [0, 1, -1, 255, 256, 1e308, -1e308, 10 ** 400, 2 ** 63, -2 ** 63, 0.5, 1e-320]


def _json_value(rng: random.Random, depth: int = 0):
  kind = rng.randrange(8 if depth < 4 else 4)
  if kind == 0:
    return rng.choice(_NUMBERS)
  if kind == 1:
    return rng.choice(_STRINGS)
  if kind == 2:
    return rng.choice([None, True, False])
  if kind == 3:
    return {'b64': rng.choice(['', '!!!', 'AAAA', 'AA=', '\ud800'])}
  if kind in (4, 5):
    return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
  if kind == 6:
    return {rng.choice(_STRINGS): _json_value(rng, depth + 1) for _ in range(rng.randrange(3))}
  return _pixels(rng, rng.choice([1, 2]))


def _pixels(rng: random.Random, batch: int):
  dims = [batch, 28, 28]
  if rng.random() < 0.5:  # a wrong shape now and then: a dimension off by one, or missing
    dims[rng.randrange(3)] += rng.choice([-1, 1])
  if rng.random() < 0.2:
    dims = dims[1:]
  values = np.full(dims, rng.choice([0, 100, 255]), dtype=float).tolist()
  flat = values
  while isinstance(flat, list) and flat and isinstance(flat[0], list):
    flat = flat[0]
  if isinstance(flat, list) and flat and rng.random() < 0.5:
    flat[rng.randrange(len(flat))] = rng.choice([float('nan'), float('inf'), -1, 256, 'x',
                                                 None, [1], 10 ** 400])
  return values


def _example_b64(rng: random.Random) -> dict:
  example = example_pb2.Example()
  count = rng.choice([784, 784, 783, 0, 1, 785])
  example.features.feature[rng.choice([features.IMAGE_KEY, 'other'])].int64_list.value.extend(
      [rng.choice([0, 100, 255, -1, 256, 2 ** 62])] * count)
  data = example.SerializeToString()
  if rng.random() < 0.3:
    data = data[:rng.randrange(len(data) + 1)]
  return {'b64': base64.b64encode(data).decode()}


def _dumps(document) -> bytes:
  """JSON as a client might write it: NaN allowed, lone surrogates escaped (json's default)."""
  return json.dumps(document).encode()


def _predict_body(rng: random.Random) -> bytes:
  kind = rng.randrange(10)
  if kind == 0:
    document = {'signature_name': features.IMAGES_SIGNATURE, 'instances': _pixels(rng, 1)}
  elif kind == 1:
    document = {'instances': [_example_b64(rng) for _ in range(rng.randrange(1, 3))]}
  elif kind == 2:
    document = {'signature_name': rng.choice(_STRINGS), 'inputs': _json_value(rng)}
  elif kind == 3:
    document = {rng.choice(['instances', 'inputs', 'signature_name', 'x']): _json_value(rng)
                for _ in range(rng.randrange(1, 4))}
  elif kind == 4:
    document = _json_value(rng)
  elif kind == 5:
    document = {'signature_name': features.IMAGES_SIGNATURE,
                'inputs': {features.IMAGES_INPUT_KEY: _pixels(rng, 2), 'extra': 1}}
  elif kind == 6:  # deep nesting
    depth = rng.choice([100, 5000, 100_000])
    return b'{"instances": ' + b'[' * depth + b']' * depth + b'}'
  elif kind == 7:  # bytes that are not UTF-8, or not JSON
    return rng.choice([b'{"instances": ["\xff\xfe"]}', b'\xff' * 10, b'{"signature_name": "\xed'
                       b'\xa0\x80", "instances": [1]}', b'', b'null', b'{"instances": [1, 2'])
  elif kind == 8:  # many small values: what a body's size allows, not a declared shape
    return b'{"instances": [' + b','.join([b'0'] * rng.choice([1000, 100_000])) + b']}'
  else:
    document = {'signature_name': features.IMAGES_SIGNATURE, 'instances': _pixels(rng, 1)}
    data = bytearray(_dumps(document))
    for _ in range(rng.randrange(1, 5)):  # flipped bytes
      data[rng.randrange(len(data))] = rng.randrange(256)
    return bytes(data)
  return _dumps(document)


def _image_body(rng: random.Random) -> bytes:
  kind = rng.randrange(9)
  if kind == 0:
    return wide_png()
  if kind == 1:
    return png(rng.choice([100_000, 65_535, 2 ** 31 - 1]), rng.choice([100_000, 65_535, 1]),
               color_type=rng.choice([0, 2, 4, 6]))
  if kind == 2:
    return jpeg_declaring(rng.choice([65_500, 30_000]), rng.choice([65_500, 1]))
  if kind == 3:
    mode = rng.choice(['L', 'RGB', 'RGBA', 'P', 'I;16', '1'])
    fmt = 'JPEG' if mode in ('L', 'RGB') and rng.random() < 0.5 else 'PNG'
    return encoded(Image.new(mode, (rng.randrange(1, 60), rng.randrange(1, 60))), fmt)
  if kind == 4:
    data = encoded(Image.new('RGB', (40, 30), (200, 10, 10)), rng.choice(['PNG', 'JPEG']))
    return data[:rng.randrange(len(data))]
  if kind == 5:
    return bytes(rng.randrange(256) for _ in range(rng.randrange(200)))
  if kind == 6:
    return png(rng.randrange(1, 3000), rng.randrange(1, 3000), bit_depth=rng.choice([1, 8, 16]),
               color_type=rng.choice([0, 2, 3, 4, 6]), idat=b'\x00' * rng.randrange(100))
  if kind == 7 and rng.random() < 0.1:  # the largest image the default limit allows
    return encoded(Image.new('L', (4096, 4096), 255))
  return encoded(Image.new('LA', (30, 20)), 'PNG')


# ---------------------------------------------------------------------------------------------
# REST over raw sockets


@dataclasses.dataclass
class _Raw:
  """A request as bytes; hang_up_after: close after sending that many bytes (a disconnect);
  stall: send only `data` and wait for the server to act (a head that never ends)."""
  data: bytes
  hang_up_after: Optional[int] = None
  stall: bool = False


def _http(method: str, path: str, body: bytes = b'', headers: Optional[List[str]] = None,
          length: Optional[str] = None) -> bytes:
  lines = [f'{method} {path} HTTP/1.1', 'host: 127.0.0.1', 'connection: close',
           *(headers or [])]
  if body or method == 'POST':
    lines.append(f'content-length: {len(body) if length is None else length}')
  return '\r\n'.join(lines).encode('utf-8', 'surrogatepass') + b'\r\n\r\n' + body


def _path(rng: random.Random) -> str:
  version = rng.choice(['1', '0', '-1', '9' * 19, '9' * 5000, '1e3', '0x10', '00001'])
  name = rng.choice([MODEL_NAME, MODEL_NAME, 'other', '%ff%fe', '%ed%a0%80', 'a' * 2000, '',
                     '..', 'f\u00e9'])
  middle = rng.choice(['', '', f'/versions/{version}', f'/labels/{rng.choice(_STRINGS)}'])
  verb = rng.choice([':predict', ':predict_image', '/metadata', '', ':classify', ':', '//',
                     ':predict?invert=' + rng.choice(['true', '%00', '\u00e9'])])
  path = f'/v1/models/{name}{middle}{verb}'
  if rng.random() < 0.1:
    path = rng.choice(['/', '/monitoring/prometheus/metrics', '/v1/models', '/v1//models/x',
                       '*', 'http://other/v1/models/fashion', '/v1/models/fashion/' + 'a' * 20000])
  return ''.join(c if c.isascii() and c.isprintable() else f'%{ord(c) & 0xff:02x}' for c in path)


def _rest_request(rng: random.Random) -> _Raw:
  kind = rng.randrange(100)
  base = f'/v1/models/{MODEL_NAME}'
  if kind < 40:
    return _Raw(_http('POST', base + ':predict', _predict_body(rng),
                      ['content-type: application/json']))
  if kind < 55:
    body = _image_body(rng)
    if rng.random() < 0.5:
      return _Raw(_http('POST', base + ':predict_image', body))
    boundary = rng.choice(['b0undary', '', '"', 'x' * 100])
    form = (f'--{boundary}\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\n'
            f'content-type: image/png\r\n\r\n').encode() + body + f'\r\n--{boundary}--\r\n'.encode()
    if rng.random() < 0.3:
      form = form[:rng.randrange(len(form))]
    return _Raw(_http('POST', base + ':predict_image', form,
                      [f'content-type: multipart/form-data; boundary={boundary}']))
  if kind < 70:
    method = rng.choice(['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD', 'TRACE',
                         'FOO', 'G\u00c9T'])
    body = _predict_body(rng) if method in ('POST', 'PUT') else b''
    return _Raw(_http(method, _path(rng), body))
  if kind < 80:  # headers
    body = _predict_body(rng)
    choice = rng.randrange(6)
    if choice == 0:
      return _Raw(_http('POST', base + ':predict', body, length=rng.choice(
          ['-1', '99999999999999999999', 'abc', '1, 2', ''])))
    if choice == 1:
      return _Raw(_http('POST', base + ':predict', b'', ['transfer-encoding: chunked'])
                  .replace(b'content-length: 0\r\n', b'')
                  + rng.choice([b'zz\r\n', b'5\r\nab\r\n0\r\n\r\n', b'ffffffffff\r\n']))
    if choice == 2:
      return _Raw(_http('GET', base, headers=['x-big: ' + 'a' * rng.choice([1000, 20000])]))
    if choice == 3:
      return _Raw(_http('POST', base + ':predict', body, ['content-type: \u00e9\ud800']))
    if choice == 4:
      return _Raw(b'\x00\xff garbage \r\n\r\n')
    return _Raw(_http('POST', base + ':predict', body, length=str(len(body) + 10)),
                hang_up_after=len(body))  # the server waits for 10 more bytes: we hang up
  if kind < 98:  # a disconnect mid-body
    body = _dumps({'signature_name': features.IMAGES_SIGNATURE, 'instances': _pixels(rng, 1)})
    data = _http('POST', base + ':predict', body)
    return _Raw(data, hang_up_after=rng.randrange(len(data) - len(body), len(data)))
  # a request head that never ends
  return _Raw(rng.choice([b'', b'GET /v1/models/fashion HTTP/1.1\r\nhost: x\r\n', b'G']),
              stall=True)


def _send_rest(port: int, raw: _Raw, stall_s: float) -> str:
  with socket.create_connection(('127.0.0.1', port), timeout=_TIMEOUT_S) as sock:
    try:
      if raw.hang_up_after is not None:
        sock.sendall(raw.data[:raw.hang_up_after])
        return 'client-closed'
      sock.sendall(raw.data)
      if raw.stall:
        sock.settimeout(stall_s)
      answer = b''
      while b'\r\n' not in answer:
        chunk = sock.recv(65536)
        if not chunk:
          break
        answer += chunk
    except (ConnectionResetError, BrokenPipeError):
      return 'closed'
    except TimeoutError:
      return 'no-answer'
  if not answer:
    return 'closed'
  parts = answer.split(b' ', 2)
  return parts[1].decode('ascii', 'replace') if len(parts) > 1 else 'garbled'


# ---------------------------------------------------------------------------------------------
# gRPC


def _tensor(rng: random.Random) -> tensor_pb2.TensorProto:
  tensor = tensor_pb2.TensorProto()
  tensor.dtype = rng.choice([types_pb2.DT_FLOAT] * 4 + [
      types_pb2.DT_STRING, types_pb2.DT_DOUBLE, types_pb2.DT_INT64, types_pb2.DT_HALF,
      types_pb2.DT_BFLOAT16, types_pb2.DT_COMPLEX128, types_pb2.DT_VARIANT, types_pb2.DT_RESOURCE,
      types_pb2.DT_QINT8, types_pb2.DT_FLOAT_REF, 0, 999, -5])
  dims = rng.choice([[1, 28, 28], [1, 28, 28], [1000000, 28, 28], [-1, 28, 28], [2 ** 62, 28, 28],
                     [0, 28, 28], [28, 28], [], [1, 28, 28, 1], [3, 28, 28], [2 ** 31, 2 ** 31]])
  for d in dims:
    tensor.tensor_shape.dim.add(size=d)
  if rng.random() < 0.05:
    tensor.tensor_shape.unknown_rank = True
  elements = max(0, min(np.prod(dims, dtype=object) if dims else 1, 3 * 784))
  kind = rng.randrange(5)
  if kind == 0:
    tensor.float_val.extend([rng.choice([0.0, 100.0, 255.0, float('nan'), -1.0, 1e30])]
                            * rng.choice([1, elements, elements + 1, max(elements - 1, 0)]))
  elif kind == 1:
    tensor.tensor_content = bytes(rng.randrange(256) for _ in range(
        rng.choice([4 * elements, 4 * elements + 1, 3, 0]))) if rng.random() < 0.2 else (
        np.full(elements, rng.choice([0.0, 100.0, 300.0]), np.float32).tobytes())
  elif kind == 2:
    tensor.string_val.extend([rng.choice([b'', b'\xff\xfe', _example_serialized(rng)])]
                             * rng.choice([1, 2, max(elements, 1)]))
  elif kind == 3:
    tensor.int64_val.extend([1, 2, 3])
    tensor.half_val.extend([1])
  return tensor


def _example_serialized(rng: random.Random) -> bytes:
  return base64.b64decode(_example_b64(rng)['b64'])


def _spec(rng: random.Random, spec) -> None:
  spec.name = rng.choice([MODEL_NAME] * 4 + ['other', '', 'f\u00e9', 'a' * 1000, '<unknown>'])
  choice = rng.randrange(4)
  if choice == 1:
    spec.version.value = rng.choice([0, -1, 2 ** 63 - 1, -2 ** 63, 1])
  elif choice == 2:
    spec.version_label = rng.choice(_STRINGS[:4] + ['stable', '\U0001f600'])


def _grpc_request(rng: random.Random):
  """(method path, request bytes)."""
  kind = rng.randrange(10)
  if kind < 6:
    request = predict_pb2.PredictRequest()
    _spec(rng, request.model_spec)
    request.model_spec.signature_name = rng.choice(
        [features.IMAGES_SIGNATURE] * 3 + ['', 'serving_default', 'nope', '\u00e9'])
    for _ in range(rng.choice([1, 1, 1, 0, 2])):
      request.inputs[rng.choice([features.IMAGES_INPUT_KEY] * 4 + [
          features.EXAMPLES_INPUT_KEY, 'x', ''])].CopyFrom(_tensor(rng))
    if rng.random() < 0.1:
      request.output_filter.append(rng.choice(['class_name', 'nope']))
    data = request.SerializeToString()
    if rng.random() < 0.15:  # truncated or flipped on the wire
      data = bytearray(data)
      if rng.random() < 0.5:
        data = data[:rng.randrange(len(data) + 1)]
      elif data:
        data[rng.randrange(len(data))] = rng.randrange(256)
      data = bytes(data)
    return _PREDICTION + 'Predict', data
  if kind == 6:
    request = get_model_metadata_pb2.GetModelMetadataRequest()
    _spec(rng, request.model_spec)
    request.metadata_field.extend(rng.choice([['signature_def'], [], ['x'], ['signature_def'] * 2]))
    return _PREDICTION + 'GetModelMetadata', request.SerializeToString()
  if kind == 7:
    request = get_model_status_pb2.GetModelStatusRequest()
    _spec(rng, request.model_spec)
    return _MODEL + 'GetModelStatus', request.SerializeToString()
  if kind == 8:  # bytes that are no message: invalid UTF-8 in a string field, bad tags, ...
    data = rng.choice([b'\x0a\x03\x0a\x01\xff', b'\xff\xff\xff', b'\x0a\xff\xff\xff\xff\x0f',
                       bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))])
    return _PREDICTION + rng.choice(['Predict', 'GetModelMetadata']), data
  return rng.choice([_PREDICTION + 'Classify', _PREDICTION + 'Regress',
                     _PREDICTION + 'MultiInference', _PREDICTION + 'Nope', _MODEL +
                     'HandleReloadConfigRequest', '/other.Service/Call']), b''


# ---------------------------------------------------------------------------------------------


def run(server: Server, rest_count: int, grpc_count: int, seed: int = 0,
        time_limit_s: float = 600, stall_s: float = 30,
        on_progress: Optional[Callable[[str], None]] = None) -> FuzzReport:
  """Sends rest_count REST and grpc_count gRPC requests (interleaved, one at a time), stopping
  early at time_limit_s; stall_s is how long a stalled head waits for the server to close it.
  Returns the report (see the module docstring)."""
  rng = random.Random(seed)
  report = FuzzReport()
  port = int(server.rest_url.rsplit(':', 1)[1])
  channel = grpc.insecure_channel(server.grpc_target)
  watch = MemoryWatch(server.process.pid)
  start = time.monotonic()
  try:
    order = ['rest'] * rest_count + ['grpc'] * grpc_count
    rng.shuffle(order)
    for i, protocol in enumerate(order):
      if time.monotonic() - start > time_limit_s:
        break
      if protocol == 'rest':
        raw = _rest_request(rng)
        outcome = _send_rest(port, raw, stall_s)
        report.rest_tried += 1
        report.rest[outcome] += 1
        if outcome not in REST_OK and len(report.failures) < 20:
          report.failures.append(f'REST {outcome}: {raw.data[:300]!r}')
      else:
        method, data = _grpc_request(rng)
        call = channel.unary_unary(method)  # bytes in and out: no serializers
        try:
          call(data, timeout=_TIMEOUT_S)
          code = 'OK'
        except grpc.RpcError as e:
          code = e.code().name
        report.grpc_tried += 1
        report.grpc[code] += 1
        if code in GRPC_BAD and len(report.failures) < 20:
          report.failures.append(f'gRPC {method} {code}: {data[:300]!r}')
      if on_progress and (i + 1) % 500 == 0:
        on_progress(f'{i + 1} of {len(order)} requests')
  finally:
    channel.close()
    report.rss_after_mb = round(watch.stop(), 1)
    report.seconds = round(time.monotonic() - start, 1)
  report.rss_before_mb = round(watch.before, 1)
  report.rss_peak_mb = round(watch.peak, 1)
  return report
