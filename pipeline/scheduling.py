"""What a scheduled run needs to know before it starts, from the data root and ML Metadata only
(no TensorFlow, so `run --if-new-data` with nothing new answers in well under a second): which
spans the pipeline has ingested, whether a newer one has arrived, and which spans of the training
window were never ingested and must be read in this run.
"""

from pathlib import Path
from typing import List, Optional

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
