"""Compiles the pipeline for Kubeflow Pipelines v2 and Vertex AI Pipelines, with TFX's
KubeflowV2DagRunner.

In: the configuration, its data dir, pipeline root and serving dir as the pipeline's containers see
them (for example /gcs/BUCKET/... on Vertex AI, which mounts Cloud Storage there, or gs://BUCKET/...
for the pipeline root), and a container image holding TFX 1.16 and this project.
Out: a PipelineJob spec (JSON) to submit with the KFP client or Vertex AI.

Differences from local runs, since Kubeflow v2 compiles only TFX's LatestArtifactStrategy and
LatestBlessedModelStrategy resolvers: a run trains on the newest span only (no --spans window), and
the baseline, warm-start model and analyzer cache are simply the latest ones.
"""

from pathlib import Path

from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner

from pipeline.configs import ConfigError, PipelineConfig
from pipeline.pipeline import create_pipeline


def compile_pipeline(config: PipelineConfig, image: str, output: Path, with_spans: bool) -> Path:
  """Writes the pipeline's Kubeflow v2 spec to output, every step running in image."""
  if config.num_spans != 1:
    raise ConfigError('--spans: a Kubeflow pipeline trains on the newest span only (its resolvers '
                      'cannot select a window of spans)')
  if config.examples_dir is None and config.data_dir is None:
    raise ConfigError('--data-dir is required: the data as the pipeline containers see it')
  pipeline = create_pipeline(config, config.data_dir and str(config.data_dir),
                             with_spans=with_spans, for_kubeflow=True)
  output = output.absolute()
  dag_runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
      config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=image),
      output_dir=str(output.parent), output_filename=output.name)
  dag_runner.run(pipeline)
  return output
