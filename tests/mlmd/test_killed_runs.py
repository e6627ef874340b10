"""Executions a killed run left unfinished are marked canceled; nothing else is touched."""

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipeline import configs
from mlmd import killed_runs

_STATE = metadata_store_pb2.Execution


def _store(config):
  connection = metadata_store_pb2.ConnectionConfig()
  connection.sqlite.filename_uri = str(config.metadata_path)
  return metadata_store.MetadataStore(connection)  # read-write, created if missing


def _executions(store, pipeline_name, states):
  """Executions in the given states, attributed to a pipeline context of that name."""
  context_type = store.put_context_type(metadata_store_pb2.ContextType(name='pipeline'))
  execution_type = store.put_execution_type(metadata_store_pb2.ExecutionType(name='Trainer'))
  [context_id] = store.put_contexts([metadata_store_pb2.Context(type_id=context_type,
                                                                name=pipeline_name)])
  ids = store.put_executions([metadata_store_pb2.Execution(type_id=execution_type,
                                                           last_known_state=state)
                              for state in states])
  store.put_attributions_and_associations(
      [], [metadata_store_pb2.Association(context_id=context_id, execution_id=i) for i in ids])
  return ids


def test_unfinished_executions_of_the_pipeline_are_canceled(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  store = _store(config)
  ours = _executions(store, config.pipeline_name,
                     [_STATE.COMPLETE, _STATE.CACHED, _STATE.RUNNING, _STATE.NEW, _STATE.FAILED])
  others = _executions(store, 'another-pipeline', [_STATE.RUNNING])
  assert killed_runs.cancel_unfinished_executions(config) == 2
  assert [e.last_known_state for e in store.get_executions_by_id(ours + others)] == [
      _STATE.COMPLETE, _STATE.CACHED, _STATE.CANCELED, _STATE.CANCELED, _STATE.FAILED,
      _STATE.RUNNING]
  assert killed_runs.cancel_unfinished_executions(config) == 0


def test_no_metadata_yet_is_nothing_to_do_and_creates_nothing(tmp_path):
  config = configs.build(output_dir=tmp_path / 'out', environ={})
  assert killed_runs.cancel_unfinished_executions(config) == 0
  assert not (tmp_path / 'out').exists()
