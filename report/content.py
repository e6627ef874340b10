"""Everything a run report shows, as plain data: filled from the run's artifacts, drawn by render.

Kept free of TFX and ML Metadata so that it can be built in tests and by `fashion-pipeline report`.
"""

import dataclasses
from typing import Optional, Sequence

import numpy as np
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_metadata.proto.v0 import statistics_pb2


@dataclasses.dataclass(frozen=True)
class RunInfo:
  """The header: which run, when, on what data, and what came of it."""
  run_id: str
  time: str  # when the report was written, for people (e.g. '2026-11-29 20:48:13 UTC')
  data_source: str  # the folder (or other source) the examples came from
  model_version: Optional[str]  # the pushed version, or None when nothing was pushed
  pushed_path: Optional[str]
  outcome: str  # one line: 'pushed', 'not blessed', 'stopped at the data gate', ...


@dataclasses.dataclass(frozen=True)
class SplitStatistics:
  """TFDV's statistics of one split (StatisticsGen's output), e.g. 'train' or 'eval'."""
  split: str
  statistics: statistics_pb2.DatasetFeatureStatistics


@dataclasses.dataclass(frozen=True)
class DriftCheck:
  """One drift comparison between this run's data and the previous run's."""
  split: str
  feature: str
  measure: str  # 'L-infinity distance' or 'Jensen-Shannon divergence'
  value: float
  threshold: float

  @property
  def exceeded(self) -> bool:
    return self.value > self.threshold


@dataclasses.dataclass(frozen=True)
class DataSection:
  splits: Sequence[SplitStatistics]
  schema: schema_pb2.Schema
  anomalies: Sequence[str]  # one sentence each, for people; empty: none found
  gate_passed: bool  # False: the run stopped before Transform and Trainer
  anomalies_accepted: bool  # True: a person accepted known anomalies for this run
  previous_splits: Optional[Sequence[SplitStatistics]] = None  # None: no previous run
  drift: Sequence[DriftCheck] = ()


@dataclasses.dataclass(frozen=True)
class ClassMetrics:
  name: str
  precision: float
  recall: float
  count: int  # test examples with this true label


@dataclasses.dataclass(frozen=True)
class ModelSection:
  accuracy: float
  loss: float
  example_count: int
  per_class: Sequence[ClassMetrics]
  confusion_matrix: np.ndarray  # [10, 10] counts, rows the true class, columns the predicted one
  blessed: bool
  accuracy_threshold: float
  baseline_accuracy: Optional[float]  # None: no baseline (first blessed model)
  blessing_reasons: Sequence[str]  # why not blessed, one sentence each; empty when blessed


@dataclasses.dataclass(frozen=True)
class Pictures:
  """The tutorial's pictures: training images with class names, test images with predictions."""
  train_images: np.ndarray  # [25, 28, 28] uint8
  train_labels: np.ndarray  # [25]
  test_images: np.ndarray  # [15, 28, 28] uint8
  test_labels: np.ndarray  # [15]
  test_probabilities: Optional[np.ndarray] = None  # [15, 10]; None when no model was trained


@dataclasses.dataclass(frozen=True)
class HistoryRun:
  """One of the last runs, as `fashion-pipeline runs` shows it."""
  run_id: str
  accuracy: Optional[float]  # None: not evaluated (stopped, killed) or its evaluation removed
  blessed: Optional[bool]
  pushed_version: Optional[str]
  states: str  # 'all ran', '5 ran, killed in Trainer', ...
  note: str = ''  # 'stopped at the data gate', 'files removed', ...
  is_this_run: bool = False
  is_baseline: bool = False  # the run whose model this run was compared with


@dataclasses.dataclass(frozen=True)
class ServingVersion:
  version: str
  present: bool  # its folder is in the serving dir
  removed: bool  # ML Metadata records its files removed
  run_id: Optional[str] = None  # the run that pushed it, when among the runs shown


@dataclasses.dataclass(frozen=True)
class HistorySection:
  runs: Sequence[HistoryRun]  # the last ones, oldest first
  total_runs: int  # every run recorded
  accuracy_threshold: float
  baseline_accuracy: Optional[float]  # this run's baseline; None: none (or not evaluated)
  baseline_version: Optional[str]
  serving_versions: Sequence[ServingVersion]  # newest first


@dataclasses.dataclass(frozen=True)
class ReportContent:
  run: RunInfo
  data: DataSection
  pictures: Pictures
  model: Optional[ModelSection] = None  # None when the run stopped before training
  history: Optional[HistorySection] = None  # None: no ML Metadata to read (Kubeflow)
