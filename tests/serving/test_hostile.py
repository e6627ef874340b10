"""Hostile requests against a real server: each finding of issue 13 on serving, as a regression
test. Every request gets a 4xx or a non-server gRPC code quickly, costs memory in proportion to
what it carries (the server's resident memory is watched while it runs), and the server's log
says what happened on one line, without a traceback."""

import json
import socket
import time

import grpc
import httpx
import numpy as np
import pytest
from tensorflow.core.framework import tensor_pb2
from tensorflow.core.framework import types_pb2
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from fashion_mnist import features
from reliability import fuzz
from server_process import CLIENT_TIMEOUT_S, MODEL_NAME, PREDICT

pytestmark = pytest.mark.serving

PREDICT_IMAGE = f'/v1/models/{MODEL_NAME}:predict_image'
# What one hostile request may add to the server's memory here (an image at the default pixel
# limit takes about 170 MB; these take a few MB); the issue's findings took 3.6 and 10 GB.
GROWTH_BOUND_MB = 100


@pytest.fixture(scope='module')
def stub(server):
  with grpc.insecure_channel(server.grpc_target) as channel:
    yield prediction_service_pb2_grpc.PredictionServiceStub(channel)


@pytest.fixture
def memory(server):
  """Watches the server's memory during the test; checks its growth stays within the bound."""
  watch = fuzz.MemoryWatch(server.process.pid)
  yield watch
  watch.stop()
  assert watch.peak - watch.before < GROWTH_BOUND_MB, (watch.before, watch.peak)


def _raw(server, data: bytes, timeout_s: float = 30) -> bytes:
  """Sends bytes to the REST port; returns what the server answers before it closes."""
  port = int(server.rest_url.rsplit(':', 1)[1])
  with socket.create_connection(('127.0.0.1', port), timeout=timeout_s) as sock:
    sock.sendall(data)
    answer = b''
    while chunk := sock.recv(65536):
      answer += chunk
  return answer


def test_the_177_byte_png_of_100000x1_pixels_is_answered_at_once(rest, memory):
  data = fuzz.wide_png()
  assert len(data) < 200
  start = time.monotonic()
  response = rest.post(PREDICT_IMAGE, content=data)
  assert response.status_code == 200, response.text  # a real (if odd) image: it is classified
  assert time.monotonic() - start < 5  # was 62 s and 10 GB


@pytest.mark.parametrize('data, words', [
    (fuzz.png(100_000, 100_000), 'the limit of 16,777,216'),  # PIL's bomb error was a 500
    (fuzz.png(5000, 5000), 'the limit of 16,777,216'),
    (fuzz.jpeg_declaring(40_000, 40_000), 'the limit of 16,777,216'),  # even at 1/8 scale
    (fuzz.png(3000, 3000, idat=b'\x00' * 10), 'cannot be decoded'),  # data short of its header
])
def test_image_headers_over_the_limit_are_refused_before_decoding(rest, memory, data, words):
  response = rest.post(PREDICT_IMAGE, content=data)
  assert response.status_code == 400, response.text
  assert words in response.json()['error']


def _declaring(dims, dtype=types_pb2.DT_FLOAT, values=(0.0,)) -> predict_pb2.PredictRequest:
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.signature_name = features.IMAGES_SIGNATURE
  tensor = tensor_pb2.TensorProto(dtype=dtype)
  for d in dims:
    tensor.tensor_shape.dim.add(size=d)
  tensor.float_val.extend(values)
  request.inputs[features.IMAGES_INPUT_KEY].CopyFrom(tensor)
  return request


def test_the_63_byte_grpc_request_declaring_a_million_images_is_refused_at_once(stub, memory):
  request = _declaring([1_000_000, 28, 28])
  assert len(request.SerializeToString()) < 70
  start = time.monotonic()
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(request, timeout=30)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
  assert 'more than the server\'s limit of 100' in error.value.details()
  assert time.monotonic() - start < 2  # was 8.8 s and 3.6 GB


@pytest.mark.parametrize('request_, words', [
    (_declaring([2 ** 62, 28, 28]), 'more than the server'),
    (_declaring([2, 28, 28]), 'declares shape [2, 28, 28] (1,568 values in float_val) but '
     'carries 1'),  # one value is not broadcast
    (_declaring([1, 28, 28], values=[0.0] * 785), 'carries 785'),
    (_declaring([-1, 28, 28]), 'dimensions must be 0 or more'),
    (_declaring([1, 28, 28], dtype=999), 'must be float32, not dtype 999'),
    (_declaring([1, 28, 28], dtype=types_pb2.DT_VARIANT), 'not variant'),
    (_declaring([1, 28, 28, 1]), 'the signature takes [N, 28, 28]'),
])
def test_declared_shapes_and_dtypes_are_checked_against_the_values_present(stub, memory,
                                                                          request_, words):
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(request_, timeout=30)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT, error.value.details()
  assert words in error.value.details()


def test_tensor_content_must_be_exactly_the_declared_bytes(stub):
  request = _declaring([1, 28, 28], values=())
  tensor = request.inputs[features.IMAGES_INPUT_KEY]
  tensor.tensor_content = np.zeros(784, np.float32).tobytes()[:-1]
  with pytest.raises(grpc.RpcError) as error:
    stub.Predict(request, timeout=30)
  assert 'carries 3,135' in error.value.details()
  tensor.tensor_content = np.zeros(784, np.float32).tobytes()
  assert stub.Predict(request, timeout=30).outputs[features.CLASS_NAME_KEY].string_val


@pytest.mark.parametrize('data', [b'\xff\xff\xff', b'\x0a\x03\x0a\x01\xff'])  # the second: a
def test_bytes_that_are_no_message_are_invalid_argument(server, data):  # model name not UTF-8
  with grpc.insecure_channel(server.grpc_target) as channel:
    call = channel.unary_unary('/tensorflow.serving.PredictionService/Predict')
    with pytest.raises(grpc.RpcError) as error:
      call(data, timeout=30)
  assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT  # gRPC's own: INTERNAL


def test_unimplemented_methods_say_so_without_a_traceback(server):
  with grpc.insecure_channel(server.grpc_target) as channel:
    call = channel.unary_unary('/tensorflow.serving.PredictionService/Classify')
    with pytest.raises(grpc.RpcError) as error:
      call(b'', timeout=30)
  assert error.value.code() == grpc.StatusCode.UNIMPLEMENTED
  server.wait_for_log('gRPC Classify UNIMPLEMENTED')
  assert 'NotImplementedError' not in server.log()


def test_a_version_of_5000_digits_is_not_found(rest):  # Python's int limit made it a 500
  response = rest.get(f'/v1/models/{MODEL_NAME}/versions/{"9" * 5000}')
  assert response.status_code == 404
  assert rest.get(f'/v1/models/{MODEL_NAME}/versions/{"9" * 18}').status_code == 404


def test_an_error_naming_a_lone_surrogate_is_written_as_json(rest):  # UTF-8 could not: a 500
  response = rest.post(PREDICT, content=b'{"signature_name": "\\ud800", "instances": [1]}')
  assert response.status_code == 400
  assert '\ud800' in json.loads(response.content)['error']


@pytest.mark.parametrize('digits, status', [(18, b'413'), (30, b'400'), (5000, b'400')])
def test_a_content_length_of_many_digits_is_4xx(server, digits, status):  # h11: 400 beyond 19
  start = time.monotonic()
  answer = _raw(server, f'POST {PREDICT} HTTP/1.1\r\nhost: x\r\ncontent-length: {"9" * digits}'
                        f'\r\n\r\n{{}}'.encode())
  assert answer.startswith(b'HTTP/1.1 ' + status), answer[:200]
  assert time.monotonic() - start < CLIENT_TIMEOUT_S + 2  # answered, then closed


def test_a_client_that_disconnects_is_logged_as_such_on_one_line(server):
  body = json.dumps({'signature_name': features.IMAGES_SIGNATURE,
                     'instances': np.zeros((1, 28, 28)).tolist()}).encode()
  port = int(server.rest_url.rsplit(':', 1)[1])
  line = f'REST POST {PREDICT} client disconnected'
  before = server.log().count(line)
  with socket.create_connection(('127.0.0.1', port)) as sock:
    sock.sendall(f'POST {PREDICT} HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\n\r\n'
                 .encode() + body[:100])
  deadline = time.monotonic() + 30
  while server.log().count(line) == before:
    assert time.monotonic() < deadline, server.log()[-3000:]
    time.sleep(0.1)
  time.sleep(0.5)
  assert 'Traceback' not in server.log() and f'{PREDICT} 500' not in server.log()


@pytest.mark.parametrize('data', [b'', b'GET /v1/models/fashion HTTP/1.1\r\nhost: x\r\n'])
def test_a_request_head_that_never_ends_is_closed_within_the_timeout(server, data):
  start = time.monotonic()
  answer = _raw(server, data, timeout_s=CLIENT_TIMEOUT_S + 10)
  assert time.monotonic() - start < CLIENT_TIMEOUT_S + 2
  assert answer.startswith(b'HTTP/1.1 408 '), answer
  server.wait_for_log(f'sent no whole request head within {CLIENT_TIMEOUT_S:g} s: closed')


def test_a_body_that_stalls_is_408_within_the_timeout(server):
  start = time.monotonic()
  answer = _raw(server, f'POST {PREDICT} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{{'
                .encode(), timeout_s=CLIENT_TIMEOUT_S + 10)
  assert time.monotonic() - start < CLIENT_TIMEOUT_S + 2
  assert answer.startswith(b'HTTP/1.1 408 '), answer


def test_metric_labels_name_only_what_is_served(server, rest, stub):
  for i in range(20):
    rest.get(f'/v1/models/hostile-{i}')
    rest.post(f'/v1/models/{MODEL_NAME}/versions/{777000 + i}:predict', json={'instances': [1]})
    rest.post(PREDICT, json={'signature_name': f'sig-{i}', 'instances': [1]})
    request = _declaring([1, 28, 28])
    request.model_spec.name = f'grpc-hostile-{i}'
    with pytest.raises(grpc.RpcError):
      stub.Predict(request, timeout=30)
  scrape = httpx.get(f'{server.rest_url}/monitoring/prometheus/metrics').text
  for sent in ('hostile-', '777000', 'sig-'):
    assert sent not in scrape
  assert 'model_name="<unknown>"' in scrape
  assert f'model_name="{MODEL_NAME}"' in scrape
