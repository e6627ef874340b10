"""Realistic report content: TFDV statistics computed from generated tf.Examples like the
pipeline's, with the project's schema (so the label is categorical, as in StatisticsGen), a
model section with a random confusion matrix, and generated pictures."""

import dataclasses

import numpy as np
import pytest
import tensorflow_data_validation as tfdv

from fashion_mnist import features
from helpers import REPO_ROOT, compute_statistics, generated_split, make_images
from report.content import (ClassMetrics, DataSection, DriftCheck, HistoryRun, HistorySection,
                            ModelSection, Pictures, ReportContent, RunInfo, ServingVersion,
                            SplitStatistics)

# Characters that must be escaped, in texts that reach the page.
ANOMALY = 'Feature "label" has values outside 0..9 <10> & more'


@pytest.fixture(scope='session')
def section_ids():
  """The id of every section of a report of a run that trained a model."""
  return ('header', 'data', 'anomalies', 'drift', 'schema', 'model', 'confusion-matrix',
          'training-images', 'test-predictions', 'history')


@pytest.fixture(scope='session')
def schema():
  return tfdv.load_schema_text(str(REPO_ROOT / 'schemas' / 'schema.pbtxt'))


@pytest.fixture(scope='session')
def splits(schema):
  return [SplitStatistics(name, compute_statistics(*generated_split(count, seed), schema))
          for name, count, seed in (('train', 300, 0), ('eval', 100, 1))]


@pytest.fixture(scope='session')
def previous_splits(schema):
  return [SplitStatistics(name, compute_statistics(*generated_split(count, seed, skew=0.3), schema))
          for name, count, seed in (('train', 200, 2), ('eval', 80, 3))]


@pytest.fixture(scope='session')
def pictures():
  rng = np.random.default_rng(4)
  train_labels = np.arange(25) % features.NUM_CLASSES
  test_labels = rng.integers(0, features.NUM_CLASSES, size=15)
  probabilities = rng.dirichlet(np.full(features.NUM_CLASSES, 0.3), size=15)
  probabilities[np.arange(10), test_labels[:10]] += 5  # these right, the rest probably wrong
  probabilities /= probabilities.sum(axis=1, keepdims=True)
  return Pictures(train_images=make_images(train_labels, rng), train_labels=train_labels,
                  test_images=make_images(test_labels, rng), test_labels=test_labels,
                  test_probabilities=probabilities)


@pytest.fixture(scope='session')
def model():
  rng = np.random.default_rng(5)
  matrix = rng.integers(0, 30, size=(features.NUM_CLASSES, features.NUM_CLASSES))
  matrix[np.diag_indices(features.NUM_CLASSES)] = rng.integers(700, 950, size=features.NUM_CLASSES)
  counts = matrix.sum(axis=1)
  per_class = [ClassMetrics(name, precision=matrix[i, i] / matrix[:, i].sum(),
                            recall=matrix[i, i] / counts[i], count=int(counts[i]))
               for i, name in enumerate(features.CLASS_NAMES)]
  accuracy = float(np.trace(matrix) / matrix.sum())
  return ModelSection(accuracy=accuracy, loss=0.3456, example_count=int(matrix.sum()),
                      per_class=per_class, confusion_matrix=matrix, blessed=False,
                      accuracy_threshold=0.85, baseline_accuracy=accuracy + 0.0123,
                      blessing_reasons=['Accuracy is below the baseline <model 17>.'])


@pytest.fixture(scope='session')
def history(model) -> HistorySection:
  """The last 50 of 70 runs: evaluated ones (some blessed and pushed), stopped and killed ones,
  this run last, compared with a baseline pushed ten runs before."""
  rng = np.random.default_rng(6)
  runs = []
  for i in range(50):
    kind = ('stopped', 'killed')[i % 2] if i % 7 == 3 else 'evaluated'
    accuracy = float(rng.uniform(0.84, 0.9)) if kind == 'evaluated' else None
    blessed = None if accuracy is None else accuracy > 0.87
    runs.append(HistoryRun(
        run_id=f'2026-11-{1 + i // 24:02d}T{i % 24:02d}:00:00.000000', accuracy=accuracy,
        blessed=blessed, pushed_version=str(1796000000 + i) if blessed else None,
        states='5 ran, killed in Trainer' if kind == 'killed' else 'all ran',
        note='stopped at the data gate' if kind == 'stopped' else ''))
  runs[-1] = HistoryRun(run_id='2026-11-29T20:48:13', accuracy=model.accuracy, blessed=False,
                        pushed_version=None, states='all ran', is_this_run=True)
  runs[39] = HistoryRun(run_id=runs[39].run_id, accuracy=model.baseline_accuracy, blessed=True,
                        pushed_version='1796000039', states='all ran', is_baseline=True)
  return HistorySection(
      runs=runs, total_runs=70, accuracy_threshold=0.85,
      baseline_accuracy=model.baseline_accuracy, baseline_version='1796000039',
      serving_versions=[ServingVersion('1796000039', present=True, removed=False,
                                       run_id=runs[39].run_id),
                        ServingVersion('1795990000', present=False, removed=True)])


@pytest.fixture(scope='session')
def content(schema, splits, previous_splits, pictures, model, history) -> ReportContent:
  """A run that trained a model, with anomalies, a previous run and drift checks."""
  run = RunInfo(run_id='2026-11-29T20:48:13', time='2026-11-29 20:48 UTC',
                data_source='/data/fashion-mnist', model_version=None, pushed_path=None,
                outcome='not blessed: accuracy below the baseline')
  drift = [DriftCheck('train', features.LABEL_KEY, 'L-infinity distance', 0.21, 0.1),
           DriftCheck('eval', features.LABEL_KEY, 'L-infinity distance', 0.04, 0.1)]
  data = DataSection(splits=splits, schema=schema, anomalies=[ANOMALY], gate_passed=True,
                     anomalies_accepted=True, previous_splits=previous_splits, drift=drift)
  return ReportContent(run=run, data=data, pictures=pictures, model=model, history=history)


@pytest.fixture(scope='session')
def gate_stopped(content) -> ReportContent:
  """A run stopped at the data gate: no model, no predictions, no previous run."""
  return dataclasses.replace(
      content, model=None,
      run=dataclasses.replace(content.run, outcome='stopped at the data gate'),
      pictures=dataclasses.replace(content.pictures, test_probabilities=None),
      data=dataclasses.replace(content.data, gate_passed=False, anomalies_accepted=False,
                               previous_splits=None, drift=()))


@pytest.fixture(scope='session')
def statistics_of():
  return compute_statistics


@pytest.fixture(scope='session')
def make_split():
  return generated_split
