"""TF Serving's JSON predict format, without a server: requests to arrays, arrays to responses."""

import json

import numpy as np
import pytest

from serving import json_tensors
from serving.errors import InvalidArgument

IMAGES = {'images': np.float32}
EXAMPLES = {'examples': object}


def _inputs(document, dtypes):
  body = json_tensors.parse_predict_body(json.dumps(document).encode(), max_values=10_000)
  return body, json_tensors.to_input_arrays(body, dtypes)


def test_row_format_stacks_instances_into_a_batch():
  body, inputs = _inputs({'signature_name': 's', 'instances': [[[1, 2]], [[3, 4.5]]]}, IMAGES)
  assert body.signature_name == 's' and body.row_format
  assert inputs['images'].dtype == np.float32 and inputs['images'].shape == (2, 1, 2)
  _, named = _inputs({'instances': [{'images': [[1, 2]]}, {'images': [[3, 4]]}]}, IMAGES)
  np.testing.assert_array_equal(named['images'], [[[1, 2]], [[3, 4]]])


def test_columnar_format_and_b64_strings_keep_their_bytes():
  raw = b'\x00proto\x00'  # trailing NULs must survive (numpy bytes arrays would drop them)
  body, inputs = _inputs({'inputs': {'examples': [{'b64': 'AHByb3RvAA=='}, 'text']}}, EXAMPLES)
  assert not body.row_format and body.signature_name == ''
  assert inputs['examples'].dtype == object
  assert inputs['examples'].tolist() == [raw, b'text']


@pytest.mark.parametrize('document,message', [
    ({'instances': [[1], {'images': [1]}]}, 'mixes objects'),
    ({'instances': [{'pixels': [1]}]}, "has keys ['pixels'], expected ['images']"),
    ({'instances': [[1, 2], [3]]}, 'not rectangular'),
    ({'instances': [[True]]}, 'expected numbers'),
    ({'instances': [[None]]}, 'expected numbers'),
    ({'inputs': {'other': [1]}}, "Missing named input(s) ['images']"),
])
def test_malformed_inputs_say_what_is_wrong(document, message):
  with pytest.raises(InvalidArgument, match=message.replace('[', r'\[').replace(']', r'\]')
                     .replace('(', r'\(').replace(')', r'\)')):
    _inputs(document, IMAGES)


def test_int_inputs_refuse_fractions():
  with pytest.raises(InvalidArgument, match='whole numbers'):
    _inputs({'instances': [1.5]}, {'x': np.int64})


def _outputs():
  return {'probabilities': np.array([[0.1, 0.9], [0.5, 0.5]], np.float32),
          'class_id': np.array([1, 0], np.int64),
          'class_name': np.array([b'Trouser', b'T-shirt/top'], object)}


def test_row_response_is_a_list_of_objects_and_a_single_output_is_unnamed():
  document = json.loads(json_tensors.format_predict_response(_outputs(), row_format=True))
  assert document == {'predictions': [
      {'class_id': 1, 'class_name': 'Trouser', 'probabilities': [0.1, 0.9]},
      {'class_id': 0, 'class_name': 'T-shirt/top', 'probabilities': [0.5, 0.5]}]}
  single = {'class_id': _outputs()['class_id']}
  assert json.loads(json_tensors.format_predict_response(single, row_format=True)) == {
      'predictions': [1, 0]}


def test_columnar_response_is_an_object_of_whole_tensors():
  document = json.loads(json_tensors.format_predict_response(_outputs(), row_format=False))
  assert document == {'outputs': {'class_id': [1, 0], 'class_name': ['Trouser', 'T-shirt/top'],
                                  'probabilities': [[0.1, 0.9], [0.5, 0.5]]}}
  single = {'probabilities': _outputs()['probabilities']}
  assert json.loads(json_tensors.format_predict_response(single, row_format=False)) == {
      'outputs': [[0.1, 0.9], [0.5, 0.5]]}


def test_bytes_outputs_are_b64_and_float32_is_written_shortest():
  text = json_tensors.format_predict_response(
      {'raw_bytes': np.array([b'\x00\xff'], object), 'p': np.array([0.1], np.float32)},
      row_format=False)
  assert json.loads(text) == {'outputs': {'raw_bytes': [{'b64': 'AP8='}], 'p': [0.1]}}
  assert b'0.1]' in text  # not 0.10000000149011612


@pytest.mark.parametrize('body', [b'{"instances": [' + b','.join([b'[]'] * 100) + b']}',
                                  b'{"instances": [' + b'[' * 200 + b']' * 200 + b']}'])
def test_a_body_with_more_values_than_the_limit_is_refused_before_parsing(body):
  with pytest.raises(InvalidArgument, match='more than the server.s limit of 100'):
    json_tensors.parse_predict_body(body, max_values=100)
  json_tensors.parse_predict_body(body, max_values=1000)
