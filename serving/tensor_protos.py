"""A Predict request's TensorProtos to numpy arrays, their cost checked before anything is made.

In: the request's inputs (name -> TensorProto), the signature's input specs, the batch and element
limits. Out: name -> numpy array, or errors.InvalidArgument saying what was wrong. A TensorProto
declares its shape and carries its values apart (packed `tensor_content` bytes or a repeated
field), and tf.make_ndarray fills a declared shape from a single value: a 63-byte request
declaring [1000000, 28, 28] made it allocate 3.6 GB. So the names, dtype and shape are checked
against the signature and the limits first, and the values present must be exactly the declared
element count (no broadcasting of one value), before tf.make_ndarray allocates anything.
"""

import math
from typing import Dict, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import types_pb2

from serving.errors import InvalidArgument

# The repeated field that holds each dtype's values when tensor_content is empty.
_VALUE_FIELDS = {
    types_pb2.DT_FLOAT: 'float_val', types_pb2.DT_DOUBLE: 'double_val',
    types_pb2.DT_INT32: 'int_val', types_pb2.DT_INT16: 'int_val', types_pb2.DT_INT8: 'int_val',
    types_pb2.DT_UINT8: 'int_val', types_pb2.DT_UINT16: 'int_val',
    types_pb2.DT_INT64: 'int64_val', types_pb2.DT_UINT32: 'uint32_val',
    types_pb2.DT_UINT64: 'uint64_val', types_pb2.DT_BOOL: 'bool_val',
    types_pb2.DT_HALF: 'half_val', types_pb2.DT_STRING: 'string_val',
}


def _dtype_name(dtype: int) -> str:
  """float32, as the REST errors say (any number can arrive: proto3 enums are open)."""
  try:
    return tf.as_dtype(dtype).name
  except (TypeError, ValueError):
    return f'dtype {dtype}'


def _shape_text(dims) -> str:
  return '[' + ', '.join('N' if d is None else str(d) for d in dims) + ']'


def _check(name: str, tensor, spec: tf.TensorSpec, max_batch_size: int,
           max_elements: int) -> None:
  where = f'input {name}'
  if tensor.dtype != spec.dtype.as_datatype_enum:
    raise InvalidArgument(f'{where} must be {_dtype_name(spec.dtype.as_datatype_enum)}, not '
                          f'{_dtype_name(tensor.dtype)}')
  if tensor.tensor_shape.unknown_rank:
    raise InvalidArgument(f'{where}: the tensor_shape has unknown rank')
  dims = [d.size for d in tensor.tensor_shape.dim]
  if any(d < 0 for d in dims):
    raise InvalidArgument(f'{where}: dimensions must be 0 or more, not {_shape_text(dims)}')
  expected = spec.shape.as_list()
  if len(dims) != len(expected) or any(e is not None and e != d for d, e in zip(dims, expected)):
    raise InvalidArgument(f'{where} has shape {_shape_text(dims)}, the signature takes '
                          f'{_shape_text(expected)}')
  if dims and dims[0] > max_batch_size:
    raise InvalidArgument(f'{where} is a batch of {dims[0]}, more than the server\'s limit of '
                          f'{max_batch_size} (--max-batch-size)')
  elements = math.prod(dims)  # Python's integers: no overflow however large the dimensions
  if elements > max_elements:
    raise InvalidArgument(f'{where} has {elements:,} values, more than the server\'s limit of '
                          f'{max_elements:,} (--max-request-elements)')
  field = _VALUE_FIELDS.get(tensor.dtype)
  if field is None:
    raise InvalidArgument(f'{where}: {_dtype_name(tensor.dtype)} is not supported')
  if tensor.tensor_content and tensor.dtype != types_pb2.DT_STRING:
    present = len(tensor.tensor_content)
    wanted = elements * np.dtype(spec.dtype.as_numpy_dtype).itemsize
    unit = 'bytes of tensor_content'
  else:
    present, wanted, unit = len(getattr(tensor, field)), elements, f'values in {field}'
  if present != wanted:
    raise InvalidArgument(f'{where} declares shape {_shape_text(dims)} ({wanted:,} {unit}) but '
                          f'carries {present:,}')


def to_arrays(inputs: Mapping[str, object], input_specs: Mapping[str, tf.TensorSpec],
              max_batch_size: int, max_elements: int) -> Dict[str, np.ndarray]:
  """The inputs as arrays, each checked first (see the module docstring)."""
  if set(inputs) != set(input_specs):
    raise InvalidArgument(
        f'inputs {sorted(inputs)} do not match the signature\'s inputs {sorted(input_specs)}')
  for name, tensor in inputs.items():
    _check(name, tensor, input_specs[name], max_batch_size, max_elements)
  try:
    return {name: tf.make_ndarray(tensor) for name, tensor in inputs.items()}
  except (TypeError, ValueError) as e:
    raise InvalidArgument(f'an input TensorProto cannot be read: {e}') from e
