"""TFMA's proto modules load in a process that has imported nothing of TFMA or TensorFlow."""

import subprocess
import sys

from helpers import REPO_ROOT

_LOAD_EVERY_PROTO = '''
import sys
from mlmd import evaluation
for name in ('validation_result_pb2', 'metrics_for_slice_pb2', 'config_pb2'):
  evaluation._tfma_proto(name)
print(sorted(m for m in ('tensorflow', 'tensorflow_model_analysis') if m in sys.modules))
'''


def test_tfmas_protos_load_on_their_own_without_tensorflow():
  # A fresh process, as `fashion-pipeline runs` is: TFMA 0.52's generated modules do not import
  # what they depend on, so the order they load in matters there and nowhere else.
  result = subprocess.run([sys.executable, '-c', _LOAD_EVERY_PROTO], cwd=REPO_ROOT,
                          capture_output=True, text=True, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == '[]'
