"""Publishing a model version: numbered, increasing, never visible half-written."""

import os

from components import pusher


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
  first = pusher.publish(str(_model(tmp_path)), str(serving))
  second = pusher.publish(str(_model(tmp_path)), str(serving))
  assert int(os.path.basename(first)) == 100000000000
  assert int(os.path.basename(second)) == 100000000001


def test_a_push_killed_part_way_leaves_only_a_hidden_staging_dir_which_is_cleaned(tmp_path):
  serving = tmp_path / 'serving'
  stale = serving / '.1234.incomplete'
  stale.mkdir(parents=True)
  (stale / 'saved_model.pb').write_bytes(b'half')
  path = pusher.publish(str(_model(tmp_path)), str(serving))
  assert sorted(os.listdir(serving)) == [os.path.basename(path)]

