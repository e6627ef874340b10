"""Resolver strategy for the Evaluator's baseline: the latest blessed model other than the candidate.

In: all Model and ModelBlessing artifacts of the pipeline, and the candidate (the Trainer's model).
Out: `model` and `model_blessing`: the newest blessed model that is not the candidate, or nothing.

TFX's LatestBlessedModelStrategy resolves before the Trainer runs, so on a rerun with nothing
changed it hands the Evaluator the cached candidate itself as the baseline: the Evaluator's inputs
differ from the first run, it compares the model with itself and the Pusher pushes it again.
Excluding the candidate keeps such a rerun fully cached, and a model is never its own baseline.
"""

from typing import Dict, List

from tfx import types
from tfx.components.evaluator import constants as evaluator_constants
from tfx.dsl.components.common import resolver

MODEL_KEY = 'model'
MODEL_BLESSING_KEY = 'model_blessing'
CANDIDATE_KEY = 'candidate'


class LatestBlessedBaselineStrategy(resolver.ResolverStrategy):
  """The newest blessed Model (by MLMD id, as TFX's strategy) that is not the candidate."""

  def resolve_artifacts(self, store, input_dict: Dict[str, List[types.Artifact]]):
    del store  # everything needed is in input_dict
    candidate_ids = {model.id for model in input_dict[CANDIDATE_KEY]}
    blessing_by_model_id = {
        blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY):
            blessing
        for blessing in input_dict[MODEL_BLESSING_KEY]
        if blessing.get_int_custom_property(evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY) == 1
    }
    baselines = sorted(
        (model for model in input_dict[MODEL_KEY]
         if model.id in blessing_by_model_id and model.id not in candidate_ids),
        key=lambda model: model.id)
    return {
        MODEL_KEY: baselines[-1:],
        MODEL_BLESSING_KEY: [blessing_by_model_id[model.id] for model in baselines[-1:]],
        CANDIDATE_KEY: input_dict[CANDIDATE_KEY],
    }
