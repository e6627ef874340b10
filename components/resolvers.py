"""Resolver strategies that pick earlier artifacts for this run: to compare with, to train on, to
start from. None ever picks this run's own output, so a rerun with nothing new stays cached.

LatestBlessedBaselineStrategy, for the Evaluator's baseline:
  In: all Model and ModelBlessing artifacts, and the candidate (the Trainer's model).
  Out: `model` and `model_blessing`: the newest blessed model that is not the candidate, or nothing.
PreviousArtifactStrategy, for the data gate's drift check:
  In: all artifacts of a type (`history`) and this run's one (`current`, e.g. StatisticsGen's).
  Out: `history`: the newest one made by the same component as `current` that is not `current`,
  or nothing. (Transform's statistics have the same type as StatisticsGen's.)
SpanWindowStrategy(num_spans), the Trainer's training window:
  In: all Examples artifacts (`history`) and this run's ExampleGen output (`current`).
  Out: `history`: for each span of the last num_spans ending at current's, the newest artifact made
  by the same component as `current` (`current` itself for its span), in span order.
TrainedOnOtherDataStrategy, for the Transform analyzer cache and the warm start model:
  In: all artifacts of a type (`history`: TransformCache, or Model), ModelBlessings for models
  (`model_blessing`, then only blessed models count), and the training window (`current`).
  Out: `history`: the newest one made from other examples than the window, or nothing: the
  previous window's analyzer cache, or the newest blessed model trained on other data. Made from
  this very window means made by an earlier run of this one, so it is skipped and a rerun keeps
  the inputs of the first run.

TFX's LatestBlessedModelStrategy resolves before the Trainer runs, so on a rerun with nothing
changed it hands the Evaluator the cached candidate itself as the baseline: the Evaluator's inputs
differ from the first run, it compares the model with itself and the Pusher pushes it again.
Excluding this run's own artifact keeps such a rerun fully cached, and nothing is compared with
itself. "Newest" is the highest ML Metadata id, as in TFX's own strategies.

Every strategy sees only LIVE artifacts (`live_only`): one whose files were removed by retention
or found gone before the run (DELETED, mlmd/retention.py) is never handed to a component.
TFX's channels already take LIVE artifacts only; this holds whatever a channel passes.
"""

import collections
from typing import Dict, FrozenSet, Iterable, List

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common import resolver
from tfx.types import standard_component_specs

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'
CANDIDATE_KEY = 'candidate'
HISTORY_KEY = 'history'
CURRENT_KEY = 'current'

# The Evaluator's ModelBlessing properties: which model it judged, and the verdict.
_MODEL_ID = evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
_BLESSED = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
_LIVE = metadata_store_pb2.Artifact.LIVE


def live_only(resolve):
  """Wraps a strategy's resolve_artifacts so that it sees only LIVE artifacts."""
  def resolve_live(self, store, input_dict: Dict[str, List[types.Artifact]]):
    return resolve(self, store, {key: [a for a in artifacts if a.mlmd_artifact.state == _LIVE]
                                 for key, artifacts in input_dict.items()})
  resolve_live.__doc__ = resolve.__doc__
  return resolve_live


def _newest_except(artifacts: List[types.Artifact], excluded: List[types.Artifact]):
  excluded_ids = {artifact.id for artifact in excluded}
  others = [artifact for artifact in artifacts if artifact.id not in excluded_ids]
  return [max(others, key=lambda artifact: artifact.id)] if others else []


def _blessings_by_model_id(blessings: List[types.Artifact]) -> Dict[int, types.Artifact]:
  return {
      blessing.get_int_custom_property(_MODEL_ID): blessing
      for blessing in blessings
      if blessing.get_int_custom_property(_BLESSED) == 1
  }


class LatestBlessedBaselineStrategy(resolver.ResolverStrategy):
  """The newest blessed Model that is not the candidate."""

  @live_only
  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    del store  # everything needed is in input_dict
    blessing_by_model_id = _blessings_by_model_id(input_dict[MODEL_BLESSING_KEY])
    blessed_models = [model for model in input_dict[MODEL_KEY] if model.id in blessing_by_model_id]
    baseline = _newest_except(blessed_models, input_dict[CANDIDATE_KEY])
    return {
        MODEL_KEY: baseline,
        MODEL_BLESSING_KEY: [blessing_by_model_id[model.id] for model in baseline],
        CANDIDATE_KEY: input_dict[CANDIDATE_KEY],
    }


def _made_by_the_same_component(store, artifacts, references):
  """The artifacts that an execution of the same type as the references' producer output."""
  events = store.get_events_by_artifact_ids([a.id for a in artifacts + references])
  producer = {e.artifact_id: e.execution_id for e in events
              if e.type == metadata_store_pb2.Event.OUTPUT}
  execution_type = {e.id: e.type_id for e in store.get_executions_by_id(set(producer.values()))}
  wanted = {execution_type[producer[r.id]] for r in references if r.id in producer}
  return [a for a in artifacts if execution_type.get(producer.get(a.id)) in wanted]


class PreviousArtifactStrategy(resolver.ResolverStrategy):
  """The newest artifact of `history` made like this run's `current` one, other than it."""

  @live_only
  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    current = input_dict[CURRENT_KEY]
    history = _made_by_the_same_component(store, input_dict[HISTORY_KEY], current)
    return {HISTORY_KEY: _newest_except(history, current), CURRENT_KEY: current}


def _span(examples: types.Artifact) -> int:
  return examples.get_int_custom_property(example_gen_utils.SPAN_PROPERTY_NAME)  # set by ExampleGen


class SpanWindowStrategy(resolver.ResolverStrategy):
  """The last num_spans spans' Examples, newest artifact per span, ending at `current`'s span."""

  def __init__(self, num_spans: int):
    self._num_spans = num_spans

  @live_only
  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    current = input_dict[CURRENT_KEY]
    newest_span = max(_span(artifact) for artifact in current)
    by_span = {}
    for artifact in sorted(_made_by_the_same_component(store, input_dict[HISTORY_KEY], current),
                           key=lambda artifact: artifact.id):
      if newest_span - self._num_spans < _span(artifact) <= newest_span:
        by_span[_span(artifact)] = artifact
    by_span.update((_span(artifact), artifact) for artifact in current)
    return {**input_dict, HISTORY_KEY: [by_span[span] for span in sorted(by_span)]}


def _consumed_by_producers(store, artifact_ids: Iterable[int]) -> Dict[int, FrozenSet[int]]:
  """For each artifact id, the ids of the examples its producing execution consumed: the raw
  examples that Transform analysed or the Trainer trained on."""
  artifact_ids = list(artifact_ids)
  producer = {e.artifact_id: e.execution_id for e in store.get_events_by_artifact_ids(artifact_ids)
              if e.type == metadata_store_pb2.Event.OUTPUT}
  consumed = collections.defaultdict(set)
  for event in store.get_events_by_execution_ids(set(producer.values())):
    if (event.type == metadata_store_pb2.Event.INPUT and
        event.path.steps[0].key == standard_component_specs.EXAMPLES_KEY):
      consumed[event.execution_id].add(event.artifact_id)
  return {a: frozenset(consumed[producer[a]]) for a in artifact_ids if a in producer}


class TrainedOnOtherDataStrategy(resolver.ResolverStrategy):
  """The newest `history` artifact (blessed, for models) made from other examples than `current`."""

  @live_only
  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    candidates = input_dict[HISTORY_KEY]
    if MODEL_BLESSING_KEY in input_dict:
      blessed_ids = _blessings_by_model_id(input_dict[MODEL_BLESSING_KEY])
      candidates = [model for model in candidates if model.id in blessed_ids]
    window = frozenset(artifact.id for artifact in input_dict[CURRENT_KEY])
    made_from = _consumed_by_producers(store, [artifact.id for artifact in candidates])
    others = [artifact for artifact in candidates if made_from.get(artifact.id, window) != window]
    return {**input_dict, HISTORY_KEY: _newest_except(others, [])}
