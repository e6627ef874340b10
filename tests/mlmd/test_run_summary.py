"""The runs table (`fashion-pipeline runs`): spans, component states and outcomes in one line."""

import pytest

from pipeline import configs
from mlmd import run_summary
from mlmd.run_summary import ComponentRun, RunSummary


def _components(states, resolver_state='ran'):
  return ([ComponentRun(component_id, state, 1.0) for component_id, state in states.items()]
          + [ComponentRun('baseline_model_resolver', resolver_state, 0.0, is_resolver=True)])


@pytest.mark.parametrize('spans, text', [
    ([], '-'), ([0], '0'), ([3, 1, 2], '1-3'), ([1, 2, 3, 5, 7, 8], '1-3,5,7-8'),
])
def test_spans_are_shown_as_ranges(spans, text):
  assert run_summary.format_spans(spans) == text


@pytest.mark.parametrize('states, text', [
    ({'ExampleGen': 'ran', 'Trainer': 'ran'}, 'all ran'),
    # Resolvers run every time: a run whose components all came from the cache is "all cached".
    ({'ExampleGen': 'cached', 'Trainer': 'cached', 'Pusher': 'cached'}, 'all cached'),
    ({'ExampleGen': 'cached', 'Transform': 'ran', 'Trainer': 'ran'}, '2 ran, 1 cached'),
    ({'ExampleGen': 'cached', 'Transform': 'ran', 'Trainer': 'failed'},
     '1 ran, 1 cached, failed: Trainer'),
    # A run still going (its process alive) has an execution RUNNING in ML Metadata.
    ({'ExampleGen': 'ran', 'Transform': 'running'}, '1 ran, running: Transform'),
])
def test_component_states_in_a_few_words(states, text):
  assert RunSummary(run_id='r', components=_components(states)).states() == text


@pytest.mark.parametrize('states, text', [
    # Killed in the Trainer: RUNNING, or CANCELED once the next run set it straight.
    ({'ExampleGen': 'ran', 'Transform': 'cached', 'Trainer': 'running'},
     '1 ran, 1 cached, killed in Trainer'),
    ({'ExampleGen': 'ran', 'Trainer': 'canceled'}, '1 ran, killed in Trainer'),
    # Killed between two components: everything recorded finished, but it is not "all ran".
    ({'ExampleGen': 'ran', 'Transform': 'ran'}, '2 ran, killed after Transform'),
])
def test_a_killed_run_says_so(states, text):
  summary = RunSummary(run_id='r', components=_components(states), status='killed')
  assert summary.states() == text


def test_a_live_run_between_two_components_is_running():
  summary = RunSummary(run_id='r', components=_components({'ExampleGen': 'ran'}),
                       status='running')
  assert summary.states() == '1 ran, running: ...'


def test_removed_files_are_named_in_the_table():
  removed = RunSummary(
      run_id='2026-01-01T10:00:00.000001', started=1767261600.0, duration=95.4, spans=[0],
      components=_components({'ExampleGen': 'ran', 'Pusher': 'ran'}), blessed=True,
      pushed_version='1767261690', pushed_removed=True, gate_passed=True,
      removed=['evaluation', 'examples', 'model', 'pushed_model'])
  header, line = run_summary.format_table([removed]).splitlines()
  assert line.split()[-6:] == ['removed', 'yes', '1767261690', '(removed)', 'files', 'removed']


def test_table_has_one_line_per_run_with_its_outcome():
  first = RunSummary(
      run_id='2026-01-01T10:00:00.000001', started=1767261600.0, duration=95.4, spans=[0],
      components=_components({'ExampleGen': 'ran', 'Pusher': 'ran'}), accuracy=0.88521,
      blessed=True, pushed_version='1767261690', gate_passed=True)
  cached = RunSummary(
      run_id='2026-01-01T11:00:00.000001', started=1767265200.0, duration=4.0, spans=[0],
      components=_components({'ExampleGen': 'cached', 'Pusher': 'cached'}), accuracy=0.88521,
      blessed=True, pushed_version='1767261690', gate_passed=True)
  stopped = RunSummary(
      run_id='2026-01-02T10:00:00.000001', started=1767348000.0, duration=20.0, spans=[4],
      components=_components({'ExampleGen': 'ran', 'DataGate': 'ran'}), gate_passed=False)
  worse = RunSummary(
      run_id='2026-01-03T10:00:00.000001', started=1767434400.0, duration=80.0, spans=[2, 3, 4],
      components=_components({'ExampleGen': 'cached', 'Trainer': 'ran'}), accuracy=0.5,
      blessed=False, gate_passed=True, anomalies_accepted=True)
  lines = run_summary.format_table([first, cached, stopped, worse]).splitlines()
  assert lines[0].split() == ['RUN', 'STARTED', 'DURATION', 'SPANS', 'COMPONENTS', 'ACCURACY',
                              'BLESSED', 'PUSHED', 'NOTE']
  assert len(lines) == 5
  assert lines[1].startswith('2026-01-01T10:00:00.000001  ')
  assert lines[1].split()[3:] == ['95s', '0', 'all', 'ran', '0.8852', 'yes', '1767261690']
  assert lines[2].split()[3:] == ['4s', '0', 'all', 'cached', '0.8852', 'yes', '1767261690',
                                  '(cached)']
  assert lines[3].split()[3:] == ['20s', '4', 'all', 'ran', '-', '-', '-', 'stopped', 'at',
                                  'the', 'data', 'gate']
  assert lines[4].split()[3:] == ['80s', '2-4', '1', 'ran,', '1', 'cached', '0.5000', 'no', '-',
                                  'anomalies', 'accepted']
  # The columns line up.
  assert len({line.index(' 0 ') for line in lines[1:3]}) == 1

  # With a model config file's labels, a column says which version each label names.
  labelled = run_summary.format_table(run_summary.with_labels(
      [first, stopped], {'1767261690': ['canary', 'stable']}))
  header, first_line, stopped_line = labelled.splitlines()
  assert header.split()[7:] == ['PUSHED', 'LABELS', 'NOTE']
  assert first_line.split()[-2:] == ['1767261690', 'canary,stable']
  assert stopped_line.split()[7:] == ['-', '-', '-', '-', 'stopped', 'at', 'the', 'data', 'gate']


def test_a_missing_metadata_file_is_named(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  with pytest.raises(LookupError, match=f'^{tmp_path}/metadata.sqlite: no such file, so no run '
                     'is recorded there'):
    run_summary.history(config)
