"""The label distribution and pixel statistics read from real TFDV statistics."""

import numpy as np
import pytest
from tensorflow_metadata.proto.v0 import statistics_pb2

from fashion_mnist import features
from report import feature_stats


@pytest.fixture(scope='module')
def data(make_split):
  return make_split(500, seed=7, skew=0.2)


def expected_distribution(labels):
  return {name: int(np.sum(labels == i)) for i, name in enumerate(features.CLASS_NAMES)}


def test_label_distribution_from_categorical_statistics(data, schema, statistics_of):
  statistics = statistics_of(*data, schema)
  label = feature_stats.find_feature(statistics, features.LABEL_KEY)
  assert label.HasField('string_stats')  # what the schema's is_categorical makes TFDV compute
  assert feature_stats.label_distribution(statistics) == expected_distribution(data[1])


def test_label_distribution_from_top_values_only(data, schema, statistics_of):
  statistics = statistics_of(*data, schema)
  feature_stats.find_feature(statistics, features.LABEL_KEY).string_stats.ClearField(
      'rank_histogram')
  assert feature_stats.label_distribution(statistics) == expected_distribution(data[1])


def test_label_distribution_from_numeric_statistics(data, statistics_of):
  statistics = statistics_of(*data)  # no schema: the label is numeric
  label = feature_stats.find_feature(statistics, features.LABEL_KEY)
  assert label.HasField('num_stats')
  assert feature_stats.label_distribution(statistics) == expected_distribution(data[1])


def test_label_distribution_unresolved_by_wide_buckets(data, statistics_of):
  statistics = statistics_of(*data)
  histograms = feature_stats.find_feature(statistics, features.LABEL_KEY).num_stats.histograms
  del histograms[:]
  histograms.add(type=statistics_pb2.Histogram.STANDARD).buckets.add(
      low_value=0, high_value=9, sample_count=500)
  assert feature_stats.label_distribution(statistics) is None


def test_labels_outside_the_classes_are_shown_as_such(schema, statistics_of, make_split):
  images, labels = make_split(50, seed=8)
  labels[:3] = 12
  distribution = feature_stats.label_distribution(statistics_of(images, labels, schema))
  assert list(distribution)[-1] == 'label 12' and distribution['label 12'] == 3
  assert list(distribution)[:features.NUM_CLASSES] == list(features.CLASS_NAMES)


def test_pixel_summary(data, schema, statistics_of):
  images = data[0]
  summary = feature_stats.pixel_summary(statistics_of(*data, schema))
  assert summary.mean == pytest.approx(images.mean())
  assert summary.std == pytest.approx(images.std(), rel=1e-3)
  assert (summary.min, summary.max) == (images.min(), images.max())
  assert summary.zeros_fraction == pytest.approx(np.mean(images == 0))


def test_pixel_histogram_standard_else_quantiles(data, schema, statistics_of):
  statistics = statistics_of(*data, schema)
  histogram = feature_stats.pixel_histogram(statistics)
  assert histogram.type == statistics_pb2.Histogram.STANDARD
  assert sum(b.sample_count for b in histogram.buckets) == pytest.approx(data[0].size, rel=1e-3)
  histograms = feature_stats.find_feature(statistics, features.IMAGE_KEY).num_stats.histograms
  histograms.remove(histogram)
  assert feature_stats.pixel_histogram(statistics).type == statistics_pb2.Histogram.QUANTILES


def test_missing_features():
  statistics = statistics_pb2.DatasetFeatureStatistics(num_examples=3)
  assert feature_stats.label_distribution(statistics) is None
  assert feature_stats.pixel_summary(statistics) is None
  assert feature_stats.pixel_histogram(statistics) is None
