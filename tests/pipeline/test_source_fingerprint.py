"""Editing the code that Transform and Trainer run changes their settings, so their cached results
are not reused; editing any other code of ours does not."""

import subprocess
import sys
from pathlib import Path

from pipeline import configs
from pipeline import pipeline

# Our top-level packages: everything else imported is a library.
_OURS = ('components', 'fashion_mnist', 'models', 'pipeline', 'report', 'serving')


def test_the_fingerprint_follows_the_files_content_and_names(tmp_path):
  model, helper = tmp_path / 'model.py', tmp_path / 'helpers.py'
  model.write_text('EPOCHS = 10\n')
  helper.write_text('X = 1\n')
  before = pipeline.source_fingerprint([model])
  assert pipeline.source_fingerprint([model]) == before
  model.write_text('EPOCHS = 11\n')
  edited = pipeline.source_fingerprint([model])
  added = pipeline.source_fingerprint([model, helper])
  assert len({before, edited, added}) == 3


def test_the_training_code_is_exactly_what_transform_and_trainer_import():
  # In a fresh process: which of our modules does loading preprocessing_fn and run_fn bring in?
  script = f'''
import importlib, sys
for name in {[pipeline.PREPROCESSING_FN, pipeline.RUN_FN]!r}:
  importlib.import_module(name.rsplit('.', 1)[0])
for module in sys.modules.values():
  if module.__name__.split('.')[0] in {_OURS!r} and getattr(module, '__file__', None):
    print(module.__file__)
'''
  result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                          check=True)
  imported = {Path(line).resolve() for line in result.stdout.split()}
  fingerprinted = {path.resolve() for path in pipeline.training_code_files()}
  assert imported == fingerprinted
  assert {path.parent.name for path in fingerprinted} == {'models', 'fashion_mnist'}


def test_transform_and_trainer_carry_the_fingerprint(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  components = {c.id: c for c in pipeline.create_pipeline(config, str(tmp_path)).components}
  fingerprint = pipeline.source_fingerprint()
  for component_id in ('Transform', 'Trainer'):
    assert fingerprint in components[component_id].exec_properties['custom_config']
