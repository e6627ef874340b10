"""Beam options from the command line reach every Beam-based component: compiled into the
pipeline's IR (as pipeline/runner.py compiles it), after the defaults, in the given order, and
before the component's own (the Evaluator's worker count, the job name)."""

import pytest
from tfx.proto.orchestration import executable_spec_pb2
from tfx.proto.orchestration import pipeline_pb2

from helpers import write_dataset, write_examples
from pipeline import configs
from pipeline import runner
from pipeline.pipeline import create_pipeline

EXTRA_BEAM_ARGS = ('--direct_num_workers=2', '--direct_running_mode=multi_threading')
# The components that run Beam, besides the ExampleGen (whose id depends on the input).
BEAM_COMPONENTS = {'StatisticsGen', 'Transform', 'Evaluator'}


def _beam_pipeline_args_by_node(ir: pipeline_pb2.Pipeline) -> dict:
  """Node id -> (beam_pipeline_args, the placeholders TFX resolves them from at run time)."""
  deployment = pipeline_pb2.IntermediateDeploymentConfig()
  ir.deployment_config.Unpack(deployment)
  args = {}
  for node_id, packed_spec in deployment.executor_specs.items():
    if packed_spec.Is(executable_spec_pb2.BeamExecutableSpec.DESCRIPTOR):
      spec = executable_spec_pb2.BeamExecutableSpec()
      packed_spec.Unpack(spec)
      args[node_id] = (tuple(spec.beam_pipeline_args),
                       tuple(p.value.string_value for p in spec.beam_pipeline_args_placeholders))
  return args


@pytest.mark.parametrize('source, example_gen', [('idx', 'FileBasedExampleGen'),
                                                 ('examples', 'ImportExampleGen')])
def test_every_beam_component_gets_the_beam_args_after_the_defaults(tmp_path, source,
                                                                    example_gen):
  data_dir = None
  if source == 'idx':
    data_dir = write_dataset(tmp_path / 'data', num_train=10, num_test=10)
    sources = {}
  else:
    sources = {'examples_dir': write_examples(tmp_path / 'examples', {
        'train': [([0] * 784, 0)], 'eval': [([0] * 784, 1)]})}
  config = configs.build(output_dir=tmp_path / 'out', environ={},
                         extra_beam_args=EXTRA_BEAM_ARGS, **sources)

  pipeline = create_pipeline(config, data_dir and str(data_dir))
  args = _beam_pipeline_args_by_node(runner.compile_pipeline(pipeline))

  assert BEAM_COMPONENTS | {example_gen} <= set(args), sorted(args)
  for node_id, (beam_pipeline_args, placeholders) in args.items():
    # Then each component's own, which win: the Evaluator's one worker, and last its Beam job's
    # name (as Flink and Spark list it).
    own = configs.EVALUATOR_BEAM_ARGS if node_id == 'Evaluator' else ()
    expected = (*configs.DEFAULT_BEAM_ARGS, *EXTRA_BEAM_ARGS, *own,
                f'--job_name=fashion-pipeline-{node_id.lower().replace("_", "-")}')
    assert beam_pipeline_args == expected, node_id
    assert placeholders == expected, node_id
