"""Batching against a real server process (--enable-batching with TF Serving's parameters file):
concurrent single-image requests are merged into one model call (the batch-size metric shows
it), and a full queue answers 429 over REST and RESOURCE_EXHAUSTED over gRPC."""

import threading
import time

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from fashion_mnist import features
from server_process import MODEL_NAME, PREDICT, running_server, serving_dir_with

pytestmark = pytest.mark.serving

_MAX_BATCH = 8
_CLIENTS = 8


def _body(images):
  return {'signature_name': features.IMAGES_SIGNATURE, 'instances': images.tolist()}


def _batch_sizes(client):
  """(number of model calls, examples in them) of predict_images, from the metrics."""
  found = {}
  for family in text_string_to_metric_families(
      client.get('/monitoring/prometheus/metrics').text):
    if family.name == ':tensorflow:serving:batching_session:processed_batch_size':
      for sample in family.samples:
        if sample.labels.get('signature_name') == features.IMAGES_SIGNATURE:
          found[sample.name.rsplit('_', 1)[-1]] = sample.value
  return found.get('count', 0), found.get('sum', 0)


@pytest.fixture(scope='module')
def batching_server(tmp_path_factory, pushed_model):
  tmp_path = tmp_path_factory.mktemp('batching')
  parameters = tmp_path / 'batching.config'
  # A batch waits up to a second for more requests; the queue holds one batch.
  parameters.write_text(f'max_batch_size {{ value: {_MAX_BATCH} }}\n'
                        'batch_timeout_micros { value: 1000000 }\n'
                        'num_batch_threads { value: 1 }\nmax_enqueued_batches { value: 1 }\n')
  with running_server(serving_dir_with(tmp_path, pushed_model.version_dir),
                      tmp_path / 'server.log', '--enable-batching',
                      '--batching-parameters-file', str(parameters)) as server:
    yield server


def test_concurrent_requests_are_merged_into_one_model_call(batching_server, pushed_model):
  statuses = []
  start = threading.Barrier(_CLIENTS)

  def send(i):
    with httpx.Client(base_url=batching_server.rest_url, timeout=30) as client:
      start.wait()
      response = client.post(PREDICT, json=_body(pushed_model.images[i:i + 1]))
      statuses.append((response.status_code, response.json()))

  threads = [threading.Thread(target=send, args=(i,)) for i in range(_CLIENTS)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  assert [status for status, _ in statuses] == [200] * _CLIENTS
  with httpx.Client(base_url=batching_server.rest_url, timeout=30) as client:
    calls, examples = _batch_sizes(client)
  assert examples == _CLIENTS and calls < _CLIENTS, (calls, examples)


def _with_an_open_batch(server, pushed_model, then):
  """Calls `then` while a one-image request waits in the queue's only batch."""
  waiting = threading.Thread(target=httpx.post, args=(f'{server.rest_url}{PREDICT}',),
                             kwargs={'json': _body(pushed_model.images[:1]), 'timeout': 30})
  waiting.start()
  time.sleep(0.3)
  try:
    return then()
  finally:
    waiting.join()


def test_a_full_queue_answers_429_and_resource_exhausted(batching_server, pushed_model):
  full = pushed_model.images[:_MAX_BATCH]  # does not fit beside the waiting image
  response = _with_an_open_batch(batching_server, pushed_model, lambda: httpx.post(
      f'{batching_server.rest_url}{PREDICT}', json=_body(full), timeout=30))
  assert response.status_code == 429
  assert 'queue to which this task was submitted is full' in response.json()['error']

  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.signature_name = features.IMAGES_SIGNATURE
  request.inputs[features.IMAGES_INPUT_KEY].CopyFrom(tf.make_tensor_proto(full.astype(np.float32)))
  with grpc.insecure_channel(batching_server.grpc_target) as channel:
    stub = prediction_service_pb2_grpc.PredictionServiceStub(channel)
    with pytest.raises(grpc.RpcError) as error:
      _with_an_open_batch(batching_server, pushed_model,
                          lambda: stub.Predict(request, timeout=30))
    assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    # With nothing waiting, the same request is one full batch.
    assert stub.Predict(request, timeout=30).outputs[features.CLASS_ID_KEY].tensor_shape.dim[
        0].size == _MAX_BATCH
