"""TF Serving's warm-up file: `assets.extra/tf_serving_warmup_requests` in a SavedModel, a TFRecord
of PredictionLog protos (tensorflow-serving-api's), one Predict request per signature.

In: a SavedModel folder. Out: `write` puts the file there (the Pusher does, so real TF Serving
warms the model up too); `read` gives the requests back as (signature name, inputs as numpy),
raising ValueError naming the file and record when one is not a PredictionLog with a Predict
request. `requests()` is what the file holds: one blank image for each of the model's signatures.
"""

from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import tensorflow as tf
from google.protobuf import message
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_log_pb2

from fashion_mnist import features
from serving import inference

WARMUP_FILE = Path('assets.extra') / 'tf_serving_warmup_requests'  # TF Serving's name


def requests() -> List[prediction_log_pb2.PredictionLog]:
  blank = np.zeros((1, *features.IMAGE_SHAPE), np.float32)
  inputs = {features.IMAGES_SIGNATURE: (features.IMAGES_INPUT_KEY, blank),
            features.EXAMPLES_SIGNATURE: (features.EXAMPLES_INPUT_KEY,
                                          inference.images_to_examples(blank))}
  logs = []
  for signature, (key, value) in inputs.items():
    request = predict_pb2.PredictRequest()
    request.model_spec.signature_name = signature
    request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
    logs.append(prediction_log_pb2.PredictionLog(
        predict_log=prediction_log_pb2.PredictLog(request=request)))
  return logs


def write(model_dir: str) -> None:
  """Writes the warm-up file into a SavedModel folder (a local path or a URI TensorFlow writes)."""
  folder = f'{model_dir}/{WARMUP_FILE.parent}'
  tf.io.gfile.makedirs(folder)
  with tf.io.TFRecordWriter(f'{model_dir}/{WARMUP_FILE}') as writer:
    for log in requests():
      writer.write(log.SerializeToString())


def to_inputs(log: prediction_log_pb2.PredictionLog) -> Tuple[str, Dict[str, np.ndarray]]:
  request = log.predict_log.request
  return (request.model_spec.signature_name or tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY,
          {name: tf.make_ndarray(tensor) for name, tensor in request.inputs.items()})


def read(model_dir: Path) -> List[Tuple[str, Dict[str, np.ndarray]]]:
  """The warm-up requests of a SavedModel; the built-in ones when it has no warm-up file (a
  model pushed before the Pusher wrote one)."""
  path = model_dir / WARMUP_FILE
  if not path.is_file():
    return [to_inputs(log) for log in requests()]
  found = []
  try:
    for i, record in enumerate(tf.data.TFRecordDataset(str(path)).as_numpy_iterator()):
      log = prediction_log_pb2.PredictionLog.FromString(record)
      if log.WhichOneof('log_type') != 'predict_log':
        raise ValueError(f'{path}: record {i} is not a predict_log (only Predict is served)')
      found.append(to_inputs(log))
  except (message.DecodeError, tf.errors.DataLossError) as e:
    raise ValueError(f'{path}: not a TFRecord of PredictionLog protos ({e})') from e
  return found
