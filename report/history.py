"""The report's history section: the last runs' accuracies, blessings and pushes, this run's
baseline, and the serving versions, read from ML Metadata without TensorFlow.

In: the pipeline's configuration (its metadata file, serving dir and run lock) and this run's id.
Out: a content.HistorySection, or None when the metadata file is not there (Kubeflow brings its
own ML Metadata).

Cheap enough for every run: the runs are read in bulk (mlmd/store.py History), the accuracies
from the evaluations' few hundred bytes of TFMA files.
"""

import os
from typing import Optional

from mlmd import lineage
from mlmd import names
from mlmd import run_summary
from mlmd import store as mlmd_store
from pipeline.configs import PipelineConfig
from report import content

LAST_RUNS = 50  # the runs the chart shows


def gather(config: PipelineConfig, run_id: str) -> Optional[content.HistorySection]:
  """The history up to and including run_id (the run writing its report); None without one."""
  if not config.metadata_path.is_file():
    return None
  store = mlmd_store.open_store(config)
  run_ids = [run.name for run in mlmd_store.pipeline_runs(store, config)]
  if run_id not in run_ids:
    return None
  total = run_ids.index(run_id) + 1
  summaries = run_summary.history(config, last=LAST_RUNS, until=run_id)
  this = next((s for s in summaries if s.run_id == run_id), None)
  baseline = None
  if this is not None and this.baseline_model_uri:
    baseline = next((s for s in summaries if s.model_uri == this.baseline_model_uri
                     and s.pushed_version), None)
  pushed_by = {}
  for summary in summaries:
    if summary.pushed_version:
      pushed_by.setdefault(summary.pushed_version, summary.run_id)
  serving_dir = str(config.serving_dir)
  present = {name for name in (os.listdir(serving_dir) if os.path.isdir(serving_dir) else ())
             if name.isdigit()}
  recorded = lineage.pushes(store)
  versions = [content.ServingVersion(
      version=version, present=version in present,
      removed=version in recorded and mlmd_store.is_removed(recorded[version]),
      run_id=pushed_by.get(version))
      for version in sorted(present | set(recorded), key=int, reverse=True)]
  return content.HistorySection(
      runs=[content.HistoryRun(
          run_id=s.run_id, accuracy=s.accuracy, blessed=s.blessed,
          pushed_version=s.pushed_version if s.state_of(names.PUSHER) != 'cached' else None,
          states=s.states(), note=s.note(), is_this_run=s is this, is_baseline=s is baseline)
          for s in summaries],
      total_runs=total, accuracy_threshold=config.accuracy_threshold,
      baseline_accuracy=this.baseline_accuracy if this else None,
      baseline_version=baseline.pushed_version if baseline else None,
      serving_versions=versions)
