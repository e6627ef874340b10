"""Acceptance: the default pipeline on all 70,000 real images (a few minutes)."""

import numpy as np
import pytest

from helpers import call_saved_model, run_cli
from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx
from pipeline import configs
from mlmd import run_summary

pytestmark = pytest.mark.acceptance


def test_default_pipeline_blesses_and_pushes_a_model_as_good_as_the_tutorials(
    real_data_dir, tmp_path):
  result = run_cli('run', '--data-dir', str(real_data_dir), '--output-dir', str(tmp_path))
  assert result.returncode == 0, result.stderr[-5000:]
  summary = run_summary.summarize(configs.build(output_dir=tmp_path, environ={}))
  print(summary.format(configs.DEFAULT_ACCURACY_THRESHOLD))
  assert summary.example_count == 10_000
  assert summary.accuracy >= 0.87
  assert summary.blessed and summary.pushed_path
  assert summary.gate_passed and not summary.problems
  report = open(summary.report_path, encoding='utf-8').read()
  for section in ('header', 'data', 'anomalies', 'drift', 'schema', 'model', 'confusion-matrix',
                  'training-images', 'test-predictions'):
    assert f'id="{section}"' in report

  images = idx.read_images(real_data_dir / dataset.TEST.images_file)[:2]
  outputs = call_saved_model(summary.pushed_path, features.IMAGES_SIGNATURE,
                             images=images.astype(np.float32))
  # As in the tutorial: the first test image is an ankle boot, the second a pullover.
  assert outputs[features.CLASS_ID_KEY].tolist() == [9, 2]
  assert [n.decode() for n in outputs[features.CLASS_NAME_KEY]] == ['Ankle boot', 'Pullover']
