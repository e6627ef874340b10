"""Checking a predict request's tensors against a signature, and running it (for REST and gRPC).

In: a signature's concrete function and the request's inputs as numpy arrays (the front ends turn
JSON or TensorProtos into arrays). Out: the signature's outputs as numpy arrays, or
errors.InvalidArgument
whose message says what was wrong.
Checks beyond the signature's dtypes and shapes are this model's contract (fashion_mnist.features):
pixel values are finite numbers in 0-255, and a tf.Example holds exactly 784 of them.
"""

from typing import Dict, Mapping

import numpy as np
import tensorflow as tf
from google.protobuf import message
from tensorflow.core.example import example_pb2

from fashion_mnist import examples
from fashion_mnist import features
from serving.errors import InvalidArgument


def images_to_examples(images: np.ndarray) -> np.ndarray:
  """Images [N, 28, 28] (0-255) as serialized tf.Examples, what `serving_default` takes."""
  # dtype object: numpy's fixed-width bytes would strip the trailing NULs of serialized protos.
  return np.array(list(examples.serialize(images)), dtype=object)


def _check_pixels(where: str, pixels: np.ndarray) -> None:
  if not np.isfinite(pixels).all():
    raise InvalidArgument(f'{where}: pixel values must be finite numbers (found NaN or infinity)')
  low, high = pixels.min(initial=0), pixels.max(initial=0)
  if low < 0 or high > features.MAX_PIXEL_VALUE:
    raise InvalidArgument(f'{where}: pixel values must be in 0-{features.MAX_PIXEL_VALUE} '
                          f'(found {low:g} to {high:g})')


def _check_examples(name: str, examples: np.ndarray) -> None:
  for i, serialized in enumerate(examples.reshape(-1)):
    where = f'{name}[{i}]'
    try:
      example = example_pb2.Example.FromString(serialized)
    except (message.DecodeError, TypeError) as e:
      raise InvalidArgument(f'{where} is not a serialized tf.Example ({e})') from e
    feature = example.features.feature.get(features.IMAGE_KEY)
    if feature is None or feature.WhichOneof('kind') != 'int64_list':
      raise InvalidArgument(f'{where}: tf.Example needs an int64 feature "{features.IMAGE_KEY}" '
                            f'with {features.NUM_PIXELS} pixel values')
    if len(feature.int64_list.value) != features.NUM_PIXELS:
      raise InvalidArgument(f'{where}: "{features.IMAGE_KEY}" has {len(feature.int64_list.value)} '
                            f'values, expected {features.NUM_PIXELS} (28x28)')
    _check_pixels(where, np.array(feature.int64_list.value))


# The model's contract on the values of each input, beyond dtype and shape.
_VALUE_CHECKS = {
    features.IMAGES_INPUT_KEY: _check_pixels,
    features.EXAMPLES_INPUT_KEY: _check_examples,
}


def _shape_text(shape) -> str:
  return '[' + ', '.join('N' if d is None else str(d) for d in shape) + ']'


def check_inputs(input_specs: Mapping[str, tf.TensorSpec], inputs: Mapping[str, np.ndarray],
                 max_batch_size: int) -> None:
  """Raises InvalidArgument unless the inputs are exactly the signature's, with its dtypes and
  shapes, a batch of 1 to max_batch_size, and values the model accepts."""
  if set(inputs) != set(input_specs):
    raise InvalidArgument(
        f'inputs {sorted(inputs)} do not match the signature\'s inputs {sorted(input_specs)}')
  for name, spec in input_specs.items():
    array = inputs[name]
    expected = spec.dtype.as_numpy_dtype
    if spec.dtype == tf.string:
      if array.dtype != object or not all(isinstance(v, bytes) for v in array.reshape(-1)):
        raise InvalidArgument(f'input {name} must be strings (bytes)')
    elif array.dtype != expected:
      raise InvalidArgument(f'input {name} must be {spec.dtype.name}, not {array.dtype}')
    if not spec.shape.is_compatible_with(array.shape):
      raise InvalidArgument(f'input {name} has shape {_shape_text(array.shape)}, the signature '
                            f'takes {_shape_text(spec.shape.as_list())}')
    if array.ndim and array.shape[0] == 0:
      raise InvalidArgument(f'input {name} is an empty batch')
    if array.ndim and array.shape[0] > max_batch_size:
      raise InvalidArgument(f'input {name} is a batch of {array.shape[0]}, more than the '
                            f"server's limit of {max_batch_size} (--max-batch-size)")
    if name in _VALUE_CHECKS:
      _VALUE_CHECKS[name](name, array)


def call(function, inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
  """Calls a signature's concrete function on inputs already checked (check_inputs)."""
  try:
    outputs = function(**{name: tf.constant(array) for name, array in inputs.items()})
  except (tf.errors.InvalidArgumentError, ValueError) as e:
    raise InvalidArgument(getattr(e, 'message', str(e))) from e
  return {name: tensor.numpy() for name, tensor in outputs.items()}


def run(function, inputs: Mapping[str, np.ndarray], max_batch_size: int) -> Dict[str, np.ndarray]:
  """Checks the inputs (check_inputs) and calls the signature's concrete function."""
  check_inputs(function.structured_input_signature[1], inputs, max_batch_size)
  return call(function, inputs)
