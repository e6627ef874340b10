"""The fault classification and its log (pipeline/faults.py), on real exceptions as the pipeline
meets them: an OSError, and errors re-raised by Beam with the original's text."""

import errno
import os
import sqlite3

import pytest

from mlmd import soundness
from pipeline import faults


def _raised(error, wrapped_in=None):
  """error raised, and caught again as Beam re-raises a worker's error: a RuntimeError with its
  text, raised from it."""
  try:
    try:
      raise error
    except Exception as e:  # pylint: disable=broad-except
      if wrapped_in is None:
        raise
      raise wrapped_in(f'Error in worker: {e}') from e
  except Exception as e:  # pylint: disable=broad-except
    return e


def test_each_cause_has_its_own_code(tmp_path):
  root = str(tmp_path / 'root')
  full = faults.classify(_raised(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), '/o/x.gz'),
                                 RuntimeError))
  assert (full.exit_code, full.message) == (5, 'disk full: /o/x.gz: No space left on device')
  tf_style = faults.classify(RuntimeError(f'{root}/a/b; No space left on device'))
  assert tf_style.exit_code == 5 and tf_style.message.startswith(f'disk full: {root}/a/b')
  assert faults.classify(RuntimeError('database or disk is full')).exit_code == 5
  store = faults.classify(_raised(RuntimeError('Error when executing query: file is not a '
                                               'database query: CREATE'), RuntimeError))
  assert store.exit_code == 6 and store.cause == 'metadata'
  gone = FileNotFoundError(errno.ENOENT, 'No such file', f'{root}/T/g/9')
  missing = faults.classify(_raised(gone, RuntimeError), root)
  assert missing.exit_code == 7 and missing.message.startswith(f'artifact missing: {root}/T/g/9')
  # A missing file outside the pipeline root is not an artifact: a bug, as anything else.
  other = faults.classify(_raised(FileNotFoundError(errno.ENOENT, 'No such file', '/etc/nope')),
                          root)
  assert (other.exit_code, other.cause) == (70, 'crash')
  assert faults.classify(_raised(KeyError('x'), RuntimeError)).message == (
      "unexpected KeyError: 'x'")
  codes = [faults.EXIT_OK, faults.EXIT_DATA_GATE, faults.EXIT_BAD_INPUT, faults.EXIT_BUSY,
           faults.EXIT_CLUSTER_JOB_FAILED, faults.EXIT_DISK_FULL, faults.EXIT_METADATA,
           faults.EXIT_MISSING_ARTIFACT, faults.EXIT_CRASH]
  assert len(set(codes)) == len(codes)


def test_the_log_holds_the_traceback_and_falls_back_when_the_output_dir_cannot_take_it(
    tmp_path):
  error = _raised(ValueError('boom'), RuntimeError)
  fault = faults.classify(error)
  log = faults.write_log(error, fault, tmp_path / 'out', 'fashion-pipeline run')
  assert log.parent == tmp_path / 'out' / 'logs' and log.name.endswith('-crash.log')
  text = log.read_text()
  assert text.startswith('fashion-pipeline run\nunexpected ValueError: boom\n')
  assert 'Traceback (most recent call last)' in text and 'raise error' in text
  (tmp_path / 'file').write_text('')
  elsewhere = faults.write_log(error, fault, tmp_path / 'file', 'fashion-pipeline run')
  assert elsewhere.parent.name == 'fashion-pipeline-logs' and elsewhere.is_file()
  elsewhere.unlink()


def test_the_store_check_refuses_garbage_and_a_folder_and_passes_a_sound_store(tmp_path):
  sound = tmp_path / 'sound.sqlite'
  with sqlite3.connect(sound) as connection:
    connection.execute('CREATE TABLE t (x)')
  connection.close()
  soundness.check_store(sound)
  soundness.check_store(tmp_path / 'absent.sqlite')  # the first run creates it
  (tmp_path / 'garbage.sqlite').write_bytes(os.urandom(8192))
  with pytest.raises(faults.MetadataStoreError, match='garbage.sqlite: cannot be read: file is '
                     'not a database'):
    soundness.check_store(tmp_path / 'garbage.sqlite')
  (tmp_path / 'folder.sqlite').mkdir()
  with pytest.raises(faults.MetadataStoreError, match='folder.sqlite: is not a file'):
    soundness.check_store(tmp_path / 'folder.sqlite')
