"""The kill-point chaos script (reliability/chaos.py) in CI: two kills on one output dir, each
followed by a rerun that must restore every promise (bench/chaos_bench.py tries every point)."""

import pytest

from reliability import chaos

pytestmark = pytest.mark.e2e


def test_kill_points_are_parsed_and_drawn_repeatably():
  assert str(chaos.KillPoint.parse('start:Trainer')) == 'start:Trainer'
  assert chaos.KillPoint.parse('time:2.5').after_s == 2.5
  with pytest.raises(ValueError, match='start:<one of FileBasedExampleGen, '):
    chaos.KillPoint.parse('start:Nobody')
  assert chaos.random_points(7, 3, 20.0) == chaos.random_points(7, 3, 20.0)


def test_after_kills_at_the_report_and_at_a_random_time_every_rerun_restores_the_promises(
    small_dataset, tmp_path):
  # After the push, before the report: the version is live and recorded; then a seeded random
  # moment of a run that trains a new model (seed 1) on the cached data.
  points = [chaos.KillPoint(component='RunReport'), *chaos.random_points(0, 1, 15.0)]
  trials = chaos.run_trials(small_dataset, tmp_path, points, fresh=False)
  assert trials[0].landed
  assert [trial.problems for trial in trials] == [[], []]
  assert chaos.check(tmp_path / 'output', None) == []
