"""TF Serving's model config file, version policies, and promote/rollback's atomic edits, without
a server (the CLI commands are run for real: they import no TensorFlow)."""

import re
from pathlib import Path

import pytest
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from helpers import error_reading, run_cli
from serving import model_config
from serving.model_config import ConfigError, VersionPolicy


def _serving_dir(tmp_path: Path, *versions: int) -> Path:
  serving_dir = tmp_path / 'serving'
  for version in versions:
    (serving_dir / str(version)).mkdir(parents=True)
  (serving_dir / '.9.incomplete').mkdir(parents=True)  # not a version
  return serving_dir


@pytest.mark.parametrize('text, on_disk, selected', [
    ('latest:1', [1, 2, 3], {3}),
    ('latest:2', [1, 2, 3], {2, 3}),
    ('all', [1, 2, 3], {1, 2, 3}),
    ('specific:1,3,7', [1, 2, 3], {1, 3}),
])
def test_version_policies_select_as_tf_serving(text, on_disk, selected):
  policy = model_config.parse_policy(text)
  assert policy.select(on_disk) == selected
  assert policy.text() == text
  assert VersionPolicy.from_proto(policy.to_proto(), 'x') == policy


@pytest.mark.parametrize('text', ['latest:0', 'latest', 'newest:1', 'specific:', 'specific:a',
                                  'all:2'])
def test_a_bad_version_policy_is_refused_with_the_forms_it_takes(text):
  with pytest.raises(ConfigError, match='version policy must be latest:N'):
    model_config.parse_policy(text)


def test_a_config_file_with_two_models_and_labels_is_read(tmp_path):
  path = tmp_path / 'models.config'
  path.write_text('''
model_config_list {
  config { name: "fashion" base_path: "/srv/a" model_platform: "tensorflow"
           model_version_policy { specific { versions: 1 versions: 2 } }
           version_labels { key: "stable" value: 1 } version_labels { key: "canary" value: 2 } }
  config { name: "other" base_path: "/srv/b" model_platform: "tensorflow" }
}''')
  fashion, other = model_config.read(path)
  assert (fashion.name, fashion.base_path, fashion.policy.text()) == ('fashion', Path('/srv/a'),
                                                                     'specific:1,2')
  assert fashion.labels == {'stable': 1, 'canary': 2}
  assert (other.name, other.policy.text(), other.labels) == ('other', 'latest:1', {})
  # What we write, TF Serving's own proto reads back the same.
  written = model_server_config_pb2.ModelServerConfig()
  text_format.Parse(model_config.to_text([fashion, other]), written)
  assert [c.name for c in written.model_config_list.config] == ['fashion', 'other']
  assert dict(written.model_config_list.config[0].version_labels) == {'stable': 1, 'canary': 2}


@pytest.mark.parametrize('text, message', [
    ('model_config_list { config { name: "a" base_path: "/x" } ', 'not a ModelServerConfig'),
    ('model_config_list { config { name: "a" base_path: "/x" nope: 1 } }', 'has no field named'),
    ('model_config_list { config { name: "a" } }', r'model "a"\): base_path is empty'),
    ('model_config_list { config { name: "a/b" base_path: "/x" } }', 'name must be letters'),
    ('model_config_list { config { name: "a" base_path: "/x" model_platform: "pytorch" } }',
     'model_platform must be "tensorflow"'),
    ('model_config_list { config { name: "a" base_path: "/x" } config { name: "a" '
     'base_path: "/y" } }', 'more than once'),
    ('', 'needs model_config_list'),
])
def test_a_bad_config_file_is_refused_naming_the_file_and_the_problem(tmp_path, text, message):
  assert re.search(message, error_reading(model_config.read, tmp_path / 'models.config', text,
                                          ConfigError))


def test_promote_and_rollback_edit_the_file_and_keep_a_history(tmp_path):
  serving_dir = _serving_dir(tmp_path, 100, 200, 300)
  path = tmp_path / 'models.config'
  # The first promote creates the file.
  change = model_config.promote(path, 100, 'stable', 'fashion', serving_dir)
  assert (change.previous, change.version) == (None, 100)
  (spec,) = model_config.read(path)
  assert spec.labels == {'stable': 100} and spec.policy.text() == 'specific:100'
  model_config.promote(path, 200, 'stable')
  model_config.promote(path, 300, 'stable')
  model_config.promote(path, 300, 'canary')
  (spec,) = model_config.read(path)
  # A specific policy gets each promoted version, so the label's version is loaded.
  assert spec.labels == {'stable': 300, 'canary': 300}
  assert spec.policy.text() == 'specific:100,200,300'
  assert model_config.labels_by_version(path, serving_dir) == {'300': ['canary', 'stable']}

  # Each rollback undoes one promote of that label.
  assert model_config.rollback(path, 'stable').version == 200
  assert model_config.rollback(path, 'stable').version == 100
  assert model_config.read(path)[0].labels == {'stable': 100, 'canary': 300}
  with pytest.raises(ConfigError, match='nothing to roll back to'):
    model_config.rollback(path, 'stable')
  assert sorted(p.name for p in tmp_path.iterdir()) == [
      'models.config', 'models.config.history', 'serving']  # no temporary file left


def test_promote_refuses_a_version_that_would_not_be_loaded(tmp_path):
  serving_dir = _serving_dir(tmp_path, 100, 200)
  path = tmp_path / 'models.config'
  path.write_text(model_config.to_text([model_config.ModelSpec(
      'fashion', serving_dir, model_config.parse_policy('latest:1'))]))
  before = path.read_text()
  with pytest.raises(ConfigError, match='has no version 150 in .*it has 100, 200'):
    model_config.promote(path, 150, 'stable')
  with pytest.raises(ConfigError, match='not served under its policy latest:1'):
    model_config.promote(path, 100, 'stable')
  with pytest.raises(ConfigError, match='label must be letters'):
    model_config.promote(path, 200, 'a/b')
  assert path.read_text() == before
  assert model_config.promote(path, 200, 'stable').version == 200


def test_promote_and_rollback_commands(tmp_path):
  serving_dir = _serving_dir(tmp_path, 100, 200)
  path = tmp_path / 'models.config'
  common = ('--model-config-file', str(path))
  result = run_cli('promote', '100', *common, '--model-dir', str(serving_dir))
  assert result.returncode == 0, result.stderr
  assert result.stdout.strip() == f'label "stable" of model "fashion": unset -> 100 ({path})'
  assert run_cli('promote', '200', *common).stdout.strip().endswith('100 -> 200 ' f'({path})')
  result = run_cli('rollback', *common)
  assert result.returncode == 0 and '200 -> 100' in result.stdout
  result = run_cli('promote', '999', *common)
  assert result.returncode == 2
  assert result.stderr.startswith('fashion-pipeline: error: model "fashion" has no version 999')


@pytest.mark.parametrize('args, message', [
    (['--model-config-file', '{tmp}/missing.config'], 'missing.config cannot be read'),
    (['--model-config-file', '{tmp}/bad.config'], 'bad.config: not a ModelServerConfig'),
    (['--model-dir', '{tmp}/serving', '--version-policy', 'latest:0'], 'version policy must be'),
    (['--model-config-file', '{tmp}/labelled.config'],
     r'labelled.config \(model "fashion"\): version label "stable" names version 7, which is not '
     'in .*serving'),
    (['--model-dir', '{tmp}/nowhere'], 'model "fashion": base path .*nowhere is not a directory'),
    (['--model-dir', '{tmp}/serving', '--batching-parameters-file', '{tmp}/bad.config'],
     'needs --enable-batching'),
    (['--model-dir', '{tmp}/serving', '--enable-batching', '--batching-parameters-file',
      '{tmp}/bad.config'], 'bad.config: not BatchingParameters'),
])
def test_serve_refuses_bad_settings_before_loading_anything(tmp_path, args, message):
  _serving_dir(tmp_path, 100)
  (tmp_path / 'bad.config').write_text('model_config_list {')
  (tmp_path / 'labelled.config').write_text(model_config.to_text([model_config.ModelSpec(
      'fashion', tmp_path / 'serving', model_config.parse_policy('all'), {'stable': 7})]))
  result = run_cli('serve', *(arg.format(tmp=tmp_path) for arg in args))
  assert result.returncode == 2, result.stderr
  assert re.search('^fashion-pipeline: error: .*' + message, result.stderr), result.stderr
