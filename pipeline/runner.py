"""Runs the pipeline locally: LocalDagRunner, ML Metadata in SQLite, Beam's DirectRunner."""

import logging
from pathlib import Path

from tfx import v1 as tfx

from components import idx_example_gen
from fashion_mnist import idx
from pipeline import data_source
from pipeline import run_summary
from pipeline.configs import PipelineConfig
from pipeline.pipeline import create_pipeline


def check_data_dir(data_dir: Path) -> None:
  """Reads and checks every split's IDX files before any component runs, so that a bad file is
  reported by name (IdxFormatError) instead of as a failure deep inside a Beam worker."""
  for split_pattern in idx_example_gen.SPLIT_PATTERNS.values():
    idx.read_split(*idx_example_gen.find_split_files(str(data_dir), split_pattern))


def run(config: PipelineConfig) -> run_summary.RunSummary:
  """Runs the whole pipeline once and returns what that run produced."""
  data_dir = data_source.resolve_data_dir(config)
  check_data_dir(data_dir)
  logging.info('Data: %s', data_dir)
  tfx.orchestration.LocalDagRunner().run(create_pipeline(config, data_dir))
  return run_summary.latest_run(config)
