"""The batcher and TF Serving's batching parameters file, without a server: concurrent requests
are merged into one call and each gets its own rows back; a full queue refuses the request."""

import threading
import time

import numpy as np
import pytest

from helpers import error_reading
from serving import batching
from serving.errors import InvalidArgument, ResourceExhausted
from serving.model_config import ConfigError


def test_tf_servings_batching_parameters_file_is_read(tmp_path):
  path = tmp_path / 'batching.config'
  path.write_text('max_batch_size { value: 32 }\nbatch_timeout_micros { value: 5000 }\n'
                  'num_batch_threads { value: 2 }\nmax_enqueued_batches { value: 100 }\n')
  assert batching.read_parameters(path) == batching.BatchingParameters(
      max_batch_size=32, batch_timeout_micros=5000, num_batch_threads=2, max_enqueued_batches=100)
  path.write_text('max_batch_size { value: 8 }')  # the rest: TF Serving's defaults
  assert batching.read_parameters(path) == batching.BatchingParameters(max_batch_size=8)


@pytest.mark.parametrize('text, message', [
    ('max_batch_size: 8', 'not BatchingParameters in text format'),
    ('allowed_batch_sizes: 8', 'has no field named "allowed_batch_sizes"'),
    ('num_batch_threads { value: 0 }', 'num_batch_threads must be at least 1, not 0'),
])
def test_a_bad_batching_parameters_file_is_refused_naming_it(tmp_path, text, message):
  assert message in error_reading(batching.read_parameters, tmp_path / 'batching.config', text,
                                  ConfigError)


def _double(calls):
  def call(inputs):
    calls.append(len(inputs['x']))
    return {'y': inputs['x'] * 2}
  return call


def test_concurrent_requests_are_merged_into_one_call_and_answered_each_with_its_rows():
  sizes = []
  parameters = batching.BatchingParameters(max_batch_size=8, batch_timeout_micros=1_000_000,
                                           num_batch_threads=1)
  batcher = batching.Batcher(parameters, on_batch=lambda key, size: sizes.append((key, size)))
  calls, answers = [], {}

  def request(i):
    answers[i] = batcher.run('key', _double(calls), {'x': np.full((1 + i % 2, 3), i)})

  threads = [threading.Thread(target=request, args=(i,)) for i in range(5)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  batcher.stop()
  # 1+2+1+2+1 examples, all within the timeout: one call
  assert calls == [7] and sizes == [('key', 7)]
  for i, answer in answers.items():
    assert (answer['y'] == np.full((1 + i % 2, 3), 2 * i)).all()


def test_a_full_queue_refuses_and_a_request_over_the_batch_size_is_invalid():
  parameters = batching.BatchingParameters(max_batch_size=2, batch_timeout_micros=1_000_000,
                                           num_batch_threads=1, max_enqueued_batches=1)
  batcher = batching.Batcher(parameters, on_batch=lambda key, size: None)
  first = threading.Thread(target=batcher.run, args=('key', _double([]), {'x': np.ones((1, 1))}))
  first.start()
  time.sleep(0.2)  # the first request's batch is open, waiting for its timeout
  with pytest.raises(ResourceExhausted, match='queue .* is full'):
    batcher.run('key', _double([]), {'x': np.ones((2, 1))})  # does not fit: a second batch
  with pytest.raises(InvalidArgument,
                     match='Task size 3 is larger than maximum input batch size 2'):
    batcher.run('key', _double([]), {'x': np.ones((3, 1))})
  first.join()
  batcher.stop()
