"""What a killed run left in ML Metadata, set straight before the next run starts.

In: the pipeline's configuration, called under the run lock (pipeline/run_lock.py). Out: every
execution of the pipeline still NEW or RUNNING is marked CANCELED; returns how many.

A run killed with kill -9 leaves its current component's execution RUNNING for ever: TFX's
LocalDagRunner neither reuses nor closes an execution of an earlier run (a run id is a new
context), so nothing else would correct it, and `fashion-pipeline report` or the run summary of
that run would show a component still running. Under the run lock no other run of this output
dir is alive, so every unfinished execution belongs to a dead run. What the killed run finished
stays as it was, and the next run reuses it from the cache; its unfinished component left only
files in a folder of its own execution id, which no artifact in ML Metadata points to.
"""

import logging

from ml_metadata.proto import metadata_store_pb2

from mlmd import names
from mlmd import store as mlmd_store
from pipeline.configs import PipelineConfig

_UNFINISHED = (metadata_store_pb2.Execution.NEW, metadata_store_pb2.Execution.RUNNING)


def cancel_unfinished_executions(config: PipelineConfig) -> int:
  """Marks CANCELED the executions that killed runs of config's pipeline left unfinished."""
  if not config.metadata_path.is_file():
    return 0
  store = mlmd_store.connect(config.metadata_path, writable=True)
  pipeline = store.get_context_by_type_and_name(names.PIPELINE_CONTEXT, config.pipeline_name)
  if pipeline is None:
    return 0
  unfinished = [execution for execution in store.get_executions_by_context(pipeline.id)
                if execution.last_known_state in _UNFINISHED]
  for execution in unfinished:
    execution.last_known_state = metadata_store_pb2.Execution.CANCELED
  if unfinished:
    store.put_executions(unfinished)
    logging.info('Marked %d executions of killed runs canceled', len(unfinished))
  return len(unfinished)
