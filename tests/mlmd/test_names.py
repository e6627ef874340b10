"""The names the read side looks for are the ones TFX and our components record."""

import pytest
from tfx.components.evaluator import constants as evaluator_constants
from tfx.components.example_gen import utils as example_gen_utils
from tfx.dsl.components.common import resolver
from tfx.types import standard_artifacts
from tfx.types import standard_component_specs

from mlmd import names
from pipeline import configs
from pipeline import pipeline
from report import component as report_component


@pytest.mark.parametrize('name, artifact_class', [
    (names.EXAMPLES, standard_artifacts.Examples),
    (names.EXAMPLE_STATISTICS, standard_artifacts.ExampleStatistics),
    (names.EXAMPLE_ANOMALIES, standard_artifacts.ExampleAnomalies),
    (names.SCHEMA, standard_artifacts.Schema),
    (names.TRANSFORM_GRAPH, standard_artifacts.TransformGraph),
    (names.TRANSFORM_CACHE, standard_artifacts.TransformCache),
    (names.MODEL, standard_artifacts.Model),
    (names.MODEL_EVALUATION, standard_artifacts.ModelEvaluation),
    (names.MODEL_BLESSING, standard_artifacts.ModelBlessing),
    (names.PUSHED_MODEL, standard_artifacts.PushedModel),
    (names.HTML_REPORT, report_component.HtmlReport),
])
def test_artifact_type_names_are_tfx_and_ours(name, artifact_class):
  assert artifact_class.TYPE_NAME == name


def test_property_and_key_names_are_tfx_s():
  assert names.SPAN == example_gen_utils.SPAN_PROPERTY_NAME
  assert names.BLESSED == evaluator_constants.ARTIFACT_PROPERTY_BLESSED_KEY
  assert names.CURRENT_MODEL_ID == evaluator_constants.ARTIFACT_PROPERTY_CURRENT_MODEL_ID_KEY
  assert names.CUSTOM_CONFIG == standard_component_specs.CUSTOM_CONFIG_KEY
  assert names.EXAMPLES_KEY == standard_component_specs.EXAMPLES_KEY
  assert names.STATISTICS_KEY == standard_component_specs.STATISTICS_KEY
  assert names.MODEL_KEY == standard_component_specs.MODEL_KEY
  assert names.BASELINE_MODEL_KEY == standard_component_specs.BASELINE_MODEL_KEY
  assert names.BASE_MODEL_KEY == standard_component_specs.BASE_MODEL_KEY
  assert names.TRANSFORM_GRAPH_KEY == standard_component_specs.TRANSFORM_GRAPH_KEY
  assert names.SCHEMA_KEY == standard_component_specs.SCHEMA_KEY
  assert names.ANALYZER_CACHE_KEY == standard_component_specs.ANALYZER_CACHE_KEY
  assert names.RESOLVER_EXECUTION_TYPE == resolver.Resolver.get_class_type()


def test_the_pipeline_has_the_components_the_read_side_looks_for(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  ids = {c.id for c in pipeline.create_pipeline(config, str(tmp_path)).components}
  assert {names.PUSHER, names.RUN_REPORT, names.TRAINER} <= ids
