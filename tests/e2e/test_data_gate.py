"""The data gate on generated data with injected problems: each run stops before Transform and
Trainer, pushes nothing, exits non-zero, and names the problem in its message and its report.
Clean data passes, and a person can accept known anomalies for one run."""

import html

import numpy as np
import pytest

from fashion_mnist import dataset
from fashion_mnist import features
from fashion_mnist import idx
from helpers import make_images, run_cli, write_dataset, write_examples
from pipeline import configs
from mlmd import run_summary

pytestmark = pytest.mark.e2e

FAST = ('--epochs', '1', '--accuracy-threshold', '0.5')


def _clean_examples(count, seed=0):
  rng = np.random.default_rng(seed)
  labels = np.arange(count) % features.NUM_CLASSES
  return [(image.reshape(-1), int(label)) for image, label in zip(make_images(labels, rng), labels)]


def _run(output_dir, *args):
  return run_cli('run', '--output-dir', str(output_dir), *FAST, *args)


def _assert_stopped_at_the_gate(result, output_dir, problem):
  """The run exited 1, trained and pushed nothing, and named `problem` in its output and report."""
  assert result.returncode == 1, result.stderr[-3000:]
  assert 'the run stopped before Transform and Trainer' in result.stdout
  assert problem in result.stdout, result.stdout
  summary = run_summary.summarize(configs.build(output_dir=output_dir, environ={}))
  assert summary.gate_passed is False
  states = {c.component_id: c.state for c in summary.components}
  assert 'Transform' not in states and 'Trainer' not in states and 'Pusher' not in states
  assert not (output_dir / 'serving').exists()
  report = open(summary.report_path, encoding='utf-8').read()
  assert 'Stopped at the data gate' in report
  assert html.escape(problem) in report


@pytest.mark.parametrize('bad_example, problem', [
    ((_clean_examples(1)[0][0], 10), 'feature "label": Unexpectedly large value: 10'),
    ((np.zeros(783, np.int64), 3), 'feature "image": The feature has a shape, but it'),
    ((np.full(784, 300, np.int64), 3), 'feature "image": Unexpectedly large value: 300'),
], ids=['label 10', '783 values', 'pixel above 255'])
def test_bad_examples_stop_at_the_gate(tmp_path, bad_example, problem):
  examples = write_examples(tmp_path / 'examples', {
      'train': _clean_examples(60) + [bad_example], 'eval': _clean_examples(20, seed=1)})
  result = _run(tmp_path / 'out', '--examples-dir', str(examples))
  _assert_stopped_at_the_gate(result, tmp_path / 'out', problem)


@pytest.fixture(scope='module')
def drift_workspace(tmp_path_factory):
  """A clean first run (trained, pushed), then data whose labels collapsed to two classes."""
  root = tmp_path_factory.mktemp('drift')
  first = _run(root / 'out', '--data-dir', str(write_dataset(root / 'clean')))
  assert first.returncode == 0, first.stderr[-3000:]
  collapsed = write_dataset(root / 'collapsed')
  for split in dataset.SPLITS:
    labels = (idx.read_labels(collapsed / split.labels_file) % 2).astype(np.uint8)
    idx.write_labels(collapsed / split.labels_file, labels)
    idx.write_images(collapsed / split.images_file, make_images(labels, np.random.default_rng(1)))
  return root, collapsed


def test_clean_data_passes_the_gate_and_the_report_has_every_section(drift_workspace):
  root, _ = drift_workspace
  summary = run_summary.summarize(configs.build(output_dir=root / 'out', environ={}))
  assert summary.gate_passed is True and summary.problems == [] and summary.pushed_path
  report = open(summary.report_path, encoding='utf-8').read()
  for section in ('header', 'data', 'anomalies', 'drift', 'schema', 'model', 'confusion-matrix',
                  'training-images', 'test-predictions'):
    assert f'id="{section}"' in report
  assert 'No previous run to compare with' in report


def test_a_collapsed_label_distribution_is_drift_and_stops_at_the_gate(drift_workspace):
  root, collapsed = drift_workspace
  versions = sorted(p.name for p in (root / 'out' / 'serving').iterdir())
  result = _run(root / 'out', '--data-dir', str(collapsed))
  assert result.returncode == 1
  assert 'feature "label": The Linfty distance between current and previous is 0.4' in result.stdout
  assert sorted(p.name for p in (root / 'out' / 'serving').iterdir()) == versions
  summary = run_summary.summarize(configs.build(output_dir=root / 'out', environ={}))
  report = open(summary.report_path, encoding='utf-8').read()
  assert 'L-infinity distance' in report and 'Stopped at the data gate' in report


def test_accepting_the_anomalies_lets_one_run_train(drift_workspace):
  root, collapsed = drift_workspace
  result = _run(root / 'out', '--data-dir', str(collapsed), '--accept-anomalies',
                '--accuracy-threshold', '0')
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'accepted for this run (--accept-anomalies)' in result.stdout
  summary = run_summary.summarize(configs.build(output_dir=root / 'out', environ={}))
  assert summary.gate_passed and summary.anomalies_accepted
  assert {c.component_id: c.state for c in summary.components}['Trainer'] == 'ran'
  assert 'Anomalies were accepted' in open(summary.report_path, encoding='utf-8').read()


def test_report_command_rewrites_the_latest_report(drift_workspace, tmp_path):
  root, _ = drift_workspace
  out = tmp_path / 'again.html'
  result = run_cli('report', '--output-dir', str(root / 'out'), '--out', str(out))
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.strip() == str(out)
  page = out.read_text(encoding='utf-8')
  summary = run_summary.summarize(configs.build(output_dir=root / 'out', environ={}))
  assert summary.run_id in page and 'id="test-predictions"' in page
