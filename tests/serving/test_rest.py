"""The REST API against a real server process: TF Serving's status, metadata and predict (row and
columnar, both signatures, b64 tf.Examples), answers equal to the SavedModel called in-process,
the image upload, and one log line per request."""

import base64
import io

import numpy as np
import pytest
import tensorflow as tf
from google.protobuf import json_format
from PIL import Image
from tensorflow_serving.apis import get_model_metadata_pb2

from server_process import MODEL_NAME
from fashion_mnist import features
from serving import inference

pytestmark = pytest.mark.serving

PREDICT = f'/v1/models/{MODEL_NAME}:predict'


def _b64(examples):
  return [{'b64': base64.b64encode(example).decode()} for example in examples]


def _reference(local_model, images):
  outputs = local_model.signatures[features.IMAGES_SIGNATURE](
      images=tf.constant(images, tf.float32))
  return {name: tensor.numpy() for name, tensor in outputs.items()}


def test_status_lists_the_version_as_available(rest, pushed_model):
  response = rest.get(f'/v1/models/{MODEL_NAME}')
  assert response.status_code == 200
  assert response.json() == {'model_version_status': [{
      'version': str(pushed_model.version), 'state': 'AVAILABLE',
      'status': {'error_code': 'OK', 'error_message': ''}}]}
  assert rest.get(f'/v1/models/{MODEL_NAME}/versions/{pushed_model.version}').json() == \
      response.json()


def test_metadata_is_the_saved_models_signature_defs(rest, pushed_model):
  for path in (f'/v1/models/{MODEL_NAME}/metadata',
               f'/v1/models/{MODEL_NAME}/versions/{pushed_model.version}/metadata'):
    body = rest.get(path).json()
    assert body['model_spec'] == {'name': MODEL_NAME, 'version': str(pushed_model.version),
                                  'signature_name': ''}
    signatures = body['metadata']['signature_def']['signature_def']
    images = signatures[features.IMAGES_SIGNATURE]
    assert images['method_name'] == 'tensorflow/serving/predict'
    assert images['inputs'][features.IMAGES_INPUT_KEY]['dtype'] == 'DT_FLOAT'
    assert [d['size'] for d in images['inputs'][features.IMAGES_INPUT_KEY]['tensor_shape']['dim']
           ] == ['-1', '28', '28']
    assert set(images['outputs']) == {features.PROBABILITIES_KEY, features.CLASS_ID_KEY,
                                      features.CLASS_NAME_KEY}
    examples = signatures[features.EXAMPLES_SIGNATURE]['inputs'][features.EXAMPLES_INPUT_KEY]
    assert examples['dtype'] == 'DT_STRING'
    # What TF Serving prints is a JSON SignatureDefMap: it parses back into one.
    json_format.ParseDict(body['metadata']['signature_def'],
                          get_model_metadata_pb2.SignatureDefMap())


def _assert_row(predictions, reference):
  assert [p[features.CLASS_NAME_KEY] for p in predictions] == [
      n.decode() for n in reference[features.CLASS_NAME_KEY]]
  assert [p[features.CLASS_ID_KEY] for p in predictions] == \
      reference[features.CLASS_ID_KEY].tolist()
  np.testing.assert_allclose([p[features.PROBABILITIES_KEY] for p in predictions],
                             reference[features.PROBABILITIES_KEY], rtol=1e-6, atol=1e-7)


def test_row_format_on_images_equals_the_saved_model(rest, pushed_model, local_model):
  images = pushed_model.images[:5]
  response = rest.post(PREDICT, json={'signature_name': features.IMAGES_SIGNATURE,
                                      'instances': images.tolist()})
  assert response.status_code == 200, response.text
  assert response.headers['X-Model-Version'] == str(pushed_model.version)
  assert set(response.json()) == {'predictions'}
  _assert_row(response.json()['predictions'], _reference(local_model, images))


def test_row_format_with_named_inputs(rest, pushed_model, local_model):
  images = pushed_model.images[:2]
  response = rest.post(PREDICT, json={
      'signature_name': features.IMAGES_SIGNATURE,
      'instances': [{features.IMAGES_INPUT_KEY: image.tolist()} for image in images]})
  _assert_row(response.json()['predictions'], _reference(local_model, images))


def test_default_signature_takes_b64_tf_examples(rest, pushed_model, local_model):
  images = pushed_model.images[:4]
  examples = inference.images_to_examples(images)
  for instances in (_b64(examples),
                    [{features.EXAMPLES_INPUT_KEY: item} for item in _b64(examples)]):
    response = rest.post(PREDICT, json={'instances': instances})
    assert response.status_code == 200, response.text
    _assert_row(response.json()['predictions'], _reference(local_model, images))


def test_columnar_format_answers_outputs_by_name(rest, pushed_model, local_model):
  images = pushed_model.images[:3]
  reference = _reference(local_model, images)
  for inputs in (images.tolist(), {features.IMAGES_INPUT_KEY: images.tolist()}):
    response = rest.post(PREDICT, json={'signature_name': features.IMAGES_SIGNATURE,
                                        'inputs': inputs})
    outputs = response.json()['outputs']
    assert outputs[features.CLASS_NAME_KEY] == [
        n.decode() for n in reference[features.CLASS_NAME_KEY]]
    assert outputs[features.CLASS_ID_KEY] == reference[features.CLASS_ID_KEY].tolist()
    np.testing.assert_allclose(outputs[features.PROBABILITIES_KEY],
                               reference[features.PROBABILITIES_KEY], rtol=1e-6, atol=1e-7)
  examples = rest.post(PREDICT, json={'inputs': _b64(inference.images_to_examples(images))})
  assert examples.json()['outputs'][features.CLASS_ID_KEY] == \
      reference[features.CLASS_ID_KEY].tolist()


def test_probabilities_are_float32_written_shortest(rest, pushed_model, local_model):
  images = pushed_model.images[:1]
  text = rest.post(PREDICT, json={'signature_name': features.IMAGES_SIGNATURE,
                                  'instances': images.tolist()}).text
  reference = _reference(local_model, images)[features.PROBABILITIES_KEY][0]
  for value in reference:
    assert str(np.float32(value)).replace('e-0', 'e-') in text  # numpy 2's repr adds np.float32()


def test_a_version_can_be_asked_for_by_number(rest, pushed_model):
  response = rest.post(f'/v1/models/{MODEL_NAME}/versions/{pushed_model.version}:predict',
                       json={'signature_name': features.IMAGES_SIGNATURE,
                             'instances': pushed_model.images[:1].tolist()})
  assert response.status_code == 200
  assert response.headers['X-Model-Version'] == str(pushed_model.version)


def _png(image: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, 'PNG')
  return buffer.getvalue()


def test_an_uploaded_image_gets_its_class_and_ten_probabilities(rest, pushed_model, local_model):
  image = pushed_model.images[0]
  big = np.kron(image, np.ones((9, 9), np.uint8))  # 252x252: resized back to 28x28
  jpeg = io.BytesIO()
  Image.fromarray(image).convert('RGB').save(jpeg, 'JPEG', quality=95)
  reference = _reference(local_model, image[None])
  expected = features.CLASS_NAMES[reference[features.CLASS_ID_KEY][0]]
  for request in ({'files': {'image': ('item.png', _png(image), 'image/png')}},
                  {'content': _png(big), 'headers': {'Content-Type': 'image/png'}},
                  {'files': {'file': ('item.jpg', jpeg.getvalue(), 'image/jpeg')}}):
    response = rest.post(f'/v1/models/{MODEL_NAME}:predict_image', **request)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body['class_name'] == expected
    assert list(body['probabilities']) == list(features.CLASS_NAMES)
    assert sum(body['probabilities'].values()) == pytest.approx(1, abs=1e-5)
    assert body['probability'] == max(body['probabilities'].values())
  # The PNG at its own size is exactly the model's input.
  exact = rest.post(f'/v1/models/{MODEL_NAME}:predict_image', content=_png(image)).json()
  np.testing.assert_allclose(list(exact['probabilities'].values()),
                             reference[features.PROBABILITIES_KEY][0], rtol=1e-6, atol=1e-7)


def test_each_request_is_logged_with_its_latency(rest, server):
  rest.get(f'/v1/models/{MODEL_NAME}/versions/424242')
  server.wait_for_log(rf'REST GET /v1/models/{MODEL_NAME}/versions/424242 404 \d+\.\d ms')
