"""Benchmark of `fashion-pipeline serve`: its overhead over calling the SavedModel in-process.

In: a model dir (a serving dir, whose newest version is used, or one SavedModel). Out: a table on
stdout and bench/results/serving-<date>.json. For REST (JSON row format), gRPC (TensorProtos) and
the same SavedModel called in this process (the `predict_images` signature each time):
single-image latency p50/p99 over sequential requests, and throughput with several concurrent
clients for batches of 1 and of 100 images. The server runs as a subprocess on 127.0.0.1, exactly
as `fashion-pipeline serve`; clients and server share the machine's cores, so read the ratios
rather than the absolute numbers, and note what else was running (the JSON records the load).

  scripts/in-env python bench/serving_bench.py --model-dir output/serving
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault('TF_USE_LEGACY_KERAS', '1')
os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')
# pylint: disable=wrong-import-position  (TensorFlow reads the two variables above when imported)

import grpc
import httpx
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / 'tests'))  # the tests' way of running the server

from fashion_mnist import features
from serving import versions
from server_process import MODEL_NAME, running_server

RESULTS_DIR = REPO_ROOT / 'bench' / 'results'


def _images(count: int) -> np.ndarray:
  return np.random.default_rng(0).integers(0, 256, (count, *features.IMAGE_SHAPE)).astype(
      np.float32)


def _rest_call(url: str, batch: int):
  body = json.dumps({'signature_name': features.IMAGES_SIGNATURE,
                     'instances': _images(batch).tolist()}).encode()
  client = httpx.Client(base_url=url, timeout=60,
                        headers={'Content-Type': 'application/json'})

  def call():
    response = client.post(f'/v1/models/{MODEL_NAME}:predict', content=body)
    assert response.status_code == 200, response.text
  return call


def _grpc_call(target: str, batch: int):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.signature_name = features.IMAGES_SIGNATURE
  request.inputs[features.IMAGES_INPUT_KEY].CopyFrom(tf.make_tensor_proto(_images(batch)))
  stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
  return lambda: stub.Predict(request, timeout=60)


def _in_process_call(model, batch: int):
  images = tf.constant(_images(batch))
  function = model.signatures[features.IMAGES_SIGNATURE]
  # .numpy() as the server does: the outputs are read out, not left lazy.
  return lambda: {name: t.numpy() for name, t in function(images=images).items()}


def latency_ms(call, count: int) -> dict:
  for _ in range(min(20, count)):  # warm-up: connections, first-call graph work
    call()
  times = []
  for _ in range(count):
    start = time.perf_counter()
    call()
    times.append((time.perf_counter() - start) * 1000)
  return {'p50_ms': float(np.percentile(times, 50)), 'p99_ms': float(np.percentile(times, 99)),
          'requests': count}


def throughput(make_call, batch: int, clients: int, seconds: float) -> dict:
  """Requests and images a second, from `clients` threads each with its own connection."""
  calls = [make_call() for _ in range(clients)]
  for call in calls:
    call()
  counts = [0] * clients
  deadline = time.perf_counter() + seconds

  def loop(i):
    while time.perf_counter() < deadline:
      calls[i]()
      counts[i] += 1

  start = time.perf_counter()
  threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  elapsed = time.perf_counter() - start
  return {'requests_per_s': sum(counts) / elapsed, 'images_per_s': sum(counts) * batch / elapsed,
          'requests': sum(counts), 'clients': clients, 'batch': batch}


def run(model_dir: Path, requests: int, clients: int, seconds: float) -> dict:
  version_dir = versions.resolve_model_path(model_dir)
  model = tf.saved_model.load(str(version_dir))
  results = {'latency_1_image': {}, 'throughput': {}}
  with tempfile.TemporaryDirectory(prefix='serving-bench-') as tmp:
    serving_dir = Path(tmp) / 'serving'
    shutil.copytree(version_dir, serving_dir / version_dir.name)
    with running_server(serving_dir, Path(tmp) / 'server.log') as server:
      makers = {
          'rest': lambda batch: _rest_call(server.rest_url, batch),
          'grpc': lambda batch: _grpc_call(server.grpc_target, batch),
          'in_process': lambda batch: _in_process_call(model, batch),
      }
      for name, make in makers.items():
        print(f'latency: {name}', file=sys.stderr)
        results['latency_1_image'][name] = latency_ms(make(1), requests)
      for batch in (1, 100):
        for name, make in makers.items():
          print(f'throughput: {name}, batch {batch}', file=sys.stderr)
          results['throughput'][f'{name}_batch_{batch}'] = throughput(
              lambda make=make, batch=batch: make(batch), batch, clients, seconds)
  return {'model': str(version_dir), 'cpu_count': os.cpu_count(),
          'load_average_at_end': os.getloadavg(),
          'date': datetime.datetime.now().isoformat(timespec='seconds'),
          'settings': {'latency_requests': requests, 'clients': clients,
                       'seconds_per_throughput_run': seconds},
          **results}


def table(results: dict) -> str:
  latency = results['latency_1_image']
  base = latency['in_process']['p50_ms']
  lines = [f'{results["cpu_count"]} cores, load average at end {results["load_average_at_end"]}',
           '', 'single image, sequential    p50 ms   p99 ms   p50 / in-process',
           *(f'  {name:<25} {v["p50_ms"]:7.2f}  {v["p99_ms"]:7.2f}   {v["p50_ms"] / base:6.1f}x'
             for name, v in latency.items()),
           '', f'throughput, {results["settings"]["clients"]} concurrent clients'
           '    req/s   images/s   in-process / this']
  for key, v in results['throughput'].items():
    reference = results['throughput']['in_process_batch_' + str(v['batch'])]['images_per_s']
    lines.append(f'  {key:<33} {v["requests_per_s"]:7.0f}  {v["images_per_s"]:9.0f}   '
                 f'{reference / v["images_per_s"]:6.1f}x')
  return '\n'.join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model-dir', type=Path, default=REPO_ROOT / 'output' / 'serving',
                      help='a serving dir or a SavedModel (default: %(default)s)')
  parser.add_argument('--requests', type=int, default=300, help='per latency measurement')
  parser.add_argument('--clients', type=int, default=4, help='concurrent clients')
  parser.add_argument('--seconds', type=float, default=5.0, help='per throughput measurement')
  args = parser.parse_args()
  results = run(args.model_dir, args.requests, args.clients, args.seconds)
  print(table(results))
  RESULTS_DIR.mkdir(parents=True, exist_ok=True)
  path = RESULTS_DIR / f'serving-{datetime.date.today().isoformat()}.json'
  path.write_text(json.dumps(results, indent=2) + '\n')
  print(f'\nwritten to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
