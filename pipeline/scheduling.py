"""What a scheduled run needs to know before it starts, from the data root and ML Metadata only
(no TensorFlow, so `run --if-new-data` with nothing new, and `run` with nothing changed, answer in
well under a second): which spans the pipeline has ingested, whether a newer one has arrived,
which spans of the training window were never ingested and must be read in this run, and whether
the newest run's results still stand because nothing at all changed since it.
"""

import os
from pathlib import Path
from typing import List, Optional

from mlmd import retention
from mlmd import run_fingerprint
from mlmd import run_summary
from mlmd import soundness
from mlmd import store as mlmd_store
from mlmd.store import ingested_spans
from pipeline import spans
from pipeline.configs import PipelineConfig


def _newest_on_disk(data_dir: Path) -> int:
  newest = spans.newest_span(data_dir)
  return 0 if newest is None else newest  # the flat layout is span 0 to TFX too


def nothing_new(config: PipelineConfig, data_dir: Path) -> Optional[str]:
  """A message saying why there is nothing to do when no span in data_dir is newer than the
  newest one already ingested; None when there is new data."""
  ingested = ingested_spans(config.metadata_path)
  newest = _newest_on_disk(data_dir)
  if not ingested or newest > max(ingested):
    return None
  return (f'No new data: the newest span in {data_dir} is {newest}, and ML Metadata '
          f'({config.metadata_path}) already has span {max(ingested)}; nothing to do.')


def spans_to_backfill(config: PipelineConfig, data_dir: Path) -> List[int]:
  """The older spans of the training window that are on disk but were never ingested (say, the
  pipeline first runs on a data root that already holds several spans)."""
  on_disk = spans.span_dirs(data_dir)
  if not on_disk:
    return []
  older = spans.window(max(on_disk), config.num_spans)[:-1]
  ingested = ingested_spans(config.metadata_path)
  return [span for span in older if span in on_disk and span not in ingested]


def unchanged_run(config: PipelineConfig,
                  fingerprint: Optional[str]) -> Optional[run_summary.RunSummary]:
  """The summary of the newest run when nothing at all changed since it started: ML Metadata
  records fingerprint (pipeline/fingerprint.py) on it, it completed, and nothing it produced is
  removed, nor any file of the pipeline's live artifacts or its pushed version gone from disk.
  ML Metadata is only read. None, to run the pipeline, at any doubt."""
  if fingerprint is None or not config.metadata_path.is_file():
    return None
  if any('://' in str(place) for place in (config.pipeline_root, config.serving_dir)):
    return None  # their files cannot be checked without TensorFlow's filesystems
  try:
    soundness.check_store(config.metadata_path)
    run_id, recorded = run_fingerprint.newest(config)
    if recorded != fingerprint:
      return None
    summary = run_summary.summarize(config, run_id)
    # Any artifact, not only this run's: a run would mark each lost one DELETED first.
    lost = retention.lost_artifacts(mlmd_store.connect(config.metadata_path), config)
  except Exception:  # pylint: disable=broad-except  (the run's own checks name what is wrong)
    return None
  if (summary.status != 'complete' or summary.removed or summary.pushed_removed or lost
      or (summary.pushed_path and not os.path.isdir(summary.pushed_path))):
    return None
  return summary
