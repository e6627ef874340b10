"""What a run checks before anything runs, without TensorFlow: the ML Metadata store, artifacts
whose files are gone, and every IDX file the run will read.

In: the configuration. Out: RunInputs, the data the run reads (the data dir and the older spans it
backfills; none with --examples-dir); or the error that refuses the run, naming the file: a
corrupt store or a moved output dir (mlmd/soundness.py), a bad IDX file (IdxFormatError).

`fashion-pipeline run` calls check() on a thread while it imports TensorFlow and TFX
(pipeline_runner.py). Importing holds Python's lock but uses one core; the check is mostly
gzip, which lets go of the lock, so it runs on the other core: reading the real data's four
files took 0.25 s of every cold run when it came after the imports.
"""

import dataclasses
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

from fashion_mnist import dataset
from fashion_mnist import idx
from mlmd import retention
from mlmd import soundness
from pipeline import data_source
from pipeline import scheduling
from pipeline import spans
from pipeline.configs import PipelineConfig


@dataclasses.dataclass(frozen=True)
class RunInputs:
  """The IDX data a run reads: data_dir (None: the run reads config.examples_dir), and the older
  spans of the training window it ingests first (pipeline/scheduling.py)."""
  data_dir: Optional[Path] = None
  backfill_spans: Tuple[int, ...] = ()


def _check_data_dir(data_dir: Path) -> None:
  """Reads and checks every split's IDX files, so that a bad file is reported by name
  (IdxFormatError) instead of as a failure deep inside a Beam worker."""
  for split_pattern in dataset.SPLIT_PATTERNS.values():
    idx.read_split(*idx.find_split_files(data_dir, split_pattern))


def _folders_to_read(data_dir: Path, backfill_spans: Sequence[int]) -> List[Path]:
  """The folders of IDX files a run ingests: data_dir, or the newest span and the backfill."""
  span_dirs = spans.span_dirs(data_dir)
  if not span_dirs:
    return [data_dir]
  return [span_dirs[span] for span in [*backfill_spans, max(span_dirs)]]


def check(config: PipelineConfig) -> RunInputs:
  """The checks, in order: the store first (everything below reads it), then the files deleted by
  hand (no component may be handed them, and a span whose examples are gone counts as not
  ingested, so it is backfilled again), then the data."""
  soundness.check_store(config.metadata_path)
  soundness.check_not_moved(config)
  retention.mark_lost_artifacts(config)
  if config.examples_dir is not None:
    return RunInputs()
  data_dir = data_source.resolve_data_dir(config)
  backfill_spans = tuple(scheduling.spans_to_backfill(config, data_dir))
  for folder in _folders_to_read(data_dir, backfill_spans):
    _check_data_dir(folder)
  return RunInputs(data_dir, backfill_spans)
