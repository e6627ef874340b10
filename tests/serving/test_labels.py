"""A model config file against a real server process: two models, a `stable` label over REST and
gRPC, `promote` and `rollback` moving it while clients keep sending (no request fails), and the
metrics counting exactly the requests just sent."""

import shutil

import grpc
import httpx
import numpy as np
import pytest
import tensorflow as tf
from prometheus_client.parser import text_string_to_metric_families
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from components import pusher  # the tests publish versions exactly as the pipeline does
from fashion_mnist import features
from helpers import run_cli
from server_process import MODEL_NAME, retrained, running_clients, running_server, wait_until
from serving import model_config

pytestmark = pytest.mark.serving

OTHER = 'other'
STABLE = f'/v1/models/{MODEL_NAME}/labels/stable'
METRICS = '/monitoring/prometheus/metrics'


def _samples(client, name):
  """The samples of one metric family, as (labels, value)."""
  for family in text_string_to_metric_families(client.get(METRICS).text):
    if family.name == name:
      return [(sample.labels, sample.value) for sample in family.samples]
  return []


def _requests(client, **labels):
  """The request count of the samples whose labels include the given ones."""
  return sum(value for sample_labels, value in _samples(client, ':tensorflow:serving:request_count')
             if labels.items() <= sample_labels.items())


def _grpc_version(target, label, images):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.version_label = label
  request.model_spec.signature_name = features.IMAGES_SIGNATURE
  request.inputs[features.IMAGES_INPUT_KEY].CopyFrom(tf.make_tensor_proto(images))
  with grpc.insecure_channel(target) as channel:
    response = prediction_service_pb2_grpc.PredictionServiceStub(channel).Predict(request,
                                                                                 timeout=30)
  return response.model_spec.version.value


def test_labels_promote_and_rollback_with_clients_sending(tmp_path, pushed_model):
  serving_dir, other_dir = tmp_path / 'serving', tmp_path / 'other'
  shutil.copytree(pushed_model.version_dir, serving_dir / pushed_model.version_dir.name)
  shutil.copytree(pushed_model.version_dir, other_dir / pushed_model.version_dir.name)
  old = pushed_model.version
  new = int(pusher.publish(str(retrained(pushed_model, tmp_path)), str(serving_dir)).split('/')[-1])
  config_file = tmp_path / 'models.config'
  model_config.promote(config_file, old, 'stable', MODEL_NAME, serving_dir)
  specs = model_config.read(config_file) + (model_config.ModelSpec(
      OTHER, other_dir, model_config.parse_policy('latest:1')),)
  config_file.write_text(model_config.to_text(specs))
  body = {'signature_name': features.IMAGES_SIGNATURE,
          'instances': pushed_model.images[:2].tolist()}
  images = pushed_model.images[:1].astype(np.float32)

  with running_server(None, tmp_path / 'server.log', '--model-config-file', str(config_file),
                      '--model-config-file-poll-wait-seconds', '0.5',
                      '--poll-interval', '0.3') as server, \
      httpx.Client(base_url=server.rest_url, timeout=30) as client:
    # Two models; the label names its version over REST and gRPC.
    assert client.post(f'/v1/models/{OTHER}:predict', json=body).status_code == 200
    response = client.post(STABLE + ':predict', json=body)
    assert response.status_code == 200 and response.headers['X-Model-Version'] == str(old)
    assert client.get(STABLE).json()['model_version_status'][0]['version'] == str(old)
    assert client.get(STABLE + '/metadata').json()['model_spec']['version'] == str(old)
    assert _grpc_version(server.grpc_target, 'stable', images) == old
    # The policy (specific, from promote) loads only the labelled version.
    assert client.post(f'/v1/models/{MODEL_NAME}/versions/{new}:predict',
                       json=body).status_code == 404

    with running_clients(server.rest_url, body, STABLE + ':predict') as per_client:
      wait_until(lambda: all(len(results) >= 5 for results in per_client), what='first answers')
      assert run_cli('promote', str(new), '--model-config-file', str(config_file),
                     '--model-name', MODEL_NAME).returncode == 0
      wait_until(lambda: all([v for _, v in results[-3:]] == [str(new)] * 3
                             for results in per_client), what=f'answers from {new}')
      assert run_cli('rollback', '--model-config-file', str(config_file),
                     '--model-name', MODEL_NAME).returncode == 0
      wait_until(lambda: all([v for _, v in results[-3:]] == [str(old)] * 3
                             for results in per_client), what=f'answers from {old} again')
    for results in per_client:
      assert {status for status, _ in results} == {200}, [r for r in results if r[0] != 200]
      versions = [version for _, version in results]
      to_new, back = versions.index(str(new)), len(versions) - versions[::-1].index(str(new))
      assert set(versions[:to_new]) == set(versions[back:]) == {str(old)}
      assert set(versions[to_new:back]) == {str(new)}
    assert _grpc_version(server.grpc_target, 'stable', images) == old
    server.wait_for_log(f'label "stable" names version {new}, which is not loaded')

    # The metrics count what was sent, by version, signature, API and status.
    sent = {str(version): sum(1 for results in per_client for _, v in results if v == str(version))
            for version in (old, new)}
    predict = dict(model_name=MODEL_NAME, signature_name=features.IMAGES_SIGNATURE,
                   API='predict', entrypoint='REST', status='OK')
    assert _requests(client, version=str(new), **predict) == sent[str(new)]
    assert _requests(client, version=str(old), **predict) == sent[str(old)] + 1  # and the first
    assert _requests(client, model_name=MODEL_NAME, entrypoint='GRPC', status='OK') == 2
    assert _requests(client, model_name=OTHER, API='predict') == 1
    client.post(STABLE + ':predict', json={'signature_name': 'nope', 'instances': [[1]]})
    assert _requests(client, version=str(old), status='INVALID_ARGUMENT', API='predict') == 1
    states = {(labels['model_name'], labels['version'], labels['state'])
              for labels, _ in _samples(client, ':tensorflow:serving:model_state')}
    assert {(MODEL_NAME, str(old), 'AVAILABLE'), (MODEL_NAME, str(new), 'AVAILABLE'),
            (OTHER, str(old), 'AVAILABLE')} <= states
    loads = _samples(client, ':tensorflow:serving:model_load_latency_seconds')
    assert {labels['version'] for labels, _ in loads} == {str(old), str(new)}

    # The output dir's runs and lineage show the labels: here through the function they use.
    assert model_config.labels_by_version(config_file, serving_dir) == {str(old): ['stable']}
