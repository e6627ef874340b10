"""Beam's SDK worker pool, listening on 127.0.0.1 only: the process the engines' EXTERNAL
environment asks for Python workers. Each worker is a process of this environment (its python,
TF_USE_LEGACY_KERAS=1, the clone on PYTHONPATH), which has our executors and the preprocessing_fn.

`python -m engines.worker_pool --port PORT`. Hand-written rather than Beam's worker_pool_main,
which binds every network interface; the servicer that starts the workers is Beam's.
"""

import argparse
import logging
import sys
import time

import grpc
from apache_beam.portability.api import beam_fn_api_pb2_grpc
from apache_beam.runners.worker import worker_pool_main
from apache_beam.utils import thread_pool_executor

from engines import settings


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog='python -m engines.worker_pool', description=__doc__)
  parser.add_argument('--port', type=int, required=True)
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(message)s')
  server = grpc.server(thread_pool_executor.shared_unbounded_instance())
  server.add_insecure_port(f'{settings.HOST}:{args.port}')
  # use_process: each worker a process of its own, as Beam's worker_pool_main does.
  beam_fn_api_pb2_grpc.add_BeamFnExternalWorkerPoolServicer_to_server(
      worker_pool_main.BeamFnExternalWorkerPoolServicer(
          use_process=True, data_buffer_time_limit_ms=-1), server)
  server.start()
  logging.info('Worker pool listening on %s:%s', settings.HOST, args.port)
  while True:
    time.sleep(3600)


if __name__ == '__main__':
  sys.exit(main())
