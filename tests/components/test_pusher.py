"""Publishing a model version: numbered, increasing, never visible half-written."""

import os
from pathlib import Path

import numpy as np
import tensorflow as tf
from tensorflow.core.example import example_pb2
from tensorflow_serving.apis import prediction_log_pb2

from components import pusher
from fashion_mnist import features


def _model(tmp_path):
  model = tmp_path / 'model'
  (model / 'variables').mkdir(parents=True, exist_ok=True)
  (model / 'saved_model.pb').write_bytes(b'graph')
  (model / 'variables' / 'variables.index').write_bytes(b'index')
  return model


def test_publish_copies_the_whole_model_into_a_new_numbered_version(tmp_path):
  serving = tmp_path / 'serving'
  path = pusher.publish(str(_model(tmp_path)), str(serving))
  assert os.path.dirname(path) == str(serving) and os.path.basename(path).isdigit()
  copied = serving / os.path.basename(path) / 'variables' / 'variables.index'
  assert copied.read_bytes() == b'index'
  assert sorted(os.listdir(serving)) == [os.path.basename(path)]  # no staging dir left behind


def test_versions_always_increase_even_when_the_clock_is_behind(tmp_path):
  serving = tmp_path / 'serving'
  (serving / '99999999999').mkdir(parents=True)
  model = _model(tmp_path)
  first = pusher.publish(str(model), str(serving))
  (model / 'saved_model.pb').write_bytes(b'retrained graph')
  second = pusher.publish(str(model), str(serving))
  assert int(os.path.basename(first)) == 100000000000
  assert int(os.path.basename(second)) == 100000000001


def test_a_push_killed_part_way_leaves_only_a_hidden_staging_dir_which_is_cleaned(tmp_path):
  serving = tmp_path / 'serving'
  stale = serving / '.1234.incomplete'
  stale.mkdir(parents=True)
  (stale / 'saved_model.pb').write_bytes(b'half')
  path = pusher.publish(str(_model(tmp_path)), str(serving))
  assert sorted(os.listdir(serving)) == [os.path.basename(path)]


def test_a_model_identical_to_the_newest_version_is_not_published_again(tmp_path):
  # As after a run killed between the rename and ML Metadata recording the push.
  serving = tmp_path / 'serving'
  model = _model(tmp_path)
  first = pusher.publish(str(model), str(serving))
  again = pusher.publish(str(model), str(serving))
  assert again == first
  assert sorted(os.listdir(serving)) == [os.path.basename(first)]


def test_a_model_differing_in_one_byte_or_one_file_is_a_new_version(tmp_path):
  serving = tmp_path / 'serving'
  model = _model(tmp_path)
  versions = {pusher.publish(str(model), str(serving))}
  (model / 'variables' / 'variables.index').write_bytes(b'indeX')
  versions.add(pusher.publish(str(model), str(serving)))
  (model / 'assets').mkdir()
  (model / 'assets' / 'vocabulary').write_bytes(b'')
  versions.add(pusher.publish(str(model), str(serving)))
  assert len(versions) == 3 and sorted(os.listdir(serving)) == sorted(
      os.path.basename(path) for path in versions)


def test_only_the_newest_version_counts_as_already_pushed(tmp_path):
  # Going back to an older model is a new push: serving takes the newest version.
  serving = tmp_path / 'serving'
  model = _model(tmp_path)
  first = pusher.publish(str(model), str(serving))
  (model / 'saved_model.pb').write_bytes(b'other graph')
  pusher.publish(str(model), str(serving))
  (model / 'saved_model.pb').write_bytes(b'graph')
  third = pusher.publish(str(model), str(serving))
  assert int(os.path.basename(third)) > int(os.path.basename(first))
  assert pusher.model_digest(third) == pusher.model_digest(first)


def test_each_pushed_version_has_tf_servings_warmup_requests_for_both_signatures(tmp_path):
  path = Path(pusher.publish(str(_model(tmp_path)), str(tmp_path / 'serving')))
  records = list(tf.data.TFRecordDataset(str(path / 'assets.extra' /
                                             'tf_serving_warmup_requests')).as_numpy_iterator())
  logs = [prediction_log_pb2.PredictionLog.FromString(record) for record in records]
  requests = {log.predict_log.request.model_spec.signature_name: log.predict_log.request
              for log in logs}
  assert set(requests) == {features.EXAMPLES_SIGNATURE, features.IMAGES_SIGNATURE}
  images = tf.make_ndarray(requests[features.IMAGES_SIGNATURE].inputs[features.IMAGES_INPUT_KEY])
  assert images.shape == (1, *features.IMAGE_SHAPE) and images.dtype == np.float32
  (example,) = tf.make_ndarray(
      requests[features.EXAMPLES_SIGNATURE].inputs[features.EXAMPLES_INPUT_KEY])
  pixels = example_pb2.Example.FromString(example).features.feature[features.IMAGE_KEY]
  assert len(pixels.int64_list.value) == features.NUM_PIXELS
