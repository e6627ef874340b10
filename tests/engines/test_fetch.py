"""The engines' files are checked against their pinned checksums; a fetch is all or nothing."""

import hashlib

import pytest

from engines import fetch


def _jar(directory, name, content):
  (directory / name).write_bytes(content)
  return hashlib.sha256(content).hexdigest()


def test_matching_jars_pass(tmp_path):
  pinned = {'flink/a.jar': _jar(tmp_path, 'a.jar', b'a'), 'spark/b.jar': 'x'}
  fetch._check_jars('flink', tmp_path, pinned)  # pylint: disable=protected-access


def test_a_changed_jar_is_refused_by_name(tmp_path):
  pinned = {'flink/a.jar': _jar(tmp_path, 'a.jar', b'a')}
  (tmp_path / 'a.jar').write_bytes(b'tampered')
  with pytest.raises(fetch.FetchError, match=r'a\.jar: SHA-256 does not match'):
    fetch._check_jars('flink', tmp_path, pinned)  # pylint: disable=protected-access


def test_a_missing_or_unexpected_jar_is_refused(tmp_path):
  pinned = {'flink/a.jar': _jar(tmp_path, 'a.jar', b'a'), 'flink/b.jar': 'x'}
  _jar(tmp_path, 'c.jar', b'c')
  with pytest.raises(fetch.FetchError, match=r"unexpected \['c.jar'\], missing \['b.jar'\]"):
    fetch._check_jars('flink', tmp_path, pinned)  # pylint: disable=protected-access


def test_every_pinned_jar_has_a_sha256():
  pinned = fetch.pinned_checksums()
  assert {name.split('/')[0] for name in pinned} == {'flink', 'spark'}
  assert all(len(digest) == 64 for digest in pinned.values())


def test_an_interrupted_fetch_leaves_nothing_that_looks_fetched(tmp_path):
  def fill(folder):
    (folder / 'half').write_text('written')
    raise OSError('interrupted')

  with pytest.raises(OSError):
    fetch._fill_atomically(tmp_path / 'runtime', fill)  # pylint: disable=protected-access
  assert list(tmp_path.iterdir()) == []
