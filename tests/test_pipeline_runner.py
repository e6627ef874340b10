"""The command line: bad input gets a clear error and exit code 2, and nothing is produced; the
runner is imported with what it made frozen (left out of garbage collections)."""

import gc

import pipeline_runner
from helpers import run_cli
from fashion_mnist import dataset


def test_bad_magic_names_the_file_and_creates_nothing(small_dataset, tmp_path):
  images = small_dataset / dataset.TEST.images_file
  images.write_bytes((small_dataset / dataset.TEST.labels_file).read_bytes())
  result = run_cli('run', '--data-dir', str(small_dataset), '--output-dir', str(tmp_path / 'out'))
  assert result.returncode == 2
  assert f'{images}: has magic number 0x00000801, expected 0x00000803' in result.stderr
  assert 'Traceback' not in result.stderr
  assert not (tmp_path / 'out').exists()


def test_missing_files_are_listed(tmp_path):
  result = run_cli('run', '--data-dir', str(tmp_path), '--output-dir', str(tmp_path / 'out'))
  assert result.returncode == 2
  assert 'missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz' in result.stderr


def test_out_of_range_setting_is_refused(tmp_path):
  result = run_cli('run', '--epochs', '0', '--output-dir', str(tmp_path / 'out'))
  assert result.returncode == 2
  assert 'epochs must be at least 1' in result.stderr


def test_the_runner_is_imported_with_what_it_made_frozen_and_the_collector_back_on():
  try:
    runner = pipeline_runner._import_runner()  # pylint: disable=protected-access
    assert callable(runner.run)
    assert gc.isenabled()
    assert gc.get_freeze_count() > 100_000  # TensorFlow's, TFX's and Beam's objects among them
  finally:
    gc.unfreeze()
