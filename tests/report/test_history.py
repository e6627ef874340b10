"""The report's history section gathered from ML Metadata: a generated store of 60 runs as the
pipeline records them (tests/metadata_builder.py), the newest 20 with their files."""

import time

import pytest

from metadata_builder import generate_history
from mlmd import run_summary
from pipeline import configs
from report import history

RUNS, KEEP = 60, 20


@pytest.fixture(scope='module')
def generated(tmp_path_factory):
  root = tmp_path_factory.mktemp('report-history')
  run_ids = generate_history(root, runs=RUNS, keep=KEEP)
  config = configs.build(output_dir=root, environ={}, accuracy_threshold=0.85)
  summaries = run_summary.history(config)
  pushed = [s.pushed_version for s in summaries
            if s.pushed_version and s.state_of('Pusher') == 'ran']
  for version in pushed[-2:]:  # the newest two are still in the serving dir
    (config.serving_dir / version).mkdir(parents=True)
  return config, run_ids, summaries, pushed


def test_the_last_fifty_runs_up_to_this_one(generated):
  config, run_ids, summaries, pushed = generated
  start = time.perf_counter()
  found = history.gather(config, run_ids[-1])
  seconds = time.perf_counter() - start
  assert seconds < 2, seconds  # about 0.1 s here: the report stays cheap
  assert found.total_runs == RUNS and len(found.runs) == history.LAST_RUNS
  assert [r.run_id for r in found.runs] == run_ids[-history.LAST_RUNS:]
  assert found.runs[-1].is_this_run and sum(r.is_this_run for r in found.runs) == 1
  by_id = {s.run_id: s for s in summaries}
  for run in found.runs:
    summary = by_id[run.run_id]
    assert (run.accuracy, run.blessed, run.states) == (summary.accuracy, summary.blessed,
                                                       summary.states())
  # Old runs' evaluations were removed: no accuracy, and the note says why.
  old = [r for r in found.runs[:RUNS - KEEP - (RUNS - history.LAST_RUNS)]
         if by_id[r.run_id].state_of('Evaluator')]
  assert old and all(r.accuracy is None and 'files removed' in r.note for r in old)
  assert any('killed in Trainer' in r.states for r in found.runs)
  # A rewrite of an earlier run's report shows the runs up to that one.
  earlier = history.gather(config, run_ids[30])
  assert earlier.total_runs == 31 and earlier.runs[-1].run_id == run_ids[30]


def test_the_baseline_is_the_run_whose_model_this_run_was_compared_with(generated):
  config, run_ids, summaries, _ = generated
  evaluated = [s for s in summaries if s.baseline_model_uri and s.state_of('Evaluator') == 'ran']
  this = evaluated[-1]
  found = history.gather(config, this.run_id)
  (baseline,) = [r for r in found.runs if r.is_baseline]
  original = next(s for s in summaries if s.model_uri == this.baseline_model_uri)
  assert baseline.run_id == original.run_id
  assert found.baseline_version == original.pushed_version
  assert found.baseline_accuracy == this.baseline_accuracy


def test_serving_versions_say_which_are_there_and_which_were_removed(generated):
  config, run_ids, summaries, pushed = generated
  found = history.gather(config, run_ids[-1])
  versions = {v.version: v for v in found.serving_versions}
  assert list(versions) == sorted(pushed, key=int, reverse=True)
  assert [v for v in pushed if versions[v].present] == pushed[-2:]
  removed = {s.pushed_version: s.pushed_removed for s in summaries if s.pushed_version}
  assert [versions[v].removed for v in pushed] == [removed[v] for v in pushed]
  assert any(removed.values()) and not all(removed.values())
  shown = {r.run_id for r in found.runs}
  assert all((versions[v].run_id in shown) for v in pushed if versions[v].run_id)
  assert versions[pushed[-1]].run_id is not None


def test_no_metadata_file_no_history(tmp_path):
  assert history.gather(configs.build(output_dir=tmp_path, environ={}), 'run-1') is None
