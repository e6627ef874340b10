"""Building the configuration: defaults, derived paths, environment, and bad values."""

from pathlib import Path

import pytest

from pipeline import configs


def test_defaults_are_the_tutorials_and_paths_derive_from_the_output_dir(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={})
  assert (config.epochs, config.batch_size, config.learning_rate) == (10, 32, 0.001)
  assert config.accuracy_threshold == 0.85
  assert config.pipeline_root == tmp_path / 'pipeline_root'
  assert config.metadata_path == tmp_path / 'metadata.sqlite'
  assert config.serving_dir == tmp_path / 'serving'
  assert config.data_dir is None
  # Named, so that Beam 2.77's DirectRunner never downloads its Prism runner; two workers in
  # this process, one per core.
  assert config.beam_args == ('--runner=apache_beam.runners.portability.fn_api_runner.FnApiRunner',
                              '--direct_running_mode=in_memory', '--direct_num_workers=2')
  assert config.schema_file.is_file()


def test_relative_paths_become_absolute(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  config = configs.build(environ={}, serving_dir=Path('models'))
  assert config.output_dir == tmp_path / 'output'
  assert config.serving_dir == tmp_path / 'models'


def test_beam_args_come_after_the_defaults_so_they_win(tmp_path):
  config = configs.build(output_dir=tmp_path, environ={},
                         extra_beam_args=('--direct_running_mode=multi_processing',))
  assert config.beam_args[-1] == '--direct_running_mode=multi_processing'
  assert config.beam_args[:len(configs.DEFAULT_BEAM_ARGS)] == configs.DEFAULT_BEAM_ARGS


def test_data_dir_flag_beats_environment(tmp_path):
  environ = {configs.DATA_DIR_ENV_VAR: str(tmp_path / 'from-env')}
  assert configs.build(output_dir=tmp_path, environ=environ).data_dir == tmp_path / 'from-env'
  assert configs.build(output_dir=tmp_path, environ=environ,
                       data_dir=tmp_path / 'flag').data_dir == tmp_path / 'flag'


def test_mirror_from_environment(tmp_path):
  environ = {configs.MIRROR_URL_ENV_VAR: 'http://127.0.0.1:1/'}
  assert configs.build(output_dir=tmp_path, environ=environ).mirror_url == 'http://127.0.0.1:1/'


@pytest.mark.parametrize('setting, message', [
    ({'epochs': 0}, 'epochs must be at least 1'),
    ({'batch_size': 0}, 'batch size must be at least 1'),
    ({'learning_rate': 0.0}, 'learning rate must be positive'),
    ({'accuracy_threshold': 1.5}, 'accuracy threshold must be between 0 and 1'),
])
def test_bad_values_name_the_setting(tmp_path, setting, message):
  with pytest.raises(configs.ConfigError, match=message):
    configs.build(output_dir=tmp_path, environ={}, **setting)
