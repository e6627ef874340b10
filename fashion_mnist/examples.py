"""The tf.Example contract: what ExampleGen writes, the serving signature takes, the report reads.

A record holds `image` (784 int64 pixel values, 0-255, row by row) and, except in prediction
requests, `label` (one int64, 0-9). In: images [N, 28, 28] and labels [N] as numpy arrays (or
serialized records, to decode). Out: serialized tf.Examples (or the arrays again).
"""

from typing import Iterator, Optional, Tuple

import numpy as np
import pyarrow as pa
import tensorflow as tf
from tfx_bsl.coders import example_coder

from fashion_mnist import features


def feature_spec(with_label: bool = True) -> dict:
  """The records' feature spec, for tf.io.parse_example."""
  spec = {features.IMAGE_KEY: tf.io.FixedLenFeature([features.NUM_PIXELS], tf.int64)}
  if with_label:
    spec[features.LABEL_KEY] = tf.io.FixedLenFeature([], tf.int64)
  return spec


def _int64_lists(values: np.ndarray) -> pa.Array:
  """Rows of a 2-D array as an Arrow list array of int64, what tfx_bsl encodes as Int64Lists."""
  rows, width = values.shape
  return pa.ListArray.from_arrays(pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32)),
                                  pa.array(values.reshape(-1).astype(np.int64)))


# Records encoded per record batch: bounds the int64 copy of the pixels (63 MB per batch).
_ENCODE_BATCH_SIZE = 10_000


def serialize(images: np.ndarray, labels: Optional[np.ndarray] = None) -> Iterator[bytes]:
  """Any images [N, 28, 28] (rounded to whole pixel values) and optional labels [N], encoded by
  tfx_bsl's record-batch encoder, a batch at a time. (A hand-written protobuf wire encoder saves
  0.3-0.4 s on the 60,000 training images, bench/example_encoder_bench.py: under 1% of a run,
  not worth the hand-written format.)"""
  encoder = example_coder.RecordBatchToExamplesEncoder()
  for start in range(0, len(images), _ENCODE_BATCH_SIZE):
    batch = images[start:start + _ENCODE_BATCH_SIZE]
    if not np.issubdtype(batch.dtype, np.integer):
      # Integers (the IDX files' uint8) are whole already: np.rint would make floats of them,
      # 0.5 s for the training images.
      batch = np.rint(batch)
    columns = {features.IMAGE_KEY: _int64_lists(batch.reshape(len(batch), -1))}
    if labels is not None:
      columns[features.LABEL_KEY] = _int64_lists(
          np.asarray(labels[start:start + _ENCODE_BATCH_SIZE]).reshape(-1, 1))
    yield from encoder.encode(pa.RecordBatch.from_pydict(columns))


def decode(records) -> Tuple[np.ndarray, np.ndarray]:
  """Serialized labelled tf.Examples as (uint8 images [N, 28, 28], labels [N])."""
  parsed = tf.io.parse_example(tf.constant(list(records), tf.string), feature_spec())
  images = parsed[features.IMAGE_KEY].numpy().reshape(-1, *features.IMAGE_SHAPE)
  return (np.clip(images, 0, features.MAX_PIXEL_VALUE).astype(np.uint8),
          parsed[features.LABEL_KEY].numpy())
