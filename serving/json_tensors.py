"""TF Serving's JSON predict format: request bodies to numpy inputs, and outputs to response bodies.

In: a `:predict` body, `{"signature_name": ..., "instances": [...]}` (row format: one item per
example, a value or, for several inputs, an object of them) or `{"inputs": ...}` (columnar: a
value, or an object of one value per input); strings are text or `{"b64": ...}` bytes. Out: the
signature name, the format, and one array per input, typed by the signature. Responses mirror the
request: row -> `{"predictions": [...]}` (per example: the value, or an object of the outputs when
there are several), columnar -> `{"outputs": ...}`; string outputs whose name ends in `_bytes` go
out as `{"b64": ...}`, float32 as the shortest decimal that reads back as the same float32.
Mistakes raise errors.InvalidArgument with a message that says what was wrong.
"""

import base64
import binascii
import dataclasses
import json
from typing import Any, Dict, Mapping

import numpy as np
import orjson

from serving.errors import InvalidArgument

SIGNATURE_KEY = 'signature_name'
INSTANCES_KEY = 'instances'  # row format
INPUTS_KEY = 'inputs'  # columnar format
_B64_KEY = 'b64'
_BYTES_SUFFIX = '_bytes'


@dataclasses.dataclass(frozen=True)
class PredictBody:
  signature_name: str  # '' for the default signature
  row_format: bool
  payload: Any  # the value of "instances" or "inputs"


def parse_predict_body(body: bytes, max_values: int) -> PredictBody:
  """Parses and checks the shape of a predict request's JSON (NaN and Infinity allowed, as in TF
  Serving, so that they can be refused with a clear message rather than a parse error).

  Parsed, each JSON value is a Python object of up to 64 bytes (an empty list): 16 MB of "[],"
  took 740 MB and 35 s. So the values are counted first, from the bytes: every value but the
  first of its array or object follows a comma, so there are at most commas + brackets + 1 of
  them; more than max_values is refused before parsing."""
  if not body.strip():
    raise InvalidArgument('JSON Parse error: The document is empty')
  values = body.count(b',') + body.count(b'[') + body.count(b'{') + 1
  if values > max_values:
    raise InvalidArgument(f'the body holds up to {values:,} JSON values (counting its commas and '
                          f"brackets), more than the server's limit of {max_values:,} "
                          '(--max-request-elements)')
  try:
    document = orjson.loads(body)  # twice as fast as json on big batches
  except orjson.JSONDecodeError:
    try:
      document = json.loads(body)  # also reads NaN and Infinity
    except (ValueError, RecursionError) as e:  # JSONDecodeError and UnicodeDecodeError
      raise InvalidArgument(f'JSON Parse error: {e}') from e
  if not isinstance(document, dict):
    raise InvalidArgument('the request body must be a JSON object')
  signature_name = document.get(SIGNATURE_KEY, '')
  if not isinstance(signature_name, str):
    raise InvalidArgument(f"'{SIGNATURE_KEY}' must be a string")
  if INSTANCES_KEY in document and INPUTS_KEY in document:
    raise InvalidArgument(f"expecting only one of '{INPUTS_KEY}' or '{INSTANCES_KEY}' keys, not "
                          'both')
  if INSTANCES_KEY in document:
    instances = document[INSTANCES_KEY]
    if not isinstance(instances, list):
      raise InvalidArgument(f"'{INSTANCES_KEY}' must be a list")
    if not instances:
      raise InvalidArgument(f"No values in '{INSTANCES_KEY}' array")
    return PredictBody(signature_name, True, instances)
  if INPUTS_KEY in document:
    return PredictBody(signature_name, False, document[INPUTS_KEY])
  raise InvalidArgument(f"Missing '{INPUTS_KEY}' or '{INSTANCES_KEY}' key")


def _is_b64(value) -> bool:
  return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64_KEY), str)


def _is_named(value) -> bool:
  """An object of named inputs, as opposed to a value (which may be a {"b64": ...} object)."""
  return isinstance(value, dict) and not _is_b64(value)


def _to_bytes(value, where: str):
  if isinstance(value, list):
    return [_to_bytes(item, where) for item in value]
  if isinstance(value, str):
    return value.encode()
  if _is_b64(value):
    try:
      return base64.b64decode(value[_B64_KEY], validate=True)
    except binascii.Error as e:
      raise InvalidArgument(f'{where}: unable to base64-decode {value[_B64_KEY][:40]!r}') from e
  raise InvalidArgument(f'{where}: {json.dumps(value)[:80]} is not a string or {{"b64": ...}}')


def _to_array(value, dtype: np.dtype, where: str) -> np.ndarray:
  """A JSON value (nested lists) as an array of dtype; refuses other types and ragged lists."""
  try:
    if dtype == object:
      array = np.empty(np.shape(value), dtype=object)  # bytes of any length, NULs kept
      array[...] = _to_bytes(value, where)
      return array
    array = np.asarray(value)
  except ValueError as e:  # numpy: "inhomogeneous shape"
    raise InvalidArgument(f'{where}: the nested lists are not rectangular (ragged): {e}') from e
  if array.dtype.kind not in 'iuf':
    raise InvalidArgument(f'{where}: expected numbers for a {np.dtype(dtype).name} input')
  if np.dtype(dtype).kind in 'iu' and array.dtype.kind == 'f':
    raise InvalidArgument(f'{where}: expected whole numbers for a {np.dtype(dtype).name} input')
  return array.astype(dtype)


def to_input_arrays(body: PredictBody,
                    input_dtypes: Mapping[str, np.dtype]) -> Dict[str, np.ndarray]:
  """The request's inputs as arrays of the signature's dtypes (object for strings), keyed by name.
  The batch is not checked here (inference.check_inputs does)."""
  names = sorted(input_dtypes)
  payload = body.payload
  if body.row_format:
    named = [_is_named(item) for item in payload]
    if any(named) and not all(named):
      raise InvalidArgument(f"'{INSTANCES_KEY}' mixes objects of named inputs with plain values")
    if not named[0]:
      if len(names) > 1:
        raise InvalidArgument(f"'{INSTANCES_KEY}' is a plain list, but the signature takes "
                              f'several inputs {names}: send a list of objects')
      return {names[0]: _to_array(payload, input_dtypes[names[0]], INSTANCES_KEY)}
    for i, item in enumerate(payload):
      if sorted(item) != names:
        raise InvalidArgument(f"'{INSTANCES_KEY}'[{i}] has keys {sorted(item)}, expected {names}")
    return {name: _to_array([item[name] for item in payload], input_dtypes[name],
                            f'{INSTANCES_KEY}[*].{name}') for name in names}
  if not _is_named(payload):
    if len(names) > 1:
      raise InvalidArgument(f"'{INPUTS_KEY}' is a plain value, but the signature takes several "
                            f'inputs {names}: send an object')
    return {names[0]: _to_array(payload, input_dtypes[names[0]], INPUTS_KEY)}
  missing = [name for name in names if name not in payload]
  if missing:
    raise InvalidArgument(f"Missing named input(s) {missing} in '{INPUTS_KEY}' object")
  return {name: _to_array(payload[name], input_dtypes[name], f'{INPUTS_KEY}.{name}')
          for name in names}


def _jsonable(name: str, array: np.ndarray):
  """Numbers stay numpy (orjson writes them, float32 shortest); strings become text or b64."""
  if array.dtype != object:
    return array
  if name.endswith(_BYTES_SUFFIX):
    convert = lambda b: {_B64_KEY: base64.b64encode(b).decode()}
  else:
    convert = lambda b: b.decode('utf-8', errors='replace')
  return np.vectorize(convert, otypes=[object])(array).tolist()


def format_predict_response(outputs: Mapping[str, np.ndarray], row_format: bool) -> bytes:
  """The JSON body TF Serving answers a predict request with (see the module docstring)."""
  names = sorted(outputs)
  values = {name: _jsonable(name, outputs[name]) for name in names}
  if not row_format:
    document = {'outputs': values[names[0]] if len(names) == 1 else values}
  else:
    batch_sizes = {len(outputs[name]) for name in names}
    if len(batch_sizes) != 1:
      raise InvalidArgument(f'outputs have different batch sizes {sorted(batch_sizes)}: use the '
                            f"columnar format ('{INPUTS_KEY}')")
    (batch_size,) = batch_sizes
    if len(names) == 1:
      document = {'predictions': values[names[0]]}
    else:
      document = {'predictions': [{name: values[name][i] for name in names}
                                  for i in range(batch_size)]}
  return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY)
