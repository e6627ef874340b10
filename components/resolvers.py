"""Resolver strategies that pick an earlier artifact to compare this run's with, never its own.

LatestBlessedBaselineStrategy, for the Evaluator's baseline:
  In: all Model and ModelBlessing artifacts, and the candidate (the Trainer's model).
  Out: `model` and `model_blessing`: the newest blessed model that is not the candidate, or nothing.
PreviousArtifactStrategy, for the data gate's drift check:
  In: all artifacts of a type (`history`) and this run's one (`current`, e.g. StatisticsGen's).
  Out: `history`: the newest one made by the same component as `current` that is not `current`,
  or nothing. (Transform's statistics have the same type as StatisticsGen's.)

TFX's LatestBlessedModelStrategy resolves before the Trainer runs, so on a rerun with nothing
changed it hands the Evaluator the cached candidate itself as the baseline: the Evaluator's inputs
differ from the first run, it compares the model with itself and the Pusher pushes it again.
Excluding this run's own artifact keeps such a rerun fully cached, and nothing is compared with
itself. "Newest" is the highest ML Metadata id, as in TFX's own strategies.
"""

from typing import Dict, List

from ml_metadata.proto import metadata_store_pb2
from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.common import resolver

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'
CANDIDATE_KEY = 'candidate'
HISTORY_KEY = 'history'
CURRENT_KEY = 'current'

# The Evaluator's ModelBlessing properties: which model it judged, and the verdict.
_MODEL_ID = evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
_BLESSED = evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY


def _newest_except(artifacts: List[types.Artifact], excluded: List[types.Artifact]):
  excluded_ids = {artifact.id for artifact in excluded}
  others = [artifact for artifact in artifacts if artifact.id not in excluded_ids]
  return [max(others, key=lambda artifact: artifact.id)] if others else []


class LatestBlessedBaselineStrategy(resolver.ResolverStrategy):
  """The newest blessed Model that is not the candidate."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    del store  # everything needed is in input_dict
    blessing_by_model_id = {
        blessing.get_int_custom_property(_MODEL_ID): blessing
        for blessing in input_dict[MODEL_BLESSING_KEY]
        if blessing.get_int_custom_property(_BLESSED) == 1
    }
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

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    current = input_dict[CURRENT_KEY]
    history = _made_by_the_same_component(store, input_dict[HISTORY_KEY], current)
    return {HISTORY_KEY: _newest_except(history, current), CURRENT_KEY: current}
