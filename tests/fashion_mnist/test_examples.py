"""The tf.Example contract: the records hold exactly the image's pixels and the label, as TensorFlow
parses them, and decode gives back the arrays."""

import numpy as np
import tensorflow as tf

from fashion_mnist import examples
from fashion_mnist import features


def _images(count: int) -> np.ndarray:
  images = np.random.default_rng(0).integers(0, 256, size=(count, *features.IMAGE_SHAPE),
                                             dtype=np.uint8)
  images[0] = 0
  images[-1] = features.MAX_PIXEL_VALUE
  return images


def test_a_record_holds_the_784_pixels_and_the_label():
  images, labels = _images(3), np.array([9, 0, 4], np.uint8)
  for image, label, record in zip(images, labels, examples.serialize(images, labels)):
    feature = tf.train.Example.FromString(record).features.feature
    assert sorted(feature) == [features.IMAGE_KEY, features.LABEL_KEY]
    assert list(feature[features.IMAGE_KEY].int64_list.value) == image.reshape(-1).tolist()
    assert list(feature[features.LABEL_KEY].int64_list.value) == [label]


def test_records_without_labels_hold_the_image_only():
  (record,) = examples.serialize(_images(2)[:1].astype(np.float32))
  assert list(tf.train.Example.FromString(record).features.feature) == [features.IMAGE_KEY]


def test_decode_gives_back_the_arrays_across_encoding_batches():
  # More records than one record batch of the encoder, so that batches join in order.
  count = examples._ENCODE_BATCH_SIZE + 7  # pylint: disable=protected-access
  images, labels = _images(count), (np.arange(count) % features.NUM_CLASSES).astype(np.uint8)
  decoded_images, decoded_labels = examples.decode(examples.serialize(images, labels))
  np.testing.assert_array_equal(decoded_images, images)
  np.testing.assert_array_equal(decoded_labels, labels)


def test_the_spec_parses_what_the_serving_signature_is_sent():
  parsed = tf.io.parse_example(list(examples.serialize(_images(2))),
                               examples.feature_spec(with_label=False))
  np.testing.assert_array_equal(parsed[features.IMAGE_KEY].numpy(), _images(2).reshape(2, -1))
