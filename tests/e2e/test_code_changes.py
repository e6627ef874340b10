"""Which code edits make the pipeline train again: on a copy of the project's code, a comment
added to the Pusher's and a resolver's files leaves Transform and Trainer cached; one added to the
model's code runs them again (their settings carry the fingerprint of models/)."""

import os
import shutil

import pytest

from helpers import REPO_ROOT, run_cli, write_dataset
from mlmd import run_summary
from pipeline import configs

pytestmark = pytest.mark.e2e

# What the command line runs: our packages, the entry point and the schema.
# Everything the command imports: nothing may come from the clone the environment's editable
# install last pointed at.
_CODE = ('components', 'engines', 'fashion_mnist', 'mlmd', 'models', 'pipeline', 'report',
         'serving', 'schemas', 'pipeline_runner.py')


def _states(output_dir) -> dict:
  summary = run_summary.summarize(configs.build(output_dir=output_dir, environ={}))
  return {component: summary.state_of(component)
          for component in ('Transform', 'Trainer', 'Evaluator', 'Pusher')}


def test_only_edits_of_the_training_code_retrain(tmp_path):
  code = tmp_path / 'code'
  for name in _CODE:
    copy = shutil.copytree if (REPO_ROOT / name).is_dir() else shutil.copy
    copy(REPO_ROOT / name, code / name)
  env = {**os.environ, 'PYTHONPATH': str(code)}
  data_dir, output_dir = write_dataset(tmp_path / 'data'), tmp_path / 'out'

  def run_after(*edited_files):
    for path in edited_files:
      with open(code / path, 'a', encoding='utf-8') as f:
        f.write('# an edit that changes nothing it does\n')
    result = run_cli('run', '--data-dir', str(data_dir), '--output-dir', str(output_dir),
                     '--epochs', '1', '--accuracy-threshold', '0.5', env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return _states(output_dir)

  assert set(run_after().values()) == {'ran'}
  assert set(run_after('components/pusher.py', 'components/resolvers.py',
                       'components/data_gate.py').values()) == {'cached'}
  assert run_after('models/model.py') == {
      'Transform': 'ran', 'Trainer': 'ran', 'Evaluator': 'ran', 'Pusher': 'ran'}
