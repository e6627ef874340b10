"""Benchmark of the model server under hostile requests: the fuzzer (reliability/fuzz.py) at full
size against `fashion-pipeline serve` with its default limits.

In: a model dir (a serving dir, whose newest version is served, or one SavedModel). Out: the
report on stdout and bench/results/fuzz-<date>.json: requests tried, outcome counts per protocol
(HTTP statuses, gRPC code names, connections closed by the server or hung up by the fuzzer), the
server's resident memory before, at its peak and after, the time taken, and examples of any
server error. The server runs as a subprocess on free ports of 127.0.0.1, with --client-timeout 1
so that the stalled connections cost a second each.

  scripts/in-env python bench/fuzz_bench.py --model-dir output/serving [--rest 3000 --grpc 500]
"""

import argparse
import datetime
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from reliability import fuzz
from serving import versions
from serving.process import running_server

REPO_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = REPO_ROOT / 'bench' / 'results'
CLIENT_TIMEOUT_S = 1


def run(model_dir: Path, rest_count: int, grpc_count: int, seed: int) -> dict:
  version_dir = versions.resolve_model_path(model_dir)
  with tempfile.TemporaryDirectory(prefix='fuzz-bench-') as tmp:
    serving_dir = Path(tmp) / 'serving'
    shutil.copytree(version_dir, serving_dir / version_dir.name)
    with running_server(serving_dir, Path(tmp) / 'server.log',
                        '--client-timeout', str(CLIENT_TIMEOUT_S)) as server:
      report = fuzz.run(server, rest_count, grpc_count, seed=seed, time_limit_s=1800,
                        stall_s=CLIENT_TIMEOUT_S + 5,
                        on_progress=lambda text: print(text, file=sys.stderr))
      tracebacks = server.log().count('Traceback')
  return {'model': str(version_dir), 'cpu_count': os.cpu_count(),
          'load_average_at_end': os.getloadavg(),
          'date': datetime.datetime.now().isoformat(timespec='seconds'),
          'command': 'scripts/in-env python bench/fuzz_bench.py ' + ' '.join(sys.argv[1:]),
          'settings': {'seed': seed, 'client_timeout_s': CLIENT_TIMEOUT_S,
                       'other_limits': 'the server defaults'},
          'server_log_tracebacks': tracebacks, **report.to_dict()}


def main() -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
  parser.add_argument('--model-dir', type=Path, default=REPO_ROOT / 'output' / 'serving',
                      help='a serving dir or a SavedModel (default: %(default)s)')
  parser.add_argument('--rest', type=int, default=3000, help='REST requests (default: 3000)')
  parser.add_argument('--grpc', type=int, default=500, help='gRPC requests (default: 500)')
  parser.add_argument('--seed', type=int, default=0)
  args = parser.parse_args()
  results = run(args.model_dir, args.rest, args.grpc, args.seed)
  print(json.dumps(results, indent=2))
  RESULTS_DIR.mkdir(parents=True, exist_ok=True)
  path = RESULTS_DIR / f'fuzz-{datetime.date.today().isoformat()}.json'
  path.write_text(json.dumps(results, indent=2) + '\n')
  print(f'\nwritten to {path}')
  return 0 if results['rest_server_errors'] == results['grpc_server_errors'] == 0 else 1


if __name__ == '__main__':
  sys.exit(main())
