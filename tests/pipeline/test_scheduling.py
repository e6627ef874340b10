"""What a scheduled run decides before it starts, on a real ML Metadata store with ExampleGen
executions made here: which spans are ingested, whether there is new data, what to backfill."""

from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from metadata_builder import MetadataBuilder
from mlmd import names
from mlmd.store import ingested_spans
from pipeline import configs
from pipeline import scheduling

Execution = metadata_store_pb2.Execution


@pytest.fixture
def config(tmp_path):
  return configs.build(output_dir=tmp_path / 'out', environ={}, num_spans=3)


@pytest.fixture
def builder(config):
  config.output_dir.mkdir()
  return MetadataBuilder(config.metadata_path)


def _data_root(tmp_path, *span_numbers) -> Path:
  for span in span_numbers:
    (tmp_path / 'spans' / f'span-{span}').mkdir(parents=True)
  return tmp_path / 'spans'


def _ingest(builder, span, component='FileBasedExampleGen', state=Execution.COMPLETE):
  examples = builder.artifact(standard_artifacts.Examples, span=span)
  builder.execution(component, outputs={names.EXAMPLES_KEY: [examples]}, state=state)


def test_ingested_spans_are_those_example_gens_finished(config, builder):
  _ingest(builder, 1)
  _ingest(builder, 2, state=Execution.CACHED)
  _ingest(builder, 3, state=Execution.FAILED)  # its output never counts
  _ingest(builder, 4, component='Transform')  # an Examples artifact, not ingested data
  assert ingested_spans(config.metadata_path) == {1, 2}


def test_no_new_data_when_the_newest_span_on_disk_is_ingested(config, builder, tmp_path):
  data_root = _data_root(tmp_path, 1, 2)
  _ingest(builder, 1)
  assert scheduling.nothing_new(config, data_root) is None
  _ingest(builder, 2)
  message = scheduling.nothing_new(config, data_root)
  assert message == (f'No new data: the newest span in {data_root} is 2, and ML Metadata '
                     f'({config.metadata_path}) already has span 2; nothing to do.')


def test_a_first_run_always_has_new_data(config, tmp_path):
  assert scheduling.nothing_new(config, _data_root(tmp_path, 1)) is None


def test_the_backfill_is_the_window_s_older_spans_never_ingested(config, builder, tmp_path):
  data_root = _data_root(tmp_path, 1, 2, 4, 5, 6)  # span 3 never arrived
  assert scheduling.spans_to_backfill(config, data_root) == [4, 5]
  _ingest(builder, 4)
  assert scheduling.spans_to_backfill(config, data_root) == [5]
  assert scheduling.spans_to_backfill(config, tmp_path / 'flat') == []
