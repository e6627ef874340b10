"""The pipeline's DAG:

ExampleGen -> StatisticsGen -> ExampleValidator (against the curated schema) -> DataGate
  -> [only if the gate passed] Transform -> Trainer -> Evaluator (against the latest blessed
     model) -> Pusher
  -> RunReport (always; the model part when there is one)
"""

from pathlib import Path
from typing import Optional

from tfx import v1 as tfx

from components import data_gate
from components import idx_example_gen
from components import model as model_module
from components import preprocessing as preprocessing_module
from components import pusher as pusher_component
from components import resolvers
from fashion_mnist import gate
from pipeline import evaluation
from pipeline.configs import PipelineConfig
from report import component as report_component

# Transform and Trainer load these as module files: TFX packages their folder as a wheel whose
# hash is part of the components' cache key, so editing the code invalidates cached results.
PREPROCESSING_MODULE_FILE = preprocessing_module.__file__
MODEL_MODULE_FILE = model_module.__file__

# tf.Example input (--examples-dir): a folder per split of gzipped TFRecord files.
EXAMPLES_SPLIT_PATTERNS = {'train': 'train/*', 'eval': 'eval/*'}


def _example_gen(config: PipelineConfig, data_dir: Optional[Path]):
  if config.examples_dir is None:
    return idx_example_gen.create_example_gen(str(data_dir))
  return tfx.components.ImportExampleGen(
      input_base=str(config.examples_dir),
      input_config=tfx.proto.Input(splits=[
          tfx.proto.Input.Split(name=name, pattern=pattern)
          for name, pattern in EXAMPLES_SPLIT_PATTERNS.items()
      ]))


def create_pipeline(config: PipelineConfig, data_dir: Optional[Path]) -> tfx.dsl.Pipeline:
  """The whole pipeline on the IDX files in data_dir (or on config.examples_dir's tf.Examples)."""
  example_gen = _example_gen(config, data_dir)
  schema_importer = tfx.components.ImportSchemaGen(schema_file=str(config.schema_file))
  # With the schema, TFDV treats the label as categorical: a distribution to compare for drift.
  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs['examples'], schema=schema_importer.outputs['schema'])
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_importer.outputs['schema'])
  previous_statistics = tfx.dsl.Resolver(
      strategy_class=resolvers.PreviousArtifactStrategy,
      **{
          resolvers.HISTORY_KEY:
              tfx.dsl.Channel(type=tfx.types.standard_artifacts.ExampleStatistics),
          resolvers.CURRENT_KEY: statistics_gen.outputs['statistics'],
      }).with_id('previous_statistics_resolver')
  data_gate_check = data_gate.DataGate(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema'],
      anomalies=example_validator.outputs['anomalies'],
      previous_statistics=previous_statistics.outputs[resolvers.HISTORY_KEY],
      accept_anomalies=int(config.accept_anomalies))
  gate_result = data_gate_check.outputs['result']

  with tfx.dsl.Cond(gate_result.future()[0].custom_property(gate.PASSED) == 1):
    transform = tfx.components.Transform(
        examples=example_gen.outputs['examples'],
        schema=schema_importer.outputs['schema'],
        module_file=PREPROCESSING_MODULE_FILE,
        # StatisticsGen already has the raw data's statistics; those of the scaled pixels would
        # cost two more passes over the data and nothing reads them.
        disable_statistics=True)
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
            'seed': config.seed,
        })
    baseline_model = tfx.dsl.Resolver(
        strategy_class=resolvers.LatestBlessedBaselineStrategy,
        **{
            resolvers.MODEL_KEY:
                tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
            resolvers.MODEL_BLESSING_KEY:
                tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
            resolvers.CANDIDATE_KEY: trainer.outputs['model'],
        }).with_id('baseline_model_resolver')
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_model.outputs[resolvers.MODEL_KEY],
        example_splits=['eval'],
        eval_config=evaluation.eval_config(config.accuracy_threshold))
    pusher = pusher_component.create_pusher(
        model=trainer.outputs['model'],
        model_blessing=evaluator.outputs['blessing'],
        serving_dir=str(config.serving_dir))

  run_report = report_component.RunReport(
      data_source=str(config.examples_dir or data_dir),
      accuracy_threshold=config.accuracy_threshold,
      examples=example_gen.outputs['examples'],
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema'],
      gate_result=gate_result,
      previous_statistics=previous_statistics.outputs[resolvers.HISTORY_KEY],
      model=trainer.outputs['model'],
      evaluation=evaluator.outputs['evaluation'],
      blessing=evaluator.outputs['blessing'],
      pushed_model=pusher.outputs['pushed_model'])
  return tfx.dsl.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=str(config.pipeline_root),
      components=[
          example_gen, statistics_gen, schema_importer, example_validator, previous_statistics,
          data_gate_check, transform, trainer, baseline_model, evaluator, pusher, run_report
      ],
      enable_cache=True,
      metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
          str(config.metadata_path)),
      beam_pipeline_args=list(config.beam_args))
