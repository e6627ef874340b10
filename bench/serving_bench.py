"""Benchmark of `fashion-pipeline serve`: throughput and latency with batching off and on, beside
the SavedModel called in-process, and the server's memory after many pushes per version policy.

In: a model dir (a serving dir, whose newest version is used, or one SavedModel). Out: a table on
stdout and bench/results/serving-<date>.json. For 1, 8 and 32 concurrent clients, each sending
single images one after another (the `predict_images` signature) for --seconds: requests a second
and p50/p99 latency over REST (JSON row format) and gRPC (TensorProtos), against one server with
batching off and one with batching on (the parameters below), and the same model called in this
process by as many threads. Then the resident memory of a server process after 20 versions were
pushed to it one by one, with --version-policy latest:1 and with all. The servers run as
subprocesses on 127.0.0.1, exactly as `fashion-pipeline serve`; clients and server share the
machine's cores, so read the ratios rather than the absolute numbers (the JSON records the load).

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
import psutil
import tensorflow as tf
from tensorflow_serving.apis import predict_pb2
from tensorflow_serving.apis import prediction_service_pb2_grpc

from components import pusher
from fashion_mnist import features
from serving import versions
from serving.process import MODEL_NAME, PREDICT, running_server

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / 'bench' / 'results'
CLIENTS = (1, 8, 32)
PUSHES = 20
# Up to 32 images a call (the most clients here), waiting at most 2 ms for them; a thread per core.
BATCHING_PARAMETERS = {'max_batch_size': 32, 'batch_timeout_micros': 2000,
                       'num_batch_threads': os.cpu_count() or 1, 'max_enqueued_batches': 100}


def _image() -> np.ndarray:
  return np.random.default_rng(0).integers(0, 256, (1, *features.IMAGE_SHAPE)).astype(np.float32)


def _rest_call(url: str):
  body = json.dumps({'signature_name': features.IMAGES_SIGNATURE,
                     'instances': _image().tolist()}).encode()
  client = httpx.Client(base_url=url, timeout=60, headers={'Content-Type': 'application/json'})

  def call():
    response = client.post(PREDICT, content=body)
    assert response.status_code == 200, response.text
  return call


def _grpc_call(target: str):
  request = predict_pb2.PredictRequest()
  request.model_spec.name = MODEL_NAME
  request.model_spec.signature_name = features.IMAGES_SIGNATURE
  request.inputs[features.IMAGES_INPUT_KEY].CopyFrom(tf.make_tensor_proto(_image()))
  stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(target))
  return lambda: stub.Predict(request, timeout=60)


def _in_process_call(model):
  images = tf.constant(_image())
  function = model.signatures[features.IMAGES_SIGNATURE]
  # .numpy() as the server does: the outputs are read out, not left lazy.
  return lambda: {name: t.numpy() for name, t in function(images=images).items()}


def measure(make_call, clients: int, seconds: float) -> dict:
  """Requests a second and latency percentiles, from `clients` threads each with its own
  connection, sending one request after another for `seconds`."""
  calls = [make_call() for _ in range(clients)]
  for call in calls:  # warm-up: connections, first-call graph work
    call()
  latencies = [[] for _ in range(clients)]
  deadline = time.perf_counter() + seconds

  def loop(i):
    while time.perf_counter() < deadline:
      start = time.perf_counter()
      calls[i]()
      latencies[i].append(time.perf_counter() - start)

  start = time.perf_counter()
  threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
  for thread in threads:
    thread.start()
  for thread in threads:
    thread.join()
  elapsed = time.perf_counter() - start
  times_ms = np.concatenate([np.array(t) for t in latencies]) * 1000
  return {'requests_per_s': len(times_ms) / elapsed, 'p50_ms': float(np.percentile(times_ms, 50)),
          'p99_ms': float(np.percentile(times_ms, 99)), 'requests': len(times_ms),
          'clients': clients}


def _serving_dir(tmp: Path, version_dir: Path, name: str) -> Path:
  serving_dir = tmp / name
  shutil.copytree(version_dir, serving_dir / version_dir.name)
  return serving_dir


def _throughput(tmp: Path, version_dir: Path, model, seconds: float) -> dict:
  parameters = tmp / 'batching.config'
  parameters.write_text(''.join(f'{k} {{ value: {v} }}\n' for k, v in BATCHING_PARAMETERS.items()))
  results = {'in_process': {}}
  for clients in CLIENTS:
    print(f'in-process, {clients} threads', file=sys.stderr)
    results['in_process'][str(clients)] = measure(lambda: _in_process_call(model), clients,
                                                  seconds)
  for batching, extra in (('batching_off', ()),
                          ('batching_on', ('--enable-batching', '--batching-parameters-file',
                                           str(parameters)))):
    with running_server(_serving_dir(tmp, version_dir, batching), tmp / f'{batching}.log',
                        *extra) as server:
      for api, make in (('rest', lambda: _rest_call(server.rest_url)),
                        ('grpc', lambda: _grpc_call(server.grpc_target))):
        results[f'{api}_{batching}'] = {}
        for clients in CLIENTS:
          print(f'{api}, {batching}, {clients} clients', file=sys.stderr)
          results[f'{api}_{batching}'][str(clients)] = measure(make, clients, seconds)
  return results


def _memory_after_pushes(tmp: Path, version_dir: Path, policy: str) -> dict:
  """The server's resident memory with the first version loaded, and after PUSHES more versions
  were pushed (each waited for until it served)."""
  serving_dir = _serving_dir(tmp, version_dir, f'memory-{policy.replace(":", "-")}')
  with running_server(serving_dir, tmp / f'memory-{policy}.log', '--version-policy', policy,
                      '--poll-interval', '0.2') as server, \
      httpx.Client(base_url=server.rest_url, timeout=60) as client:
    process = psutil.Process(server.process.pid)
    start = process.memory_info().rss
    for i in range(PUSHES):
      model = tmp / f'model-{policy}-{i}'
      shutil.copytree(version_dir, model)
      (model / 'assets.extra' / 'retrained.txt').write_text(f'push {i}\n')  # a new version
      version = os.path.basename(pusher.publish(str(model), str(serving_dir)))
      while 'AVAILABLE' not in client.get(f'/v1/models/{MODEL_NAME}/versions/{version}').text:
        time.sleep(0.05)  # not seen yet (404), or LOADING
    time.sleep(1)  # the last switch's unload
    statuses = client.get(f'/v1/models/{MODEL_NAME}').json()['model_version_status']
    end = process.memory_info().rss
  return {'policy': policy, 'versions_pushed': PUSHES + 1,
          'versions_loaded': sum(s['state'] == 'AVAILABLE' for s in statuses),
          'rss_mb_first_version': start / 2**20, 'rss_mb_after_pushes': end / 2**20}


def run(model_dir: Path, seconds: float) -> dict:
  version_dir = versions.resolve_model_path(model_dir)
  model = tf.saved_model.load(str(version_dir))
  with tempfile.TemporaryDirectory(prefix='serving-bench-') as tmp:
    throughput = _throughput(Path(tmp), version_dir, model, seconds)
    memory = [_memory_after_pushes(Path(tmp), version_dir, policy)
              for policy in ('latest:1', 'all')]
  return {'model': str(version_dir), 'cpu_count': os.cpu_count(),
          'load_average_at_end': os.getloadavg(),
          'date': datetime.datetime.now().isoformat(timespec='seconds'),
          'command': 'scripts/in-env python bench/serving_bench.py ' + ' '.join(sys.argv[1:]),
          'settings': {'seconds_per_measurement': seconds, 'batching': BATCHING_PARAMETERS},
          'single_image_requests': throughput, 'memory_after_pushes': memory}


def table(results: dict) -> str:
  lines = [f'{results["cpu_count"]} cores, load average at end {results["load_average_at_end"]}',
           '', 'single images, N concurrent clients   ' + ''.join(
               f'{f"{n} client" + ("s" if n > 1 else ""):>28}' for n in CLIENTS),
           ' ' * 39 + '       req/s  p50 ms  p99 ms' * len(CLIENTS)]
  for name, by_clients in results['single_image_requests'].items():
    lines.append(f'  {name:<37}' + ''.join(
        f'{v["requests_per_s"]:12.0f}{v["p50_ms"]:8.2f}{v["p99_ms"]:8.2f}'
        for v in by_clients.values()))
  lines += ['', f'memory after pushing {PUSHES} versions    loaded   first version   after']
  for m in results['memory_after_pushes']:
    lines.append(f'  {m["policy"]:<37}{m["versions_loaded"]:6d}   '
                 f'{m["rss_mb_first_version"]:9.0f} MB'
                 f'   {m["rss_mb_after_pushes"]:5.0f} MB')
  return '\n'.join(lines)


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model-dir', type=Path, default=REPO_ROOT / 'output' / 'serving',
                      help='a serving dir or a SavedModel (default: %(default)s)')
  parser.add_argument('--seconds', type=float, default=3.0, help='per measurement')
  args = parser.parse_args()
  results = run(args.model_dir, args.seconds)
  print(table(results))
  RESULTS_DIR.mkdir(parents=True, exist_ok=True)
  path = RESULTS_DIR / f'serving-{datetime.date.today().isoformat()}.json'
  path.write_text(json.dumps(results, indent=2) + '\n')
  print(f'\nwritten to {path}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
