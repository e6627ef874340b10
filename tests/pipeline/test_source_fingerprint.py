"""Editing the code that Transform and Trainer run changes their settings, so their cached results
are not reused."""

import types

from pipeline import configs
from pipeline import pipeline


def _package(directory, **files):
  directory.mkdir(exist_ok=True)
  for name, text in files.items():
    (directory / name).write_text(text)
  return types.SimpleNamespace(__file__=str(directory / '__init__.py'))


def test_the_fingerprint_follows_every_python_file_of_the_packages(tmp_path):
  package = _package(tmp_path / 'code', **{'__init__.py': '', 'model.py': 'EPOCHS = 10\n'})
  before = pipeline.source_fingerprint([package])
  assert pipeline.source_fingerprint([package]) == before
  _package(tmp_path / 'code', **{'model.py': 'EPOCHS = 11\n'})
  edited = pipeline.source_fingerprint([package])
  _package(tmp_path / 'code', **{'helpers.py': 'X = 1\n'})
  added = pipeline.source_fingerprint([package])
  assert len({before, edited, added}) == 3


def test_transform_and_trainer_carry_the_fingerprint(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  components = {c.id: c for c in pipeline.create_pipeline(config, str(tmp_path)).components}
  fingerprint = pipeline.source_fingerprint()
  for component_id in ('Transform', 'Trainer'):
    assert fingerprint in components[component_id].exec_properties['custom_config']
