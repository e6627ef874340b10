"""Bad requests over REST: each gets a 4xx and a message saying what was wrong, and the server
keeps serving."""

import base64
import json

import numpy as np
import pytest
from tensorflow.core.example import example_pb2

from fashion_mnist import features
from server_process import MAX_BATCH_SIZE, MAX_BODY_BYTES, MODEL_NAME

pytestmark = pytest.mark.serving

PREDICT = f'/v1/models/{MODEL_NAME}:predict'
IMAGE = np.full(features.IMAGE_SHAPE, 100.0)


def _images(images) -> str:
  return json.dumps({'signature_name': features.IMAGES_SIGNATURE, 'instances': images})


def _example_b64(pixels) -> dict:
  example = example_pb2.Example()
  example.features.feature[features.IMAGE_KEY].int64_list.value.extend(pixels)
  return {'b64': base64.b64encode(example.SerializeToString()).decode()}


def _with_nan() -> str:
  image = IMAGE.copy()
  image[3, 4] = np.nan
  return _images([image.tolist()])  # json writes NaN, which TF Serving's parser accepts too


BAD_PREDICT_BODIES = {
    'malformed JSON': ('{"instances": [1, 2', 400, 'JSON Parse error'),
    'empty body': ('', 400, 'The document is empty'),
    'not an object': ('[1, 2]', 400, 'must be a JSON object'),
    'no instances or inputs': ('{"signature_name": "predict_images"}', 400,
                               "Missing 'inputs' or 'instances' key"),
    'both instances and inputs': (json.dumps({'instances': [[1]], 'inputs': [[1]]}), 400,
                                  'not both'),
    'empty instances': (json.dumps({'instances': []}), 400, "No values in 'instances'"),
    'not 28x28': (_images([IMAGE[:27].tolist()]), 400,
                  'has shape [1, 27, 28], the signature takes [N, 28, 28]'),
    'not 784 values': (json.dumps({'instances': [_example_b64([0] * 783)]}), 400,
                       'has 783 values, expected 784'),
    'tf.Example without the image': (json.dumps({'instances': [{'b64': ''}]}), 400,
                                     'needs an int64 feature "image" with 784 pixel values'),
    'flat 784 values for images': (_images([IMAGE.reshape(-1).tolist()]), 400,
                                   'has shape [1, 784]'),
    'ragged lists': (_images([IMAGE.tolist(), IMAGE[:3].tolist()]), 400, 'not rectangular'),
    'value above 255': (_images([(IMAGE + 200).tolist()]), 400, 'must be in 0-255'),
    'negative value': (_images([(IMAGE - 101).tolist()]), 400, 'must be in 0-255'),
    'NaN': (_with_nan(), 400, 'must be finite'),
    'text for numbers': (_images([[['a'] * 28] * 28]), 400, 'expected numbers'),
    'example pixel above 255': (json.dumps({'inputs': [_example_b64([256] * 784)]}), 400,
                                'must be in 0-255'),
    'not a tf.Example': (json.dumps({'instances': ['plain text']}), 400,
                         'not a serialized tf.Example'),
    'bad base64': (json.dumps({'instances': [{'b64': '!!!'}]}), 400, 'unable to base64-decode'),
    # 400 as in TF Serving
    'unknown signature': (json.dumps({'signature_name': 'nope', 'instances': [[1]]}), 400,
                          'Serving signature name: "nope" not found'),
    'signature name not a string': (json.dumps({'signature_name': 3, 'instances': [[1]]}), 400,
                                    "'signature_name' must be a string"),
    'wrong input name': (json.dumps({'signature_name': features.IMAGES_SIGNATURE,
                                     'inputs': {'pixels': [IMAGE.tolist()]}}), 400,
                         "Missing named input(s) ['images']"),
    'batch over the limit': (_images([IMAGE.tolist()] * (MAX_BATCH_SIZE + 1)), 400,
                             f"more than the server's limit of {MAX_BATCH_SIZE}"),
}


@pytest.mark.parametrize('body,status,message', BAD_PREDICT_BODIES.values(),
                         ids=BAD_PREDICT_BODIES.keys())
def test_bad_predict_request_gets_a_4xx_saying_what_was_wrong(rest, body, status, message):
  response = rest.post(PREDICT, content=body)
  assert response.status_code == status, response.text
  assert message in response.json()['error']


@pytest.mark.parametrize('method,path,status,message', [
    ('POST', '/v1/models/shoes:predict', 404, 'Servable not found for request: Latest(shoes)'),
    ('POST', f'/v1/models/{MODEL_NAME}/versions/1:predict', 404,
     f'Servable not found for request: Specific({MODEL_NAME}, 1)'),
    ('GET', '/v1/models/shoes', 404, 'Could not find any versions of model shoes'),
    ('GET', f'/v1/models/{MODEL_NAME}/versions/1/metadata', 404, 'Servable not found'),
    ('POST', f'/v1/models/{MODEL_NAME}/labels/stable:predict', 400,  # as TF Serving
     'Unrecognized servable version label: stable'),
    ('GET', f'/v1/models/{MODEL_NAME}/labels/stable', 400, 'Unrecognized servable version label'),
    ('GET', '/v1/nothing', 404, 'no such path'),
    ('GET', PREDICT, 405, 'method GET is not allowed'),
])
def test_unknown_models_versions_and_paths(rest, method, path, status, message):
  response = rest.request(method, path, content=b'{"instances": [[1]]}')
  assert response.status_code == status
  assert message in response.json()['error']


def test_oversized_bodies_get_413(rest):
  declared = rest.post(PREDICT, content=b' ' * (MAX_BODY_BYTES + 1))
  assert declared.status_code == 413
  assert f'larger than the limit of {MAX_BODY_BYTES} bytes' in declared.json()['error']
  streamed = rest.post(PREDICT, content=iter([b' ' * 1_000_000] * (MAX_BODY_BYTES // 1_000_000
                                                                    + 1)))
  assert streamed.status_code == 413
  upload = rest.post(f'/v1/models/{MODEL_NAME}:predict_image',
                     files={'image': ('big.png', b'\0' * (MAX_BODY_BYTES + 1), 'image/png')})
  assert upload.status_code == 413


@pytest.mark.parametrize('request_args,message', [
    ({'content': b'hello'}, 'not a PNG or JPEG image'),
    ({'files': {'image': ('notes.txt', b'just text', 'text/plain')}}, 'not a PNG or JPEG image'),
    ({'content': b'GIF89a' + b'\0' * 100}, 'not a PNG or JPEG image'),
    ({'content': b'\x89PNG\r\n\x1a\n' + b'\0' * 50}, 'not a PNG or JPEG image'),
    ({'content': b'--b\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--b--\r\n',
      'headers': {'Content-Type': 'multipart/form-data; boundary=b'}}, 'has no file'),
    ({'content': b''}, 'not a PNG or JPEG image'),
])
def test_non_image_uploads_get_400(rest, request_args, message):
  response = rest.post(f'/v1/models/{MODEL_NAME}:predict_image', **request_args)
  assert response.status_code == 400, response.text
  assert message in response.json()['error']


def test_the_server_keeps_serving_after_bad_requests(rest):
  response = rest.post(PREDICT, content=_images([IMAGE.tolist()]))
  assert response.status_code == 200
  assert len(response.json()['predictions']) == 1
