"""The pipeline's DAG: ExampleGen -> StatisticsGen -> schema/ExampleValidator -> Transform ->
Trainer -> Evaluator (against the latest blessed model) -> Pusher."""

from pathlib import Path

from tfx import v1 as tfx

from components import baseline_resolver
from components import idx_example_gen
from components import model as model_module
from components import preprocessing as preprocessing_module
from components import pusher as pusher_component
from pipeline import evaluation
from pipeline.configs import PipelineConfig

# Transform and Trainer load these as module files: TFX packages their folder as a wheel whose
# hash is part of the components' cache key, so editing the code invalidates cached results.
PREPROCESSING_MODULE_FILE = preprocessing_module.__file__
MODEL_MODULE_FILE = model_module.__file__


def create_pipeline(config: PipelineConfig, data_dir: Path) -> tfx.dsl.Pipeline:
  """The whole pipeline on the IDX files in data_dir."""
  example_gen = idx_example_gen.create_example_gen(str(data_dir))
  statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs['examples'])
  schema_importer = tfx.components.ImportSchemaGen(schema_file=str(config.schema_file))
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_importer.outputs['schema'])
  transform = tfx.components.Transform(
      examples=example_gen.outputs['examples'],
      schema=schema_importer.outputs['schema'],
      module_file=PREPROCESSING_MODULE_FILE)
  trainer = tfx.components.Trainer(
      module_file=MODEL_MODULE_FILE,
      examples=transform.outputs['transformed_examples'],
      transform_graph=transform.outputs['transform_graph'],
      schema=schema_importer.outputs['schema'],
      # No step counts: the module goes through the whole split once per epoch.
      train_args=tfx.proto.TrainArgs(splits=['train']),
      eval_args=tfx.proto.EvalArgs(splits=['eval']),
      custom_config={
          'epochs': config.epochs,
          'batch_size': config.batch_size,
          'learning_rate': config.learning_rate,
      })
  baseline_model = tfx.dsl.Resolver(
      strategy_class=baseline_resolver.LatestBlessedBaselineStrategy,
      **{
          baseline_resolver.MODEL_KEY:
              tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
          baseline_resolver.MODEL_BLESSING_KEY:
              tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
          baseline_resolver.CANDIDATE_KEY: trainer.outputs['model'],
      }).with_id('baseline_model_resolver')
  evaluator = tfx.components.Evaluator(
      examples=example_gen.outputs['examples'],
      model=trainer.outputs['model'],
      baseline_model=baseline_model.outputs[baseline_resolver.MODEL_KEY],
      example_splits=['eval'],
      eval_config=evaluation.eval_config(config.accuracy_threshold))
  pusher = pusher_component.create_pusher(
      model=trainer.outputs['model'],
      model_blessing=evaluator.outputs['blessing'],
      serving_dir=str(config.serving_dir))
  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=str(config.pipeline_root),
      components=[
          example_gen, statistics_gen, schema_importer, example_validator, transform, trainer,
          baseline_model, evaluator, pusher
      ],
      enable_cache=True,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          str(config.metadata_path)),
      beam_pipeline_args=list(config.beam_args))
