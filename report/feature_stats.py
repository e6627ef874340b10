"""Reads what the report shows out of TFDV's statistics of one split.

In: a DatasetFeatureStatistics proto (StatisticsGen's output for one split).
Out: the label distribution by class name, and the summary and histogram of the pixel values.
"""

import dataclasses
import math
from typing import Dict, Optional, Sequence

from tensorflow_metadata.proto.v0 import statistics_pb2

from fashion_mnist import features

Histogram = statistics_pb2.Histogram


@dataclasses.dataclass(frozen=True)
class PixelSummary:
  mean: float
  std: float
  min: float
  max: float
  zeros_fraction: float  # of all pixel values, not of images


def find_feature(statistics: statistics_pb2.DatasetFeatureStatistics,
                 key: str) -> Optional[statistics_pb2.FeatureNameStatistics]:
  """The feature's statistics, named by path (current TFDV) or by name (older statistics)."""
  for feature in statistics.features:
    if list(feature.path.step) == [key] or feature.name == key:
      return feature
  return None


def class_name(label: int) -> str:
  """The class name of a label, or the raw label when it is not a Fashion-MNIST class."""
  return features.CLASS_NAMES[label] if 0 <= label < features.NUM_CLASSES else f'label {label}'


def label_distribution(
    statistics: statistics_pb2.DatasetFeatureStatistics) -> Optional[Dict[str, int]]:
  """Examples per class, in class order, then any label outside the classes; None when the
  statistics have no label or do not tell single classes apart.

  The schema marks the label categorical, so TFDV gives string_stats (a rank histogram and top
  values); without that it gives num_stats, whose histograms only resolve single classes when no
  bucket holds two of them (TFDV's default ten buckets over 0-9 do).
  """
  feature = find_feature(statistics, features.LABEL_KEY)
  if feature is None:
    return None
  if feature.HasField('string_stats'):
    counts = _categorical_counts(feature.string_stats)
  elif feature.HasField('num_stats'):
    counts = _histogram_counts(feature.num_stats)
  else:
    counts = None
  if counts is None:
    return None
  others = sorted(label for label in counts if not 0 <= label < features.NUM_CLASSES)
  return {class_name(label): counts.get(label, 0)
          for label in [*range(features.NUM_CLASSES), *others]}


def _categorical_counts(stats: statistics_pb2.StringStatistics) -> Optional[Dict[int, int]]:
  # The rank histogram keeps up to 1000 values, top_values only the most frequent 20.
  buckets = [(b.label, b.sample_count) for b in stats.rank_histogram.buckets]
  buckets = buckets or [(v.value, v.frequency) for v in stats.top_values]
  if not buckets:
    return None
  counts = {}
  for value, count in buckets:
    try:
      label = int(value)
    except ValueError:
      return None
    counts[label] = counts.get(label, 0) + int(round(count))
  return counts


def _histogram_counts(stats: statistics_pb2.NumericStatistics) -> Optional[Dict[int, int]]:
  histogram = _histogram_of_type(stats.histograms, Histogram.STANDARD)
  if histogram is None:
    return None
  counts = {}
  last = len(histogram.buckets) - 1
  for i, bucket in enumerate(histogram.buckets):
    # TFDV puts v in the bucket low <= v < high, the last bucket also taking v == high.
    spanned = range(math.ceil(bucket.low_value), math.floor(bucket.high_value) + 1)
    labels = [label for label in spanned
              if label < bucket.high_value or (i == last and label == bucket.high_value)]
    if len(labels) > 1:
      return None
    if labels:
      counts[labels[0]] = int(round(bucket.sample_count))
    elif bucket.sample_count:
      return None
  return counts


def pixel_summary(statistics: statistics_pb2.DatasetFeatureStatistics) -> Optional[PixelSummary]:
  """Mean, std, min, max and fraction of zeros of all pixel values; None without the image."""
  feature = find_feature(statistics, features.IMAGE_KEY)
  if feature is None or not feature.HasField('num_stats'):
    return None
  stats = feature.num_stats
  total = stats.common_stats.tot_num_values
  return PixelSummary(mean=stats.mean, std=stats.std_dev, min=stats.min, max=stats.max,
                      zeros_fraction=stats.num_zeros / total if total else 0.0)


def pixel_histogram(statistics: statistics_pb2.DatasetFeatureStatistics) -> Optional[Histogram]:
  """The standard histogram of the pixel values, else the quantiles one; None without either."""
  feature = find_feature(statistics, features.IMAGE_KEY)
  if feature is None or not feature.HasField('num_stats'):
    return None
  histograms = feature.num_stats.histograms
  return (_histogram_of_type(histograms, Histogram.STANDARD)
          or _histogram_of_type(histograms, Histogram.QUANTILES))


def _histogram_of_type(histograms: Sequence[Histogram], kind: int) -> Optional[Histogram]:
  for histogram in histograms:
    if histogram.type == kind and histogram.buckets:
      return histogram
  return None
