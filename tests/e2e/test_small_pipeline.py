"""The whole pipeline, as the command line runs it, on a few hundred generated images.

The runs build on each other (one output dir): a first run that trains, evaluates and pushes;
a second with nothing changed, run with --rerun, that TFX's cache answers in full; a run on a bad
file that stops before anything and loses nothing; and a worse candidate that the Evaluator
refuses to bless against the first model.
"""

import glob
import hashlib
import shutil

import numpy as np
import pytest
import tensorflow as tf

from components import idx_example_gen
from fashion_mnist import examples as example_contract
from helpers import call_saved_model, run_cli, write_dataset
from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx
from pipeline import configs
from mlmd import run_summary

pytestmark = pytest.mark.e2e

# Resolvers look at ML Metadata afresh on every run; they are never cached.
RESOLVERS = {'previous_statistics_resolver', 'training_window_resolver', 'analyzer_cache_resolver',
             'baseline_model_resolver'}
COMPONENTS = {
    'FileBasedExampleGen', 'StatisticsGen', 'ImportSchemaGen', 'ExampleValidator', 'DataGate',
    'Transform', 'Trainer', 'Evaluator', 'Pusher', 'RunReport', *RESOLVERS
}


@pytest.fixture(scope='module')
def workspace(tmp_path_factory):
  root = tmp_path_factory.mktemp('e2e')
  return write_dataset(root / 'data'), root / 'out'


def _run(data_dir, output_dir, *extra):
  return run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir),
                 '--epochs', '1', '--accuracy-threshold', '0.5', *extra)


def _summary(output_dir):
  return run_summary.summarize(configs.build(output_dir=output_dir, environ={}))


def _versions(output_dir):
  return sorted(p.name for p in (output_dir / 'serving').iterdir())


@pytest.fixture(scope='module')
def first_run(workspace):
  data_dir, output_dir = workspace
  result = _run(data_dir, output_dir)
  assert result.returncode == 0, result.stderr[-5000:]
  return result


@pytest.fixture(scope='module')
def cached_run(workspace, first_run):
  # --rerun: run the pipeline, which TFX's cache answers (without it, nothing changed would be
  # answered from ML Metadata before the pipeline starts: tests/e2e/test_unchanged_runs.py).
  result = _run(*workspace, '--rerun')
  assert result.returncode == 0, result.stderr[-5000:]
  return result


def test_every_component_ran_and_is_recorded_in_ml_metadata(workspace, first_run):
  summary = _summary(workspace[1])
  assert {c.component_id for c in summary.components} == COMPONENTS
  assert all(c.state == 'ran' for c in summary.components), summary.components
  assert summary.blessed and summary.accuracy > 0.5 and summary.example_count == 200
  assert summary.gate_passed and open(summary.report_path, encoding='utf-8').read()
  assert 'Blessed: yes' in first_run.stdout
  assert f'Pushed: {summary.pushed_path}' in first_run.stdout


def test_examples_keep_the_original_order(workspace, first_run):
  data_dir, output_dir = workspace
  records = glob.glob(str(output_dir / 'pipeline_root/FileBasedExampleGen/examples/*/Split-eval/*'))
  assert len(records) == idx_example_gen.SHARDS_PER_SPLIT
  records.sort()
  labels = [
      tf.train.Example.FromString(record.numpy()).features.feature[features.LABEL_KEY]
      .int64_list.value[0] for record in tf.data.TFRecordDataset(records, compression_type='GZIP')
  ]
  assert labels == idx.read_labels(data_dir / dataset.TEST.labels_file).tolist()


def test_pushed_model_serves_both_signatures_in_a_fresh_process(workspace, first_run):
  data_dir, output_dir = workspace
  (version,) = _versions(output_dir)
  images, labels = idx.read_split(data_dir / dataset.TEST.images_file,
                                  data_dir / dataset.TEST.labels_file)
  images, labels = images[:20], labels[:20]
  by_images = call_saved_model(output_dir / 'serving' / version, features.IMAGES_SIGNATURE,
                               images=images.astype(np.float32))
  # dtype object: numpy's fixed-width bytes would strip the trailing NULs of serialized protos.
  examples = np.array(list(example_contract.serialize(images)), dtype=object)
  by_examples = call_saved_model(output_dir / 'serving' / version, features.EXAMPLES_SIGNATURE,
                                 examples=examples)
  for outputs in (by_images, by_examples):
    probabilities = outputs[features.PROBABILITIES_KEY]
    assert probabilities.shape == (20, features.NUM_CLASSES)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(outputs[features.CLASS_ID_KEY], probabilities.argmax(axis=1))
    assert [name.decode() for name in outputs[features.CLASS_NAME_KEY]] == [
        features.CLASS_NAMES[i] for i in outputs[features.CLASS_ID_KEY]]
    # Raw 0-255 pixels in: the transform graph inside the model does the scaling.
    assert (outputs[features.CLASS_ID_KEY] == labels).mean() > 0.5
  np.testing.assert_allclose(by_images[features.PROBABILITIES_KEY],
                             by_examples[features.PROBABILITIES_KEY], rtol=1e-5, atol=1e-6)


def test_training_writes_tensorboard_logs(workspace, first_run):
  assert glob.glob(str(workspace[1] / 'pipeline_root/Trainer/model_run/*/**/events.out.tfevents*'),
                   recursive=True)


def test_a_second_run_with_nothing_changed_is_fully_cached(workspace, cached_run):
  summary = _summary(workspace[1])
  states = {c.component_id: c.state for c in summary.components}
  assert all(state == 'cached' for component, state in states.items()
             if component not in RESOLVERS), states
  assert len(_versions(workspace[1])) == 1
  assert 'Pushed: nothing new' in cached_run.stdout


@pytest.fixture(scope='module')
def bad_data_run(tmp_path_factory, workspace, cached_run):
  _, output_dir = workspace
  bad_dir = tmp_path_factory.mktemp('bad-data')
  shutil.copytree(workspace[0], bad_dir, dirs_exist_ok=True)
  labels = idx.read_labels(bad_dir / dataset.TRAIN.labels_file).copy()
  labels[7] = 10
  idx.write_labels(bad_dir / dataset.TRAIN.labels_file, labels)
  before = (hashlib.sha256((output_dir / 'metadata.sqlite').read_bytes()).hexdigest(),
            _versions(output_dir))
  return _run(bad_dir, output_dir), before


def test_a_bad_file_stops_the_run_with_its_name_and_loses_nothing(workspace, bad_data_run):
  result, (metadata_hash, versions) = bad_data_run
  _, output_dir = workspace
  assert result.returncode == 2
  assert 'train-labels-idx1-ubyte.gz: label 10 at index 7 is outside 0..9' in result.stderr
  assert 'Traceback' not in result.stderr
  assert hashlib.sha256((output_dir / 'metadata.sqlite').read_bytes()).hexdigest() == metadata_hash
  assert _versions(output_dir) == versions


def test_a_worse_candidate_is_not_blessed_and_not_pushed(workspace, bad_data_run):
  _, output_dir = workspace
  versions = _versions(output_dir)
  # A learning rate this small leaves the model near chance: worse than the blessed baseline.
  # Beam with a worker process per core here, so that mode (not the default) is exercised too.
  result = _run(*workspace, '--learning-rate', '1e-9', '--accuracy-threshold', '0',
                '--beam-arg=--direct_running_mode=multi_processing',
                '--beam-arg=--direct_num_workers=2')
  assert result.returncode == 0, result.stderr[-5000:]
  summary = _summary(output_dir)
  assert summary.blessed is False
  assert summary.baseline_accuracy > summary.accuracy
  assert any('from the baseline' in failure for failure in summary.blessing_failures)
  assert 'Blessed: no' in result.stdout and 'Pushed: nothing' in result.stdout
  assert _versions(output_dir) == versions
