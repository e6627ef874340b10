"""The pipeline's DAG:

ExampleGen (the newest span) -> StatisticsGen -> ExampleValidator (against the curated schema)
  -> DataGate
  -> [only if the gate passed] Transform (the graph, analysed on the last K spans with the previous
     window's analyzer cache) -> Trainer (the last K spans through that graph; optionally
     warm-started) -> Evaluator (the newest span's test set, against
     the latest blessed model) -> Pusher
  -> RunReport (always; the model part when there is one)
"""

import hashlib
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

# TFX's modules, not its public `tfx.v1` namespace: that also imports the Google Cloud extensions,
# 9 s more of every command's start-up here (21.8 s against 13.0 s on 2 cores).
import tfx.components
from tfx.dsl.components.base.base_beam_component import BaseBeamComponent
from tfx.dsl.components.common.resolver import Resolver
from tfx.dsl.experimental.conditionals.conditional import Cond
from tfx.dsl.input_resolution.strategies.latest_artifact_strategy import LatestArtifactStrategy
from tfx.dsl.input_resolution.strategies.latest_blessed_model_strategy import (
    LatestBlessedModelStrategy)
from tfx.orchestration import metadata
from tfx.orchestration import pipeline as tfx_pipeline
from tfx.proto import example_gen_pb2
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.types.channel import Channel

from components import data_gate
from components import idx_example_gen
from components import pusher as pusher_component
from components import resolvers
from components import schema_import
from fashion_mnist import features
from fashion_mnist import gate
from fashion_mnist import stack
from mlmd import names
import models
from models import model as model_module
from models import preprocessing as preprocessing_module
from pipeline import configs
from pipeline import evaluation
from pipeline.configs import PipelineConfig
from report import component as report_component

# Transform and Trainer import these functions by name, as TFX's templates do. (A module_file
# would instead be packaged as a wheel at every compile and pip-installed by each component, some
# seconds of every run; the code it runs is here in this environment anyway.)
PREPROCESSING_FN = f'{preprocessing_module.__name__}.preprocessing_fn'
RUN_FN = f'{model_module.__name__}.run_fn'
# The code Transform and Trainer run: the models/ package and the shared facts it imports (nothing
# of ours else: editing the Pusher or a resolver does not retrain). The setting that holds it:
SOURCE_KEY = 'source_fingerprint'


def training_code_files() -> List[Path]:
  """The Python files whose code Transform and Trainer run (a test checks it is all they import)."""
  # The facts they share with the rest (features), and the stack's shims (whether XLA compiles
  # the epoch loop).
  shared = [Path(features.__file__), Path(stack.__file__)]
  return [*sorted(Path(models.__file__).parent.glob('*.py')), shared[0].parent / '__init__.py',
          *shared]


def source_fingerprint(files: Optional[Sequence[Path]] = None) -> str:
  """SHA-256 of the files (by default training_code_files()). Transform's and Trainer's settings
  include it, so that editing their code invalidates their cached results."""
  digest = hashlib.sha256()
  for path in training_code_files() if files is None else files:
    digest.update(path.name.encode() + b'\0' + path.read_bytes())
  return digest.hexdigest()


SCHEMA_IMPORTER_ID = 'ImportSchemaGen'

# tf.Example input (--examples-dir): a folder per split of gzipped TFRecord files.
EXAMPLES_SPLIT_PATTERNS = {'train': 'train/*', 'eval': 'eval/*'}


def _example_gen(config: PipelineConfig, data_dir: Optional[str], with_spans: bool):
  if config.examples_dir is None:
    return idx_example_gen.create_example_gen(data_dir, with_spans=with_spans)
  return tfx.components.ImportExampleGen(
      input_base=str(config.examples_dir),
      input_config=example_gen_pb2.Input(splits=[
          example_gen_pb2.Input.Split(name=name, pattern=pattern)
          for name, pattern in EXAMPLES_SPLIT_PATTERNS.items()
      ]))


def _resolver(node_id: str, for_kubeflow: bool, strategy, kubeflow_strategy,
              history: Dict[str, Channel], current: Dict[str, Channel],
              strategy_config: Optional[Dict[str, Any]] = None) -> Resolver:
  """A resolver: ours (components/resolvers.py), which sees this run's `current` artifacts and never
  picks them; or, since Kubeflow v2 compiles only TFX's own two strategies, kubeflow_strategy."""
  if for_kubeflow:
    return Resolver(strategy_class=kubeflow_strategy, **history).with_id(node_id)
  return Resolver(strategy_class=strategy, config=strategy_config or {}, **history,
                          **current).with_id(node_id)


def _models_and_blessings(model_key: str) -> Dict[str, Channel]:
  """Every Model (under model_key) and ModelBlessing: what a resolver picks a blessed model from."""
  return {
      model_key: Channel(type=standard_artifacts.Model),
      resolvers.MODEL_BLESSING_KEY: Channel(type=standard_artifacts.ModelBlessing),
  }


def beam_job_name(config: PipelineConfig, component_id: str) -> str:
  """The name of a component's Beam job, as Flink's and Spark's UIs and APIs list it (and in the
  form Dataflow accepts: lower case, digits and dashes)."""
  return f'{config.pipeline_name}-{component_id}'.lower().replace('_', '-')


def create_pipeline(config: PipelineConfig, data_dir: Optional[str], with_spans: bool = False,
                    backfill_spans: Sequence[int] = (),
                    for_kubeflow: bool = False) -> tfx_pipeline.Pipeline:
  """The whole pipeline on the IDX files in data_dir (or on config.examples_dir's tf.Examples).

  with_spans: data_dir holds span folders. backfill_spans: older spans of the training window that
  ML Metadata does not have yet; each gets an ExampleGen of its own in this run (see
  pipeline/scheduling.py). for_kubeflow: with TFX's resolvers (see _resolver) and no training
  window: a run trains on the newest span.
  """
  example_gen = _example_gen(config, data_dir, with_spans)
  code_version = source_fingerprint()
  backfill_example_gens = [
      idx_example_gen.create_example_gen(data_dir, with_spans=True,
                                         span=span).with_id(f'span_{span}_example_gen')
      for span in backfill_spans
  ]
  # By content, not by path (components/schema_import.py): a moved clone stays cached. The id
  # is TFX's importer's, which the artifacts' folders and ML Metadata's history already carry.
  schema_importer = schema_import.SchemaImport(
      schema_text=config.schema_file.read_text(encoding='utf-8')).with_id(SCHEMA_IMPORTER_ID)
  # With the schema, TFDV treats the label as categorical: a distribution to compare for drift.
  statistics_gen = tfx.components.StatisticsGen(
      examples=example_gen.outputs['examples'], schema=schema_importer.outputs['schema'])
  example_validator = tfx.components.ExampleValidator(
      statistics=statistics_gen.outputs['statistics'], schema=schema_importer.outputs['schema'])
  previous_statistics = _resolver(
      'previous_statistics_resolver', for_kubeflow, resolvers.PreviousArtifactStrategy,
      LatestArtifactStrategy,
      history={resolvers.HISTORY_KEY: Channel(type=standard_artifacts.ExampleStatistics)},
      current={resolvers.CURRENT_KEY: statistics_gen.outputs['statistics']})
  data_gate_check = data_gate.DataGate(
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema'],
      anomalies=example_validator.outputs['anomalies'],
      previous_statistics=previous_statistics.outputs[resolvers.HISTORY_KEY],
      accept_anomalies=int(config.accept_anomalies))
  gate_result = data_gate_check.outputs['result']

  with Cond(gate_result.future()[0].custom_property(gate.PASSED) == 1):
    training_window = None
    window_examples = example_gen.outputs['examples']
    if not for_kubeflow:
      training_window = Resolver(
          strategy_class=resolvers.SpanWindowStrategy,
          config={'num_spans': config.num_spans},
          **{
              resolvers.HISTORY_KEY: Channel(type=standard_artifacts.Examples),
              resolvers.CURRENT_KEY: example_gen.outputs['examples'],
              # Inputs only so that the window is resolved after the backfill has run.
              **{backfill.id: backfill.outputs['examples'] for backfill in backfill_example_gens},
          }).with_id('training_window_resolver')
      window_examples = training_window.outputs[resolvers.HISTORY_KEY]
    analyzer_cache = _resolver(
        'analyzer_cache_resolver', for_kubeflow, resolvers.TrainedOnOtherDataStrategy,
        LatestArtifactStrategy,
        history={resolvers.HISTORY_KEY: Channel(type=standard_artifacts.TransformCache)},
        current={resolvers.CURRENT_KEY: window_examples})
    transform = tfx.components.Transform(
        examples=window_examples,
        schema=schema_importer.outputs['schema'],
        preprocessing_fn=PREPROCESSING_FN,
        custom_config={SOURCE_KEY: code_version},
        # Analyzers are computed per span and cached: spans already seen are not analysed again.
        analyzer_cache=analyzer_cache.outputs[resolvers.HISTORY_KEY],
        # StatisticsGen already has the raw data's statistics; those of the scaled pixels would
        # cost two more passes over the data and nothing reads them.
        disable_statistics=True,
        # Only the graph: the Trainer reads the raw window and runs the graph on it, which is
        # cheaper than writing and reading 60,000 transformed examples.
        materialize=False)
    warm_start_model = None
    if config.warm_start:
      warm_start_model = _resolver(
          'warm_start_model_resolver', for_kubeflow, resolvers.TrainedOnOtherDataStrategy,
          LatestBlessedModelStrategy,
          history=_models_and_blessings(resolvers.HISTORY_KEY),
          current={resolvers.CURRENT_KEY: window_examples})
    trainer = tfx.components.Trainer(
        run_fn=RUN_FN,
        examples=window_examples,
        transform_graph=transform.outputs['transform_graph'],
        schema=schema_importer.outputs['schema'],
        base_model=warm_start_model.outputs[resolvers.HISTORY_KEY] if warm_start_model else None,
        # No step counts: the module goes through the whole window once per epoch.
        train_args=trainer_pb2.TrainArgs(splits=['train']),
        custom_config={
            'epochs': config.epochs,
            'warm_start_epochs': config.warm_start_epochs,
            'batch_size': config.batch_size,
            'learning_rate': config.learning_rate,
            'seed': config.seed,
            'cache_budget_mb': config.train_cache_mb,
            SOURCE_KEY: code_version,
        })
    baseline_model = _resolver(
        'baseline_model_resolver', for_kubeflow, resolvers.LatestBlessedBaselineStrategy,
        LatestBlessedModelStrategy,
        history=_models_and_blessings(resolvers.MODEL_KEY),
        current={resolvers.CANDIDATE_KEY: trainer.outputs['model']})
    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs['examples'],
        model=trainer.outputs['model'],
        baseline_model=baseline_model.outputs[resolvers.MODEL_KEY],
        example_splits=['eval'],
        eval_config=evaluation.eval_config(config.accuracy_threshold, config.max_accuracy_drop)
    ).with_beam_pipeline_args(list(configs.EVALUATOR_BEAM_ARGS))
    pusher = pusher_component.create_pusher(
        model=trainer.outputs['model'],
        model_blessing=evaluator.outputs['blessing'],
        serving_dir=str(config.serving_dir)).with_id(names.PUSHER)

  run_report = report_component.RunReport(
      data_source=str(config.examples_dir or data_dir),
      accuracy_threshold=config.accuracy_threshold,
      history_source=report_component.history_source(config, for_kubeflow),
      examples=example_gen.outputs['examples'],
      statistics=statistics_gen.outputs['statistics'],
      schema=schema_importer.outputs['schema'],
      gate_result=gate_result,
      previous_statistics=previous_statistics.outputs[resolvers.HISTORY_KEY],
      model=trainer.outputs['model'],
      evaluation=evaluator.outputs['evaluation'],
      blessing=evaluator.outputs['blessing'],
      pushed_model=pusher.outputs['pushed_model']).with_id(names.RUN_REPORT)
  components = [
      example_gen, *backfill_example_gens, statistics_gen, schema_importer, example_validator,
      previous_statistics, data_gate_check,
      *[node for node in (training_window, analyzer_cache, warm_start_model) if node],
      transform, trainer, baseline_model, evaluator, pusher, run_report
  ]
  for component in components:
    if isinstance(component, BaseBeamComponent):
      component.with_beam_pipeline_args([f'--job_name={beam_job_name(config, component.id)}'])
  return tfx_pipeline.Pipeline(
      pipeline_name=config.pipeline_name,
      pipeline_root=str(config.pipeline_root),
      components=components,
      enable_cache=True,
      # Kubeflow brings its own ML Metadata.
      metadata_connection_config=None if for_kubeflow else
      metadata.sqlite_metadata_connection_config(str(config.metadata_path)),
      beam_pipeline_args=list(config.beam_args))
