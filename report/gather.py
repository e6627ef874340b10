"""Fills a ReportContent from a run's artifacts (their folders and properties).

In: RunArtifacts, the places and values a report needs, which the report component takes from its
inputs and `fashion-pipeline report` from ML Metadata. Out: ReportContent.
"""

import dataclasses
import glob
import os
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_data_validation as tfdv
from tfx.components.schema_gen import executor as schema_gen_executor
from tfx.components.statistics_gen import stats_artifact_utils
from tfx.utils import path_utils

from fashion_mnist import examples
from fashion_mnist import features
from report import content
from report import evaluation_results

NUM_TRAIN_PICTURES = 25  # the tutorial's 5x5 grid
NUM_TEST_PICTURES = 15  # the tutorial's 5x3 grid of predictions



@dataclasses.dataclass(frozen=True)
class RunArtifacts:
  """What a report is made from. URIs are artifact folders; None: the run did not produce it."""
  run_id: str
  time: str
  data_source: str
  accuracy_threshold: float
  examples_uri: str
  split_names: Sequence[str]
  statistics_uri: str
  schema_uri: str
  gate_passed: bool
  anomalies_accepted: bool
  problems: Sequence[str]
  drift: Sequence[dict]  # as the data gate records them
  previous_statistics_uri: Optional[str] = None
  model_uri: Optional[str] = None
  evaluation_uri: Optional[str] = None
  blessed: Optional[bool] = None
  pushed_path: Optional[str] = None
  history: Optional[content.HistorySection] = None  # None: no ML Metadata to read


def _split_statistics(statistics_uri: str, split_names: Sequence[str]):
  splits = []
  for split in split_names:
    path = os.path.join(statistics_uri, f'Split-{split}', stats_artifact_utils.BINARY_PB_BASENAME)
    if os.path.exists(path):
      splits.append(content.SplitStatistics(split, tfdv.load_stats_binary(path).datasets[0]))
  return splits


def _first_examples(examples_uri: str, split: str, count: int):
  """The first `count` images and labels of a split, in the order ExampleGen wrote them."""
  files = sorted(glob.glob(os.path.join(examples_uri, f'Split-{split}', '*')))
  return examples.decode(
      tf.data.TFRecordDataset(files, compression_type='GZIP').take(count).as_numpy_iterator())


def _predict(model_uri: str, images: np.ndarray) -> np.ndarray:
  model = tf.saved_model.load(path_utils.serving_model_path(model_uri))
  outputs = model.signatures[features.IMAGES_SIGNATURE](
      **{features.IMAGES_INPUT_KEY: tf.constant(images, tf.float32)})
  return outputs[features.PROBABILITIES_KEY].numpy()


def _model_section(evaluation_uri: str, accuracy_threshold: float,
                   blessed: bool) -> content.ModelSection:
  result = evaluation_results.load(evaluation_uri)
  summary = result.summary
  counts = result.confusion_matrix.sum(axis=1)
  return content.ModelSection(
      accuracy=summary.accuracy, loss=summary.loss, example_count=summary.example_count,
      per_class=[
          content.ClassMetrics(name, result.precision[k], result.recall[k], int(counts[k]))
          for k, name in enumerate(features.CLASS_NAMES)
      ],
      confusion_matrix=result.confusion_matrix,
      blessed=blessed, accuracy_threshold=accuracy_threshold,
      baseline_accuracy=summary.baseline_accuracy,
      blessing_reasons=summary.blessing_failures)


def outcome(run: RunArtifacts) -> str:
  """One line saying what came of the run."""
  if not run.gate_passed:
    return 'stopped at the data gate: nothing was trained or pushed'
  if run.pushed_path:
    return f'blessed and pushed as version {os.path.basename(run.pushed_path)}'
  if run.blessed is False:
    return 'trained and evaluated, not blessed: nothing pushed'
  return 'nothing pushed'


def build(run: RunArtifacts) -> content.ReportContent:
  train_split, eval_split = run.split_names[0], run.split_names[-1]
  train_images, train_labels = _first_examples(run.examples_uri, train_split, NUM_TRAIN_PICTURES)
  test_images, test_labels = _first_examples(run.examples_uri, eval_split, NUM_TEST_PICTURES)
  previous = (_split_statistics(run.previous_statistics_uri, run.split_names)
              if run.previous_statistics_uri else None)
  return content.ReportContent(
      run=content.RunInfo(
          run_id=run.run_id, time=run.time, data_source=run.data_source,
          model_version=os.path.basename(run.pushed_path) if run.pushed_path else None,
          pushed_path=run.pushed_path, outcome=outcome(run)),
      data=content.DataSection(
          splits=_split_statistics(run.statistics_uri, run.split_names),
          schema=tfdv.load_schema_text(
              os.path.join(run.schema_uri, schema_gen_executor.DEFAULT_FILE_NAME)),
          anomalies=list(run.problems),
          gate_passed=run.gate_passed,
          anomalies_accepted=run.anomalies_accepted,
          previous_splits=previous,
          drift=[content.DriftCheck(**check) for check in run.drift]),
      pictures=content.Pictures(
          train_images=train_images, train_labels=train_labels,
          test_images=test_images, test_labels=test_labels,
          test_probabilities=_predict(run.model_uri, test_images) if run.model_uri else None),
      model=(_model_section(run.evaluation_uri, run.accuracy_threshold, bool(run.blessed))
             if run.evaluation_uri else None),
      history=run.history)
