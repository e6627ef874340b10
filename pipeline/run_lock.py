"""One run at a time per output dir: an exclusive lock on a file in it.

In: the lock file's path (PipelineConfig.lock_path) and whether to wait for a run holding it.
Out: `hold`, a context manager held for the whole run. Entering it takes the lock, waits for it
(wait=True: logs that it waits, once), or raises RunLockBusy naming the output dir and the holder.

The lock is the kernel's (fcntl.flock), so it dies with the process holding it: a run killed with
kill -9 leaves at most a stale file, which the next run takes over. The file records the holder
(pid, start time, command line) for the message. It is removed when the run ends, and so is the
output dir when this run created it and left nothing in it (a run refused for bad input creates
nothing). Because the file is removed, a lock taken on it counts only if the path still names the
same file afterwards; otherwise the taker tries again on the new file.
"""

import contextlib
import datetime
import fcntl
import json
import logging
import os
import shlex
import sys
import time
from pathlib import Path
from typing import Iterator, List


class RunLockBusy(RuntimeError):
  """Another run holds the output dir; the message names the dir and the holder."""


def _created_dirs(directory: Path) -> List[Path]:
  """The folders that creating directory would create, deepest first."""
  missing = []
  while not directory.exists():
    missing.append(directory)
    directory = directory.parent
  return missing


def _holder(fd: int) -> str:
  """'pid N, started T: COMMAND' as recorded in the lock file."""
  # The holder writes its record just after taking the lock: give it a moment to appear.
  for _ in range(20):
    try:
      record = json.loads(os.pread(fd, 1 << 16, 0))
      return f'pid {record["pid"]}, started {record["started"]}: {record["command"]}'
    except (ValueError, KeyError):
      time.sleep(0.05)
  return 'a process that did not say who it is'


def _is_current(path: Path, fd: int) -> bool:
  """Whether path still names the file open as fd (a releasing holder removes the file)."""
  try:
    named = os.stat(path)
  except FileNotFoundError:
    return False
  opened = os.fstat(fd)
  return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _acquire(path: Path, wait: bool) -> int:
  """Takes the lock on path; returns the open file holding it."""
  waiting = False
  while True:
    try:
      path.parent.mkdir(parents=True, exist_ok=True)
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    # A releasing holder removed the dir it had created, between our steps (mkdir with exist_ok
    # raises FileExistsError when the dir it found is gone by the time it checks).
    except (FileExistsError, FileNotFoundError):
      continue
    try:
      try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
      except BlockingIOError:
        message = f'{path.parent} is in use by another run ({_holder(fd)})'
        if not wait:
          raise RunLockBusy(f'{message}; not started (--wait waits for it)') from None
        if not waiting:
          logging.info('Waiting for the other run to finish: %s', message)
          waiting = True
        fcntl.flock(fd, fcntl.LOCK_EX)
      if _is_current(path, fd):
        return fd
    except BaseException:
      os.close(fd)
      raise
    os.close(fd)


@contextlib.contextmanager
def hold(path: Path, wait: bool = False) -> Iterator[None]:
  """Holds the run lock at path for the block; see the module docstring."""
  created = _created_dirs(path.parent)
  fd = _acquire(path, wait)
  try:
    record = {'pid': os.getpid(),
              'started': datetime.datetime.now().astimezone().isoformat(timespec='seconds'),
              'command': shlex.join(sys.argv)}
    os.ftruncate(fd, 0)  # a stale record of a killed run may be there
    os.pwrite(fd, json.dumps(record).encode(), 0)
    yield
  finally:
    # Removed before the lock is released, so that whoever takes it next sees a fresh file.
    with contextlib.suppress(FileNotFoundError):
      os.unlink(path)
    for directory in created:
      try:
        directory.rmdir()
      except OSError:  # not empty: the run produced something
        break
    os.close(fd)
