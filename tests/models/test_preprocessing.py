"""preprocessing_fn run through TF Transform on Beam: pixels scaled by 1/255, labels kept."""

import numpy as np
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata
from tensorflow_transform.tf_metadata import schema_utils

from models import preprocessing
from fashion_mnist import examples
from fashion_mnist import features


def test_scales_pixels_to_unit_range_and_reshapes(tmp_path):
  raw_metadata = dataset_metadata.DatasetMetadata(
      schema_utils.schema_from_feature_spec(examples.feature_spec()))
  pixels = np.arange(features.NUM_PIXELS) % 256
  raw = [{features.IMAGE_KEY: pixels, features.LABEL_KEY: 7},
         {features.IMAGE_KEY: np.full(features.NUM_PIXELS, 255), features.LABEL_KEY: 0}]
  with tft_beam.Context(temp_dir=str(tmp_path)):
    (transformed, transformed_metadata), _ = (
        (raw, raw_metadata) | tft_beam.AnalyzeAndTransformDataset(preprocessing.preprocessing_fn))
  first, second = transformed
  assert first[features.IMAGE_KEY].dtype == np.float32
  np.testing.assert_allclose(np.asarray(first[features.IMAGE_KEY]).reshape(-1), pixels / 255.0,
                             rtol=1e-6)
  np.testing.assert_allclose(second[features.IMAGE_KEY], 1.0)
  assert (first[features.LABEL_KEY], second[features.LABEL_KEY]) == (7, 0)
  image_spec = transformed_metadata.schema  # the transformed schema says [28, 28] floats
  shape = [dim.size for dim in next(f for f in image_spec.feature
                                    if f.name == features.IMAGE_KEY).shape.dim]
  assert shape == list(features.IMAGE_SHAPE)
