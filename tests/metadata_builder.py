"""A real ML Metadata store (SQLite) that a test fills with the artifacts and executions it needs,
linked by events as TFX's orchestrator links them: for the resolvers, scheduling and the read side.
"""

from pathlib import Path
from typing import Dict, List, Optional

from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2
from tfx import types

from mlmd import names

Execution = metadata_store_pb2.Execution


class MetadataBuilder:
  """Puts artifacts and the executions that read and wrote them into a new SQLite store."""

  def __init__(self, path: Path, pipeline_name: str = 'fashion-pipeline'):
    connection = metadata_store_pb2.ConnectionConfig()
    connection.sqlite.filename_uri = str(path)  # read-write, created
    self.store = metadata_store.MetadataStore(connection)
    self._pipeline = self._context(names.PIPELINE_CONTEXT, pipeline_name)
    self._pipeline_name = pipeline_name
    self._artifacts = []  # every TFX artifact made, in order

  def _context(self, type_name: str, name: str) -> metadata_store_pb2.Context:
    type_id = self.store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
    [context_id] = self.store.put_contexts([metadata_store_pb2.Context(type_id=type_id,
                                                                       name=name)])
    return self.store.get_contexts_by_id([context_id])[0]

  def artifact(self, artifact_class, span: Optional[int] = None, uri: Optional[str] = None,
               **properties):
    """A TFX artifact of artifact_class, stored (LIVE), with a span and custom properties (int
    or string by their values' type)."""
    artifact = artifact_class()
    artifact.type_id = self.store.put_artifact_type(artifact.artifact_type)
    artifact.uri = uri or f'/root/{artifact_class.TYPE_NAME}/{len(self.store.get_artifacts()) + 1}'
    artifact.state = types.artifact.ArtifactState.PUBLISHED
    if span is not None:
      artifact.set_int_custom_property(names.SPAN, span)
    for name, value in properties.items():
      if isinstance(value, str):
        artifact.set_string_custom_property(name, value)
      else:
        artifact.set_int_custom_property(name, value)
    artifact.mlmd_artifact.state = metadata_store_pb2.Artifact.LIVE
    [artifact.id] = self.store.put_artifacts([artifact.mlmd_artifact])
    self._artifacts.append(artifact)
    return artifact

  def all(self, artifact_class) -> List:
    """Every artifact of artifact_class made so far, oldest first: what a resolver's channel of
    that type holds."""
    return [a for a in self._artifacts if a.type_name == artifact_class.TYPE_NAME]

  def execution(self, type_name: str, inputs: Optional[Dict[str, List]] = None,
                outputs: Optional[Dict[str, List]] = None, state=Execution.COMPLETE,
                component_id: Optional[str] = None, run_id: str = 'run-1',
                **string_properties) -> Execution:
    """An execution of type type_name (by default also its component id) in run_id that read
    inputs and wrote outputs (by key), with string custom properties."""
    type_id = self.store.put_execution_type(metadata_store_pb2.ExecutionType(name=type_name))
    artifacts_and_events = []
    for event_type, by_key in ((metadata_store_pb2.Event.INPUT, inputs or {}),
                               (metadata_store_pb2.Event.OUTPUT, outputs or {})):
      for key, artifacts in by_key.items():
        for index, artifact in enumerate(artifacts):
          event = metadata_store_pb2.Event(type=event_type)
          event.path.steps.add().key = key
          event.path.steps.add().index = index
          artifacts_and_events.append((artifact.mlmd_artifact, event))
    contexts = [self._pipeline, self._run(run_id), self._node(component_id or type_name)]
    execution = Execution(type_id=type_id, last_known_state=state)
    for name, value in string_properties.items():
      execution.custom_properties[name].string_value = value
    execution_id, _, _ = self.store.put_execution(execution, artifacts_and_events, contexts)
    return self.store.get_executions_by_id([execution_id])[0]

  def _run(self, run_id: str) -> metadata_store_pb2.Context:
    return self._get_or_put(names.RUN_CONTEXT, run_id)

  def _node(self, component_id: str) -> metadata_store_pb2.Context:
    return self._get_or_put(names.NODE_CONTEXT, f'{self._pipeline_name}.{component_id}')

  def _get_or_put(self, type_name: str, name: str) -> metadata_store_pb2.Context:
    existing = self.store.get_context_by_type_and_name(type_name, name)
    if existing is not None:
      return existing
    context = self._context(type_name, name)
    if type_name == names.RUN_CONTEXT:  # a run belongs to the pipeline, as TFX records it
      self.store.put_parent_contexts([metadata_store_pb2.ParentContext(
          child_id=context.id, parent_id=self._pipeline.id)])
    return context
