"""The checks before a run, on a real ML Metadata store: which data the run reads (the newest span
and the backfill), every IDX file of it read and checked, and the errors that refuse a run."""

import shutil

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from fashion_mnist import dataset
from fashion_mnist import idx
from helpers import write_dataset
from metadata_builder import MetadataBuilder
from mlmd import names
from pipeline import configs
from pipeline import faults
from pipeline import preflight


def _spans(tmp_path, *numbers):
  source = write_dataset(tmp_path / 'source', num_train=20, num_test=10)
  for span in numbers:
    shutil.copytree(source, tmp_path / 'spans' / f'{dataset.SPAN_DIR_PREFIX}{span}')
  return tmp_path / 'spans'


def test_a_flat_data_dir_is_read_and_checked(tmp_path):
  data_dir = write_dataset(tmp_path / 'data', num_train=20, num_test=10)
  config = configs.build(output_dir=tmp_path / 'out', environ={}, data_dir=data_dir)
  assert preflight.check(config) == preflight.RunInputs(data_dir, ())


def test_the_newest_span_and_the_backfill_are_checked(tmp_path):
  data_root = _spans(tmp_path, 1, 2, 3)
  config = configs.build(output_dir=tmp_path / 'out', environ={}, data_dir=data_root,
                         num_spans=2)
  config.output_dir.mkdir()
  builder = MetadataBuilder(config.metadata_path)
  examples = builder.artifact(standard_artifacts.Examples, span=3, uri=str(tmp_path / 'gone'))
  builder.execution('FileBasedExampleGen', outputs={names.EXAMPLES_KEY: [examples]},
                    state=metadata_store_pb2.Execution.COMPLETE)
  # Span 3's examples were deleted by hand: it counts as not ingested, and span 2 is backfilled.
  assert preflight.check(config) == preflight.RunInputs(data_root, (2,))
  # A bad file of a span the run reads is named; one it does not read (span 1) is not looked at.
  (data_root / 'span-1' / dataset.TRAIN.labels_file).write_bytes(b'')
  assert preflight.check(config) == preflight.RunInputs(data_root, (2,))
  (data_root / 'span-2' / dataset.TRAIN.labels_file).write_bytes(b'')
  with pytest.raises(idx.IdxFormatError, match=r'span-2/train-labels-idx1-ubyte.gz: is empty'):
    preflight.check(config)


def test_a_corrupt_store_is_refused_before_the_data_is_read(tmp_path):
  data_dir = write_dataset(tmp_path / 'data', num_train=20, num_test=10)
  config = configs.build(output_dir=tmp_path / 'out', environ={}, data_dir=data_dir)
  config.output_dir.mkdir()
  config.metadata_path.write_bytes(b'not a database' * 100)
  with pytest.raises(faults.MetadataStoreError):
    preflight.check(config)


def test_tf_examples_input_has_no_idx_data(tmp_path):
  config = configs.build(output_dir=tmp_path / 'out', environ={},
                         examples_dir=tmp_path / 'examples')
  assert preflight.check(config) == preflight.RunInputs()
