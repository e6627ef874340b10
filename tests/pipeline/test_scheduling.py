"""What a scheduled run decides before it starts, on a real ML Metadata store with executions made
here: which spans are ingested, whether there is new data, what to backfill, and whether the
newest run's results stand because nothing changed since it (its recorded fingerprint)."""

import shutil
from pathlib import Path

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from metadata_builder import MetadataBuilder
from mlmd import names
from mlmd import run_fingerprint
from mlmd.store import ingested_spans
from pipeline import configs
from pipeline import scheduling
from report import component as report_component

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



def _complete_run(config, builder, tmp_path, run_id, fingerprint=None):
  """A run that pushed version 1 and wrote its report, their files on disk; its report."""
  (tmp_path / 'serving' / '1').mkdir(parents=True, exist_ok=True)
  (tmp_path / run_id / 'report').mkdir(parents=True)
  (tmp_path / run_id / 'report' / names.REPORT_FILE).write_text('<html></html>')
  pushed = builder.artifact(standard_artifacts.PushedModel, uri=str(tmp_path / run_id),
                            pushed=1, pushed_destination=str(tmp_path / 'serving' / '1'),
                            pushed_version='1')
  report = builder.artifact(report_component.HtmlReport, uri=str(tmp_path / run_id / 'report'))
  builder.execution('Pusher', outputs={'pushed_model': [pushed]}, run_id=run_id)
  builder.execution('RunReport', outputs={'report': [report]}, run_id=run_id)
  if fingerprint:
    run_fingerprint.record(config, run_id, fingerprint)
  return report


def test_the_newest_run_stands_when_its_recorded_fingerprint_is_the_same(config, builder,
                                                                         tmp_path):
  _complete_run(config, builder, tmp_path, 'run-1')
  assert run_fingerprint.newest(config) == ('run-1', None)  # a run before fingerprints
  assert scheduling.unchanged_run(config, 'abc') is None
  _complete_run(config, builder, tmp_path, 'run-2', fingerprint='abc')
  assert run_fingerprint.newest(config) == ('run-2', 'abc')
  summary = scheduling.unchanged_run(config, 'abc')
  assert summary.run_id == 'run-2' and summary.pushed_path == str(tmp_path / 'serving' / '1')
  assert scheduling.unchanged_run(config, 'abd') is None
  assert scheduling.unchanged_run(config, None) is None  # not known: run


def test_a_newer_unfinished_run_or_files_gone_mean_a_run(config, builder, tmp_path):
  report = _complete_run(config, builder, tmp_path, 'run-1', fingerprint='abc')
  shutil.rmtree(report.uri)
  assert scheduling.unchanged_run(config, 'abc') is None
  (Path(report.uri) / names.REPORT_FILE).parent.mkdir()
  (Path(report.uri) / names.REPORT_FILE).write_text('')
  assert scheduling.unchanged_run(config, 'abc') is not None
  shutil.rmtree(tmp_path / 'serving' / '1')  # the pushed version
  assert scheduling.unchanged_run(config, 'abc') is None
  (tmp_path / 'serving' / '1').mkdir()
  builder.execution('FileBasedExampleGen', state=Execution.RUNNING, run_id='run-2')  # killed
  run_fingerprint.record(config, 'run-2', 'abc')
  assert scheduling.unchanged_run(config, 'abc') is None


def test_no_store_or_a_corrupt_one_means_a_run(config, tmp_path):
  assert scheduling.unchanged_run(config, 'abc') is None
  config.output_dir.mkdir()
  config.metadata_path.write_bytes(b'not SQLite' * 1000)
  assert scheduling.unchanged_run(config, 'abc') is None
