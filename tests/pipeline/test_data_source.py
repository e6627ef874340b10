"""Where the data comes from, including the verified download (against a server on 127.0.0.1)."""

import functools
import hashlib
import http.server
import shutil
import threading

import pytest

from fashion_mnist import dataset
from pipeline import configs
from pipeline import data_source


@pytest.fixture
def mirror(tmp_path):
  """An HTTP server on 127.0.0.1 serving the files in a folder; yields (folder, url)."""
  folder = tmp_path / 'mirror'
  folder.mkdir()
  handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
  handler.log_message = lambda *args: None
  server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
  thread = threading.Thread(target=server.serve_forever, daemon=True)
  thread.start()
  yield folder, f'http://127.0.0.1:{server.server_address[1]}/'
  server.shutdown()
  server.server_close()


def _config(tmp_path, **settings):
  return configs.build(output_dir=tmp_path / 'out', environ={},
                       data_cache_dir=tmp_path / 'keras-cache', **settings)


def test_download_verifies_and_keeps_the_real_files(tmp_path, mirror, real_data_dir):
  folder, url = mirror
  for name in dataset.FILE_NAMES:
    shutil.copy(real_data_dir / name, folder / name)
  config = _config(tmp_path, mirror_url=url)
  assert data_source.resolve_data_dir(config) == config.data_cache_dir
  for name in dataset.FILE_NAMES:
    assert data_source.sha256_of(config.data_cache_dir / name) == dataset.SHA256[name]
  assert sorted(p.name for p in config.data_cache_dir.iterdir()) == sorted(dataset.FILE_NAMES)


def test_download_refuses_a_file_whose_checksum_differs(tmp_path, mirror):
  folder, url = mirror
  (folder / 'train-labels-idx1-ubyte.gz').write_bytes(b'not the published file')
  target = tmp_path / 'cache'
  with pytest.raises(data_source.DataSourceError,
                     match='train-labels-idx1-ubyte.gz: checksum mismatch') as error:
    data_source.download(url, target, ['train-labels-idx1-ubyte.gz'])
  assert url in str(error.value)
  assert list(target.iterdir()) == []  # nothing half-written or unverified is kept


def test_download_accepts_given_checksums(tmp_path, mirror):
  folder, url = mirror
  (folder / 'a.gz').write_bytes(b'payload')
  data_source.download(url, tmp_path / 'cache', ['a.gz'],
                       checksums={'a.gz': hashlib.sha256(b'payload').hexdigest()})
  assert (tmp_path / 'cache' / 'a.gz').read_bytes() == b'payload'


def test_download_failure_names_the_url(tmp_path, mirror):
  _, url = mirror
  with pytest.raises(data_source.DataSourceError,
                     match=r't10k-labels-idx1-ubyte.gz: download failed .*404'):
    data_source.download(url, tmp_path / 'cache', ['t10k-labels-idx1-ubyte.gz'])
  assert list((tmp_path / 'cache').iterdir()) == []


def _complete_folder(path):
  path.mkdir(parents=True)
  for name in dataset.FILE_NAMES:
    (path / name).write_bytes(b'')
  return path


def test_configured_data_dir_is_used_as_is(tmp_path):
  data_dir = _complete_folder(tmp_path / 'data')
  assert data_source.resolve_data_dir(_config(tmp_path, data_dir=data_dir)) == data_dir


def test_configured_data_dir_missing_files_is_an_error_not_a_download(tmp_path):
  data_dir = tmp_path / 'data'
  data_dir.mkdir()
  (data_dir / 'train-images-idx3-ubyte.gz').write_bytes(b'')
  config = _config(tmp_path, data_dir=data_dir, mirror_url='http://127.0.0.1:9/')
  with pytest.raises(data_source.DataSourceError,
                     match='missing train-labels-idx1-ubyte.gz, t10k-images'):
    data_source.resolve_data_dir(config)


def test_complete_keras_cache_is_used_without_download(tmp_path):
  config = _config(tmp_path, mirror_url='http://127.0.0.1:9/')  # nothing listens there
  _complete_folder(config.data_cache_dir)
  assert data_source.resolve_data_dir(config) == config.data_cache_dir
