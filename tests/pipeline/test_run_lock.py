"""The run lock: one run per output dir, refused or waited for, and free again when its holder dies.

Holders are real processes (the lock is the kernel's), each holding until its stdin gets a line.
"""

import json
import subprocess
import sys

import pytest

from helpers import cli_command, run_cli
from pipeline import configs
from pipeline import run_lock

_HOLDER = '''
import logging, sys
from pathlib import Path
from pipeline import run_lock
logging.basicConfig(level=logging.INFO, format='%(message)s')
with run_lock.hold(Path(sys.argv[1]), wait=sys.argv[2] == 'wait'):
  print('holding', flush=True)
  sys.stdin.readline()
'''

# Each process adds 1 to a counter file 20 times, reading and writing it under the lock.
_COUNTER = '''
import sys
from pathlib import Path
from pipeline import run_lock
lock, counter = Path(sys.argv[1]), Path(sys.argv[2])
for _ in range(20):
  with run_lock.hold(lock, wait=True):
    counter.write_text(str(int(counter.read_text()) + 1))
'''


def _start_holder(lock, wait=False) -> subprocess.Popen:
  return subprocess.Popen([sys.executable, '-c', _HOLDER, str(lock), 'wait' if wait else 'no'],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True)


def _holding(holder) -> subprocess.Popen:
  assert holder.stdout.readline() == 'holding\n', holder.communicate()[1]
  return holder


def _release(holder) -> None:
  holder.communicate('\n', timeout=60)
  assert holder.returncode == 0, holder.stderr


def test_a_second_run_is_refused_with_the_dir_and_the_holder(tmp_path):
  lock = tmp_path / 'out' / configs.RUN_LOCK_FILE
  holder = _holding(_start_holder(lock))
  with pytest.raises(run_lock.RunLockBusy) as refused:
    with run_lock.hold(lock):
      pytest.fail('the lock was taken twice')
  message = str(refused.value)
  assert f'{tmp_path / "out"} is in use by another run (pid {holder.pid}, started ' in message
  assert '\n' not in message
  _release(holder)
  with run_lock.hold(lock):
    assert json.loads(lock.read_text())['pid'] != holder.pid


def test_a_waiting_run_says_so_and_proceeds_when_the_holder_finishes(tmp_path):
  lock = tmp_path / configs.RUN_LOCK_FILE
  holder = _holding(_start_holder(lock))
  waiter = _start_holder(lock, wait=True)
  waiting = waiter.stderr.readline()
  assert waiting.startswith('Waiting for the other run to finish: ')
  assert f'pid {holder.pid}' in waiting
  _release(holder)
  _release(_holding(waiter))


def test_the_lock_of_a_holder_killed_with_sigkill_is_free(tmp_path):
  lock = tmp_path / configs.RUN_LOCK_FILE
  holder = _holding(_start_holder(lock))
  holder.kill()
  holder.wait()
  assert json.loads(lock.read_text())['pid'] == holder.pid  # stale, but nobody holds it
  with run_lock.hold(lock):
    assert json.loads(lock.read_text())['pid'] != holder.pid
  assert not lock.exists()


def test_runs_waiting_for_each_other_never_overlap(tmp_path):
  # The output dir is created and removed as the lock passes: contention on a vanishing file.
  lock, counter = tmp_path / 'out' / configs.RUN_LOCK_FILE, tmp_path / 'counter'
  counter.write_text('0')
  processes = [subprocess.Popen([sys.executable, '-c', _COUNTER, str(lock), str(counter)])
               for _ in range(4)]
  assert [process.wait(timeout=120) for process in processes] == [0] * 4
  assert counter.read_text() == '80'


def test_a_run_leaves_no_lock_file_and_removes_the_output_dir_only_if_it_made_it_empty(tmp_path):
  made = tmp_path / 'new' / 'out'
  with run_lock.hold(made / configs.RUN_LOCK_FILE):
    assert (made / configs.RUN_LOCK_FILE).exists()
  assert not (tmp_path / 'new').exists()
  with run_lock.hold(made / configs.RUN_LOCK_FILE):
    (made / 'metadata.sqlite').write_bytes(b'')
  assert sorted(p.name for p in made.iterdir()) == ['metadata.sqlite']
  existing = tmp_path / 'existing'
  existing.mkdir()
  with run_lock.hold(existing / configs.RUN_LOCK_FILE):
    pass
  assert existing.is_dir() and not list(existing.iterdir())


def test_the_command_line_refuses_a_run_on_a_busy_output_dir_with_exit_code_3(
    small_dataset, tmp_path):
  output_dir = tmp_path / 'out'
  holder = _holding(_start_holder(output_dir / configs.RUN_LOCK_FILE))
  result = run_cli('run', '--data-dir', str(small_dataset), '--output-dir', str(output_dir))
  assert result.returncode == 3
  assert result.stderr.startswith(
      f'fashion-pipeline: {output_dir} is in use by another run (pid {holder.pid}, started ')
  assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
  assert [p.name for p in output_dir.iterdir()] == [configs.RUN_LOCK_FILE]
  _release(holder)


def test_the_command_line_with_wait_says_so_and_runs_when_the_holder_finishes(tmp_path):
  # The run it waited for gets an empty data dir: it exits 2 as soon as it has the lock.
  output_dir = tmp_path / 'out'
  holder = _holding(_start_holder(output_dir / configs.RUN_LOCK_FILE))
  waiter = subprocess.Popen(
      cli_command('run', '--wait', '--data-dir', str(tmp_path), '--output-dir', str(output_dir)),
      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  waiting = waiter.stderr.readline()
  assert 'Waiting for the other run to finish: ' in waiting and f'pid {holder.pid}' in waiting
  _release(holder)
  _, stderr = waiter.communicate(timeout=120)
  assert waiter.returncode == 2 and 'missing train-images-idx3-ubyte.gz' in stderr
