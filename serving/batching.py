"""Server-side batching: concurrent requests to one signature of one version merged into one model
call, with TF Serving's knobs and its batching parameters file.

In: BatchingParameters (TF Serving's defaults, or `--batching-parameters-file` in TF Serving's
BatchingParameters text format: `max_batch_size { value: 32 } batch_timeout_micros { value: 2000 }
num_batch_threads { value: 2 } max_enqueued_batches { value: 100 }`). Out: a Batcher whose
`run(key, call, inputs)` returns this request's rows of the merged call's outputs. As TF Serving's
shared batch scheduler: a request joins the open batch of its queue if it fits, otherwise opens a
new batch; a batch runs when full or when its oldest request has waited batch_timeout_micros; a
queue holds at most max_enqueued_batches batches (the open one included), beyond which a request
is refused with errors.ResourceExhausted (429 / RESOURCE_EXHAUSTED); num_batch_threads batches run
at once.
"""

import collections
import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Callable, Deque, Dict, Hashable, List, Mapping

import numpy as np
from google.protobuf import descriptor_pb2
from google.protobuf import descriptor_pool
from google.protobuf import message_factory
from google.protobuf import text_format
from google.protobuf import wrappers_pb2

from serving import errors
from serving.model_config import ConfigError


@dataclasses.dataclass(frozen=True)
class BatchingParameters:
  """TF Serving's BatchingParameters and their defaults (session_bundle_config.proto)."""
  max_batch_size: int = 1000
  batch_timeout_micros: int = 0
  num_batch_threads: int = os.cpu_count() or 1
  max_enqueued_batches: int = 10

  def __post_init__(self):
    for field in dataclasses.fields(self):
      minimum = 0 if field.name == 'batch_timeout_micros' else 1
      if getattr(self, field.name) < minimum:
        raise ConfigError(f'batching parameter {field.name} must be at least {minimum}, not '
                          f'{getattr(self, field.name)}')


def _parameters_message_class():
  """TF Serving's BatchingParameters message, declared here: tensorflow-serving-api does not ship
  session_bundle_config_pb2. The same package, names and field numbers, so that TF Serving's
  parameters files parse (with the fields this server implements; any other is an error)."""
  file = descriptor_pb2.FileDescriptorProto(
      name='fashion_pipeline/batching_parameters.proto', package='tensorflow.serving',
      syntax='proto3', dependency=['google/protobuf/wrappers.proto'])
  message = file.message_type.add(name='BatchingParameters')
  for number, field in enumerate(('max_batch_size', 'batch_timeout_micros',
                                  'max_enqueued_batches', 'num_batch_threads'), start=1):
    message.field.add(name=field, number=number,
                      type=descriptor_pb2.FieldDescriptorProto.TYPE_MESSAGE,
                      type_name='.google.protobuf.Int64Value',
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
  pool = descriptor_pool.DescriptorPool()  # private: never clashes with a real TF Serving proto
  pool.AddSerializedFile(wrappers_pb2.DESCRIPTOR.serialized_pb)
  pool.AddSerializedFile(file.SerializeToString())
  return message_factory.GetMessageClass(
      pool.FindMessageTypeByName('tensorflow.serving.BatchingParameters'))


def parse_parameters(text: str, where: str) -> BatchingParameters:
  proto = _parameters_message_class()()
  try:
    text_format.Parse(text, proto)
  except text_format.ParseError as e:
    raise ConfigError(f'{where}: not BatchingParameters in text format: {e}') from e
  given = {field.name: value.value for field, value in proto.ListFields()}
  try:
    return BatchingParameters(**given)
  except ConfigError as e:
    raise ConfigError(f'{where}: {e}') from e


def read_parameters(path: Path) -> BatchingParameters:
  try:
    text = path.read_text()
  except OSError as e:
    raise ConfigError(f'batching parameters file {path} cannot be read: {e.strerror}') from e
  return parse_parameters(text, str(path))


@dataclasses.dataclass
class _Task:
  inputs: Mapping[str, np.ndarray]
  size: int
  done: threading.Event = dataclasses.field(default_factory=threading.Event)
  outputs: Dict[str, np.ndarray] = None
  error: BaseException = None


@dataclasses.dataclass
class _Batch:
  call: Callable
  opened: float
  tasks: List[_Task] = dataclasses.field(default_factory=list)
  size: int = 0


class Batcher:
  """Batch queues, one per key (a model, version and signature), run by shared threads."""

  def __init__(self, parameters: BatchingParameters, on_batch: Callable[[Hashable, int], None]):
    self._parameters = parameters
    self._timeout_s = parameters.batch_timeout_micros / 1e6
    self._on_batch = on_batch  # called with each merged call's key and size
    self._queues: Dict[Hashable, Deque[_Batch]] = collections.defaultdict(collections.deque)
    self._condition = threading.Condition()
    self._stopping = False
    self._threads = [threading.Thread(target=self._work, name=f'batch-{i}', daemon=True)
                     for i in range(parameters.num_batch_threads)]
    for thread in self._threads:
      thread.start()

  def run(self, key: Hashable, call: Callable[..., Dict[str, np.ndarray]],
          inputs: Mapping[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Queues the request (inputs checked already, all of one batch size) and waits for it."""
    size = len(next(iter(inputs.values())))
    limit = self._parameters.max_batch_size
    if size > limit:
      raise errors.InvalidArgument(f'Task size {size} is larger than maximum input batch '
                                      f'size {limit} (batching max_batch_size)')
    task = _Task(inputs, size)
    with self._condition:
      queue = self._queues[key]
      if queue and queue[-1].size + size <= limit:
        batch = queue[-1]
      elif len(queue) >= self._parameters.max_enqueued_batches:
        raise errors.ResourceExhausted(
            'The batch scheduling queue to which this task was submitted is full '
            f'({len(queue)} batches: max_enqueued_batches)')
      else:
        batch = _Batch(call, time.monotonic())
        queue.append(batch)
      batch.tasks.append(task)
      batch.size += size
      self._condition.notify()
    task.done.wait()
    if task.error is not None:
      raise task.error
    return task.outputs

  def _ready(self, now: float):
    """The key of a queue whose first batch may run (full, behind another, or timed out), and
    the time until the next timeout otherwise."""
    wait = None
    for key, queue in self._queues.items():
      if not queue:
        continue
      first = queue[0]
      due = first.opened + self._timeout_s
      if len(queue) > 1 or first.size >= self._parameters.max_batch_size or due <= now:
        return key, 0
      wait = due - now if wait is None else min(wait, due - now)
    return None, wait

  def _work(self) -> None:
    while True:
      with self._condition:
        while True:
          if self._stopping:
            return
          key, wait = self._ready(time.monotonic())
          if key is not None:
            batch = self._queues[key].popleft()
            break
          self._condition.wait(wait)
      self._run_batch(key, batch)

  def _run_batch(self, key: Hashable, batch: _Batch) -> None:
    try:
      names = batch.tasks[0].inputs.keys()
      merged = {name: np.concatenate([task.inputs[name] for task in batch.tasks])
                for name in names}
      outputs = batch.call(merged)
      self._on_batch(key, batch.size)
      offsets = np.cumsum([task.size for task in batch.tasks])[:-1]
      split = {name: np.split(array, offsets) for name, array in outputs.items()}
      for i, task in enumerate(batch.tasks):
        task.outputs = {name: parts[i] for name, parts in split.items()}
    except BaseException as e:  # pylint: disable=broad-except  (each waiting request gets it)
      for task in batch.tasks:
        task.error = e
    finally:
      for task in batch.tasks:
        task.done.set()

  def stop(self) -> None:
    with self._condition:
      self._stopping = True
      self._condition.notify_all()
    for thread in self._threads:
      thread.join()
