"""Filling a report from a run's artifacts as the pipeline writes them: ExampleGen's tf.Examples
(the first images, in file order), StatisticsGen's statistics of this and the previous run, the
schema, and the data gate's verdict; here a run the gate stopped, so no model part."""

import os

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from components import idx_example_gen
from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx
from helpers import REPO_ROOT, compute_statistics, write_dataset
from report import gather

_SPLITS = ('train', 'eval')
_PROBLEM = 'train split, feature "label": The Linfty distance is 0.4 (up to 0.1 allowed)'


def _write_statistics(uri, by_split):
  for split, (images, labels) in by_split.items():
    os.makedirs(os.path.join(uri, f'Split-{split}'))
    with open(os.path.join(uri, f'Split-{split}', 'FeatureStats.pb'), 'wb') as f:
      f.write(statistics_pb2.DatasetFeatureStatisticsList(
          datasets=[compute_statistics(images, labels)]).SerializeToString())
  return str(uri)


@pytest.fixture
def run(tmp_path):
  data_dir = write_dataset(tmp_path / 'data', num_train=60, num_test=30)
  by_split = {}
  for split in _SPLITS:
    files = idx.find_split_files(data_dir, dataset.SPLIT_PATTERNS[split])
    for shard in range(idx_example_gen.SHARDS_PER_SPLIT):
      idx_example_gen.write_shard(shard, files, str(tmp_path / 'examples' / f'Split-{split}'))
    by_split[split] = idx.read_split(*files)
  previous = {split: (images[::-1], labels[::-1]) for split, (images, labels) in by_split.items()}
  return by_split, gather.RunArtifacts(
      run_id='run-7', time='2026-12-02 03:00:00 UTC', data_source=str(data_dir),
      accuracy_threshold=0.85, examples_uri=str(tmp_path / 'examples'), split_names=_SPLITS,
      statistics_uri=_write_statistics(tmp_path / 'statistics', by_split),
      schema_uri=str(REPO_ROOT / 'schemas'), gate_passed=False, anomalies_accepted=False,
      problems=[_PROBLEM],
      drift=[{'split': 'train', 'feature': 'label', 'measure': 'L-infinity distance',
              'value': 0.4, 'threshold': 0.1}],
      previous_statistics_uri=_write_statistics(tmp_path / 'previous', previous))


def test_pictures_are_the_first_images_of_each_split_in_file_order(run):
  by_split, artifacts = run
  pictures = gather.build(artifacts).pictures
  train_images, train_labels = by_split['train']
  test_images, test_labels = by_split['eval']
  np.testing.assert_array_equal(pictures.train_images, train_images[:gather.NUM_TRAIN_PICTURES])
  np.testing.assert_array_equal(pictures.train_labels, train_labels[:gather.NUM_TRAIN_PICTURES])
  np.testing.assert_array_equal(pictures.test_images, test_images[:gather.NUM_TEST_PICTURES])
  np.testing.assert_array_equal(pictures.test_labels, test_labels[:gather.NUM_TEST_PICTURES])
  assert pictures.test_probabilities is None  # no model


def test_data_section_holds_both_runs_statistics_the_schema_and_the_verdict(run):
  by_split, artifacts = run
  content = gather.build(artifacts)
  data = content.data
  assert [s.split for s in data.splits] == list(_SPLITS)
  assert [s.statistics.num_examples for s in data.splits] == [60, 30]
  assert [s.split for s in data.previous_splits] == list(_SPLITS)
  assert {f.name for f in data.schema.feature} == {features.IMAGE_KEY, features.LABEL_KEY}
  assert list(data.anomalies) == [_PROBLEM] and data.gate_passed is False
  (drift,) = data.drift
  assert drift.exceeded and drift.feature == 'label'
  assert content.model is None
  assert content.run.outcome == 'stopped at the data gate: nothing was trained or pushed'
  assert content.run.model_version is None
