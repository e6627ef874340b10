"""Benchmark of the tf.Example encoders: tfx_bsl's record-batch encoder (fashion_mnist/examples.py,
what ExampleGen uses) against the hand-written protobuf wire encoder it replaced, on the 60,000
real training images.

In: the real Fashion-MNIST files ($FASHION_MNIST_DIR, else ../shared/data/fashion-mnist beside
the clone). Out: a table on stdout and bench/results/example-encoder-<date>.json: each encoder's
best and median wall time over --repeats runs (from the decoded IDX arrays to serialized
records), and whether both produce the same messages (tfx_bsl writes a record's two features
in its hash map's order, which changes from process to process; the wire encoder always writes
the label first, so their bytes agree only in some processes).

  scripts/in-env python bench/example_encoder_bench.py
"""

import argparse
import os
import time
from pathlib import Path
from typing import Iterator, Tuple

import numpy as np
from tensorflow.core.example import example_pb2

from fashion_mnist import dataset
from fashion_mnist import examples
from fashion_mnist import features
from fashion_mnist import idx
import timing  # bench/timing.py, beside this script

REPO_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get('FASHION_MNIST_DIR')
                or REPO_ROOT.parent / 'shared' / 'data' / 'fashion-mnist')


def _varint(value: int) -> bytes:
  """Protocol buffers' base-128 varint encoding of a non-negative integer."""
  encoded = bytearray()
  while value >= 0x80:
    encoded.append(value & 0x7F | 0x80)
    value >>= 7
  encoded.append(value)
  return bytes(encoded)


def _length_delimited(field_tag: bytes, payload: bytes) -> bytes:
  return field_tag + _varint(len(payload)) + payload


# Tags (field number << 3 | wire type 2, length-delimited) of the fields an Example is made of.
# Example.features, Features.feature (a map entry), the entry's key, Int64List.value:
_FIRST_FIELD = b'\x0a'
_MAP_VALUE = b'\x12'  # the map entry's value
_INT64_LIST = b'\x1a'  # Feature.int64_list


def _int64_feature_entry(key: str, packed_values: bytes) -> bytes:
  """A Features.feature map entry holding an Int64List, given its values' packed varints."""
  int64_list = _length_delimited(_FIRST_FIELD, packed_values)
  entry = (_length_delimited(_FIRST_FIELD, key.encode()) +
           _length_delimited(_MAP_VALUE, _length_delimited(_INT64_LIST, int64_list)))
  return _length_delimited(_FIRST_FIELD, entry)


def _wire_encode(images: np.ndarray, labels: np.ndarray) -> Iterator[bytes]:
  """Labelled uint8 images [N, 28, 28] as serialized tf.Examples: ExampleGen's former encoder,
  the protobuf wire format written with numpy, kept here only to be measured. A pixel below 128
  is a one-byte varint, any other the two bytes (low 7 bits | 0x80, pixel >> 7). Everything
  around an image's varints depends only on their length, so each record is a cached head, the
  label's entry, the image entry's cached head and the varints."""
  pixels = images.reshape(len(images), -1)
  two_bytes = pixels >= 0x80
  varints = np.stack([np.where(two_bytes, pixels & 0x7F | 0x80, pixels).astype(np.uint8),
                      (pixels >> 7).astype(np.uint8)], axis=-1)
  used = np.stack([np.ones_like(two_bytes), two_bytes], axis=-1)
  all_varints = memoryview(varints[used].tobytes())
  ends = np.cumsum(pixels.shape[1] + two_bytes.sum(axis=1))
  label_entries = [_int64_feature_entry(features.LABEL_KEY, _varint(label))
                   for label in range(features.NUM_CLASSES)]
  heads = {}  # varints' length -> (the record's bytes before the label entry, the image entry's
  # bytes before its varints)

  def head(length: int) -> Tuple[bytes, bytes]:
    # Built from a placeholder image entry. The Example's length counts the label entry too: the
    # same for every label (0-9 are one byte).
    if length not in heads:
      image_entry = _int64_feature_entry(features.IMAGE_KEY, b'\0' * length)
      features_length = len(label_entries[0]) + len(image_entry)
      heads[length] = (_FIRST_FIELD + _varint(features_length),
                       image_entry[:len(image_entry) - length])
    return heads[length]

  start = 0
  for end, label in zip(ends.tolist(), labels.tolist()):
    record_head, image_head = head(end - start)
    yield record_head + label_entries[label] + image_head + all_varints[start:end]
    start = end


def _timed(encode, images, labels, repeats: int):
  seconds, records = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    records = list(encode(images, labels))
    seconds.append(time.perf_counter() - start)
  return seconds, records


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--repeats', type=int, default=5)
  args = parser.parse_args()
  images, labels = idx.read_split(DATA_DIR / dataset.TRAIN.images_file,
                                  DATA_DIR / dataset.TRAIN.labels_file)
  results, outputs = {}, {}
  for name, encode in (('hand-written wire encoder', _wire_encode),
                       ("tfx_bsl's RecordBatchToExamplesEncoder", examples.serialize)):
    seconds, outputs[name] = _timed(encode, images, labels, args.repeats)
    results[name] = timing.figures(seconds)
  ours, library = outputs.values()
  identical = ours == library
  same_messages = all(example_pb2.Example.FromString(a) == example_pb2.Example.FromString(b)
                      for a, b in zip(ours, library)) and len(ours) == len(library)
  print(f'{len(images)} images, {args.repeats} runs each; the same messages: {same_messages}; '
        f'the same bytes (in this process\'s feature order): {identical}')
  timing.print_table('encoder', results)
  print(timing.write_results('example-encoder', images=len(images), repeats=args.repeats,
                             same_messages=same_messages, identical_bytes=identical,
                             results=results))


if __name__ == '__main__':
  main()
