"""What a killed run left in ML Metadata, set straight before the next run starts.

In: the pipeline's configuration, called under the run lock (pipeline/run_lock.py). Out: every
execution of the pipeline still NEW or RUNNING is marked CANCELED; returns how many. And, for
the read side, whether a run of the output dir is alive now (run_alive): if not, its executions
still RUNNING are a killed run's.

A run killed with kill -9 leaves its current component's execution RUNNING for ever: TFX's
LocalDagRunner neither reuses nor closes an execution of an earlier run (a run id is a new
context), so nothing else would correct it, and `fashion-pipeline report` or the run summary of
that run would show a component still running. Under the run lock no other run of this output
dir is alive, so every unfinished execution belongs to a dead run. What the killed run finished
stays as it was, and the next run reuses it from the cache; its unfinished component left only
files in a folder of its own execution id, which no artifact in ML Metadata points to.
"""

import json
import logging
import os

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


def run_alive(config: PipelineConfig) -> bool:
  """Whether a run holds the output dir now: the run lock's file (removed when a run ends, left
  by a killed one) names a live process. Only read: taking the lock to find out could refuse a
  run starting at that moment."""
  try:
    pid = json.loads(config.lock_path.read_text())['pid']
    os.kill(pid, 0)
  except PermissionError:  # alive, another user's
    return True
  except (OSError, ValueError, KeyError, TypeError):  # no file, no record, no such process
    return False
  return True
