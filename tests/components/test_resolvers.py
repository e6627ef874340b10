"""The resolver strategies on a real ML Metadata store, with artifacts and executions made here:
each picks earlier artifacts for this run and never this run's own."""

import pytest
from ml_metadata.proto import metadata_store_pb2
from tfx.types import standard_artifacts

from components import resolvers
from metadata_builder import MetadataBuilder
from mlmd import names


@pytest.fixture
def builder(tmp_path):
  return MetadataBuilder(tmp_path / 'metadata.sqlite')


def _ids(artifacts):
  return [artifact.id for artifact in artifacts]


def _model_and_blessing(builder, blessed: bool):
  model = builder.artifact(standard_artifacts.Model)
  blessing = builder.artifact(standard_artifacts.ModelBlessing, blessed=int(blessed),
                              current_model_id=model.id)
  return model, blessing


def _baseline_inputs(models_and_blessings, candidate):
  return {
      resolvers.MODEL_KEY: [model for model, _ in models_and_blessings],
      resolvers.MODEL_BLESSING_KEY: [blessing for _, blessing in models_and_blessings],
      resolvers.CANDIDATE_KEY: [candidate],
  }


def test_the_baseline_is_the_newest_blessed_model_other_than_the_candidate(builder):
  old_blessed, refused, newest_blessed = [_model_and_blessing(builder, blessed)
                                          for blessed in (True, False, True)]
  strategy = resolvers.LatestBlessedBaselineStrategy()
  candidate = builder.artifact(standard_artifacts.Model)
  everything = [old_blessed, refused, newest_blessed]
  resolved = strategy.resolve_artifacts(builder.store, _baseline_inputs(everything, candidate))
  assert _ids(resolved[resolvers.MODEL_KEY]) == [newest_blessed[0].id]
  assert _ids(resolved[resolvers.MODEL_BLESSING_KEY]) == [newest_blessed[1].id]
  # A cached rerun: the candidate is the newest blessed model itself, and is not its own baseline.
  resolved = strategy.resolve_artifacts(builder.store,
                                        _baseline_inputs(everything, newest_blessed[0]))
  assert _ids(resolved[resolvers.MODEL_KEY]) == [old_blessed[0].id]


def test_a_first_model_has_no_baseline(builder):
  refused = _model_and_blessing(builder, False)
  candidate = builder.artifact(standard_artifacts.Model)
  resolved = resolvers.LatestBlessedBaselineStrategy().resolve_artifacts(
      builder.store, _baseline_inputs([refused], candidate))
  assert resolved[resolvers.MODEL_KEY] == [] and resolved[resolvers.MODEL_BLESSING_KEY] == []


def _statistics_of(builder, component: str, run_id: str):
  statistics = builder.artifact(standard_artifacts.ExampleStatistics)
  builder.execution(component, outputs={names.STATISTICS_KEY: [statistics]}, run_id=run_id)
  return statistics


def test_the_previous_statistics_are_the_newest_others_of_the_same_component(builder):
  previous = _statistics_of(builder, 'StatisticsGen', 'run-1')
  # Newer, and of the same type, but Transform's: not what the data gate compares with.
  _statistics_of(builder, 'Transform', 'run-1')
  current = _statistics_of(builder, 'StatisticsGen', 'run-2')
  strategy = resolvers.PreviousArtifactStrategy()
  resolved = strategy.resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: builder.all(standard_artifacts.ExampleStatistics),
      resolvers.CURRENT_KEY: [current]})
  assert _ids(resolved[resolvers.HISTORY_KEY]) == [previous.id]
  # The first run: nothing before it.
  resolved = strategy.resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: [previous], resolvers.CURRENT_KEY: [previous]})
  assert resolved[resolvers.HISTORY_KEY] == []


def _examples_of(builder, span: int, component: str = 'FileBasedExampleGen'):
  examples = builder.artifact(standard_artifacts.Examples, span=span)
  builder.execution(component, outputs={names.EXAMPLES_KEY: [examples]})
  return examples


@pytest.mark.parametrize('num_spans, expected', [(1, ['span 3']), (2, ['span 2 again', 'span 3']),
                                                 (3, ['span 1', 'span 2 again', 'span 3'])])
def test_the_training_window_is_the_newest_examples_of_each_of_the_last_spans(
    builder, num_spans, expected):
  made = {
      'span 1': _examples_of(builder, 1),
      'span 2': _examples_of(builder, 2),
      'span 2 again': _examples_of(builder, 2),  # read again later: the newest counts
      # Newer still, but another component's (an ImportExampleGen's): not this pipeline's data.
      'span 2 elsewhere': _examples_of(builder, 2, component='ImportExampleGen'),
      'span 3': _examples_of(builder, 3),
  }
  current = _examples_of(builder, 3)
  made['span 3'] = current  # this run's, though an older artifact of span 3 exists
  resolved = resolvers.SpanWindowStrategy(num_spans).resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: builder.all(standard_artifacts.Examples),
      resolvers.CURRENT_KEY: [current]})
  assert _ids(resolved[resolvers.HISTORY_KEY]) == [made[name].id for name in expected]


def _made_from(builder, artifact_class, component: str, examples):
  artifact = builder.artifact(artifact_class)
  output_key = names.MODEL_KEY if artifact_class is standard_artifacts.Model else 'cache'
  builder.execution(component, inputs={names.EXAMPLES_KEY: examples},
                    outputs={output_key: [artifact]})
  return artifact


def test_the_analyzer_cache_is_the_newest_made_from_another_window(builder):
  span_1, span_2 = _examples_of(builder, 1), _examples_of(builder, 2)
  window = [span_1, span_2]
  previous_window = _made_from(builder, standard_artifacts.TransformCache, 'Transform', [span_1])
  # Made by an earlier run from this very window: using it would change a rerun's inputs.
  _made_from(builder, standard_artifacts.TransformCache, 'Transform', window)
  strategy = resolvers.TrainedOnOtherDataStrategy()
  resolved = strategy.resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: builder.all(standard_artifacts.TransformCache),
      resolvers.CURRENT_KEY: window})
  assert _ids(resolved[resolvers.HISTORY_KEY]) == [previous_window.id]


def test_the_warm_start_model_is_the_newest_blessed_one_trained_on_other_data(builder):
  span_1, span_2, span_3 = (_examples_of(builder, span) for span in (1, 2, 3))
  models = {}
  for name, examples, blessed in (('old', [span_1], True), ('refused', [span_1, span_2], False),
                                  ('this window', [span_2, span_3], True)):
    models[name] = _made_from(builder, standard_artifacts.Model, 'Trainer', examples)
    builder.artifact(standard_artifacts.ModelBlessing, blessed=int(blessed),
                     current_model_id=models[name].id)
  resolved = resolvers.TrainedOnOtherDataStrategy().resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: builder.all(standard_artifacts.Model),
      resolvers.MODEL_BLESSING_KEY: builder.all(standard_artifacts.ModelBlessing),
      resolvers.CURRENT_KEY: [span_2, span_3]})
  assert _ids(resolved[resolvers.HISTORY_KEY]) == [models['old'].id]


def test_no_strategy_resolves_an_artifact_whose_files_are_gone(builder):
  """An artifact retention removed or found without its files (DELETED) is never picked: here the
  newest blessed model, which would otherwise be the baseline and the warm-start model."""
  span_1, span_2 = _examples_of(builder, 1), _examples_of(builder, 2)
  everything = []
  for _ in range(2):
    model = _made_from(builder, standard_artifacts.Model, 'Trainer', [span_1])
    everything.append((model, builder.artifact(standard_artifacts.ModelBlessing, blessed=1,
                                               current_model_id=model.id)))
  old_blessed, newest_blessed = everything
  newest_blessed[0].mlmd_artifact.state = metadata_store_pb2.Artifact.DELETED
  candidate = builder.artifact(standard_artifacts.Model)
  resolved = resolvers.LatestBlessedBaselineStrategy().resolve_artifacts(
      builder.store, _baseline_inputs(everything, candidate))
  assert _ids(resolved[resolvers.MODEL_KEY]) == [old_blessed[0].id]
  resolved = resolvers.TrainedOnOtherDataStrategy().resolve_artifacts(builder.store, {
      resolvers.HISTORY_KEY: [model for model, _ in everything],
      resolvers.MODEL_BLESSING_KEY: [blessing for _, blessing in everything],
      resolvers.CURRENT_KEY: [span_2],
  })
  assert _ids(resolved[resolvers.HISTORY_KEY]) == [old_blessed[0].id]
