"""The gRPC API against a real server process, through tensorflow-serving-api's own stubs, as a TF
Serving client would call it: Predict (both signatures), GetModelMetadata, GetModelStatus."""

import grpc
import numpy as np
import pytest
import tensorflow as tf
from tensorflow_serving.apis import get_model_metadata_pb2
from tensorflow_serving.apis import get_model_status_pb2
from tensorflow_serving.apis import model_service_pb2_grpc
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from server_process import MODEL_NAME
from fashion_mnist import features
from serving import inference

pytestmark = pytest.mark.serving


@pytest.fixture(scope='module')
def channel(server):
  with grpc.insecure_channel(server.grpc_target) as channel:
    yield channel


@pytest.fixture(scope='module')
def stub(channel):
  return prediction_service_pb2_grpc.PredictionServiceStub(channel)


def predict_request(signature: str, **inputs) -> predict_pb2.PredictRequest:
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.signature_name = signature
  for name, value in inputs.items():
    request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
  return request


@pytest.mark.parametrize('signature', [features.IMAGES_SIGNATURE, features.EXAMPLES_SIGNATURE])
def test_predict_equals_the_saved_model(stub, pushed_model, local_model, signature):
  images = pushed_model.images[:8].astype(np.float32)
  inputs = ({features.IMAGES_INPUT_KEY: images} if signature == features.IMAGES_SIGNATURE
            else {features.EXAMPLES_INPUT_KEY: inference.images_to_examples(images)})
  response = stub.Predict(predict_request(signature, **inputs), timeout=30)
  assert response.model_spec.name == MODEL_NAME
  assert response.model_spec.version.value == pushed_model.version
  assert response.model_spec.signature_name == signature
  outputs = {name: tf.make_ndarray(tensor) for name, tensor in response.outputs.items()}
  reference = local_model.signatures[signature](**{k: tf.constant(v) for k, v in inputs.items()})
  assert set(outputs) == set(reference)
  for name, tensor in reference.items():
    if tensor.dtype == tf.float32:
      np.testing.assert_allclose(outputs[name], tensor.numpy(), rtol=1e-6, atol=1e-7)
    else:
      np.testing.assert_array_equal(outputs[name], tensor.numpy())


def test_default_signature_and_output_filter(stub, pushed_model):
  request = predict_request('', examples=inference.images_to_examples(pushed_model.images[:2]))
  request.output_filter.append(features.CLASS_NAME_KEY)
  response = stub.Predict(request, timeout=30)
  assert list(response.outputs) == [features.CLASS_NAME_KEY]
  assert response.model_spec.signature_name == features.EXAMPLES_SIGNATURE


def test_metadata_holds_the_signature_defs(stub, pushed_model):
  request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=['signature_def'])
  request.model_spec.name = MODEL_NAME
  response = stub.GetModelMetadata(request, timeout=30)
  assert response.model_spec.version.value == pushed_model.version
  signature_defs = get_model_metadata_pb2.SignatureDefMap()
  assert response.metadata['signature_def'].Unpack(signature_defs)
  inputs = signature_defs.signature_def[features.IMAGES_SIGNATURE].inputs
  assert [d.size for d in inputs[features.IMAGES_INPUT_KEY].tensor_shape.dim] == [-1, 28, 28]


def test_model_status(channel, pushed_model):
  stub = model_service_pb2_grpc.ModelServiceStub(channel)
  request = get_model_status_pb2.GetModelStatusRequest()
  request.model_spec.name = MODEL_NAME
  (status,) = stub.GetModelStatus(request, timeout=30).model_version_status
  assert status.version == pushed_model.version
  assert status.state == get_model_status_pb2.ModelVersionStatus.AVAILABLE


def _error(call, request):
  with pytest.raises(grpc.RpcError) as error:
    call(request, timeout=30)
  return error.value.code(), error.value.details()


def test_errors_are_status_codes_with_a_message(stub, pushed_model, server):
  images = pushed_model.images[:1].astype(np.float32)
  unknown_model = predict_request(features.IMAGES_SIGNATURE, images=images)
  unknown_model.model_spec.name = 'shoes'
  assert _error(stub.Predict, unknown_model) == (
      grpc.StatusCode.NOT_FOUND, 'Servable not found for request: Latest(shoes)')
  unknown_version = predict_request(features.IMAGES_SIGNATURE, images=images)
  unknown_version.model_spec.version.value = 7
  assert _error(stub.Predict, unknown_version)[0] == grpc.StatusCode.NOT_FOUND
  # An unknown signature or label is INVALID_ARGUMENT, as in TF Serving.
  code, message = _error(stub.Predict, predict_request('nope', images=images))
  assert code == grpc.StatusCode.INVALID_ARGUMENT and '"nope" not found' in message
  unknown_label = predict_request(features.IMAGES_SIGNATURE, images=images)
  unknown_label.model_spec.version_label = 'stable'
  assert _error(stub.Predict, unknown_label) == (
      grpc.StatusCode.INVALID_ARGUMENT, 'Unrecognized servable version label: stable')
  code, message = _error(stub.Predict, predict_request(features.IMAGES_SIGNATURE,
                                                       images=images.astype(np.float64)))
  assert code == grpc.StatusCode.INVALID_ARGUMENT and 'must be float32' in message
  code, message = _error(stub.Predict, predict_request(features.IMAGES_SIGNATURE,
                                                       images=images[:, :27]))
  assert code == grpc.StatusCode.INVALID_ARGUMENT and 'shape [1, 27, 28]' in message
  code, message = _error(stub.Predict, predict_request(features.IMAGES_SIGNATURE,
                                                       images=images - 1))
  assert code == grpc.StatusCode.INVALID_ARGUMENT and 'must be in 0-255' in message
  code, message = _error(stub.Predict, predict_request(features.EXAMPLES_SIGNATURE,
                                                       examples=np.array([b'junk'], object)))
  assert code == grpc.StatusCode.INVALID_ARGUMENT and 'not a serialized tf.Example' in message
  no_fields = get_model_metadata_pb2.GetModelMetadataRequest()
  no_fields.model_spec.name = MODEL_NAME
  assert _error(stub.GetModelMetadata, no_fields)[0] == grpc.StatusCode.INVALID_ARGUMENT
  server.wait_for_log(r'gRPC Predict NOT_FOUND \d+\.\d ms')
  # Still serving.
  assert stub.Predict(predict_request(features.IMAGES_SIGNATURE, images=images), timeout=30)
