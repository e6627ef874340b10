"""A run's fingerprint (pipeline/fingerprint.py) in ML Metadata: a custom property of the run's
pipeline_run context, so that the next `run` can see that nothing changed since.

In: the pipeline's configuration; a run id and its fingerprint. Out: `record` writes it (after a run
that exits 0); `newest` reads the newest run's id and fingerprint (None when none is recorded:
older runs, killed ones, those stopped at the data gate).
"""

from typing import Optional, Tuple

from mlmd import names
from mlmd import store as mlmd_store
from pipeline.configs import PipelineConfig


def record(config: PipelineConfig, run_id: str, fingerprint: str) -> None:
  """Stores fingerprint on run_id's pipeline_run context."""
  store = mlmd_store.connect(config.metadata_path, writable=True)
  run = mlmd_store.find_run(store, config, run_id)
  run.custom_properties[names.RUN_FINGERPRINT].string_value = fingerprint
  store.put_contexts([run])


def newest(config: PipelineConfig) -> Tuple[str, Optional[str]]:
  """(run id, fingerprint or None) of config's newest run; LookupError if there is no run."""
  run = mlmd_store.find_run(mlmd_store.open_store(config), config)
  recorded = run.custom_properties.get(names.RUN_FINGERPRINT)
  return run.name, recorded.string_value if recorded is not None else None
