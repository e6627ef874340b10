"""The cluster's processes as daemons of this machine: each started in a session of its own with
its output in a log file and its pid (and start time, so a pid reused by another program is never
taken for it) in a pid file, waited for until it listens on its port, and stopped by its pid.

In: a state dir (one per engine) and the commands to run. Out: running processes, their logs and
pid files there.
"""

import contextlib
import dataclasses
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from engines import settings


class ClusterError(RuntimeError):
  """A process did not start or is not reachable; the message names it, its address and log."""


@dataclasses.dataclass(frozen=True)
class Daemon:
  name: str  # e.g. 'jobmanager'; names its log and pid files
  command: Sequence[str]
  port: int  # the port it listens on once started
  env: Optional[Dict[str, str]] = None  # None: this process's environment


def _start_time(pid: int) -> Optional[str]:
  """The kernel's start time of a process (field 22 of /proc/PID/stat), None if none runs.
  A dead child of this process (a zombie, as a killed TaskManager is until reaped) is reaped and
  does not run."""
  try:
    stat = Path(f'/proc/{pid}/stat').read_text()
  except OSError:
    return None
  # The command name (field 2) is in parentheses and may hold spaces: count after its ')'.
  state, *fields = stat[stat.rindex(')') + 2:].split()
  if state == 'Z':
    with contextlib.suppress(ChildProcessError):
      os.waitpid(pid, os.WNOHANG)
    return None
  return fields[18]


def is_listening(port: int, host: str = settings.HOST) -> bool:
  with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
    return True
  return False


def _tail(log_path: Path, lines: int = 20) -> str:
  try:
    return '\n'.join(log_path.read_text(errors='replace').splitlines()[-lines:])
  except OSError:
    return ''


class StateDir:
  """An engine's processes: their pid files and logs in one folder."""

  def __init__(self, path: Path):
    self.path = path

  def log_path(self, name: str) -> Path:
    return self.path / f'{name}.log'

  def _pid_path(self, name: str) -> Path:
    return self.path / f'{name}.pid'

  def running_pid(self, name: str) -> Optional[int]:
    """The pid of the named process if the one recorded still runs."""
    try:
      pid, start_time = self._pid_path(name).read_text().split()
    except (OSError, ValueError):
      return None
    return int(pid) if _start_time(int(pid)) == start_time else None

  def start(self, daemon: Daemon, timeout_s: float = settings.STARTUP_TIMEOUT_S) -> int:
    """Starts daemon unless it runs already; returns once it listens on its port."""
    if self.running_pid(daemon.name):
      return self.running_pid(daemon.name)
    if is_listening(daemon.port):
      raise ClusterError(f'cannot start the {daemon.name}: {settings.HOST}:{daemon.port} is '
                         'already taken by another program')
    self.path.mkdir(parents=True, exist_ok=True)
    log_path = self.log_path(daemon.name)
    with open(log_path, 'w') as log:
      process = subprocess.Popen(list(daemon.command), stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=daemon.env, cwd=self.path,
                                 start_new_session=True)
    self._pid_path(daemon.name).write_text(f'{process.pid} {_start_time(process.pid)}\n')
    deadline = time.monotonic() + timeout_s
    while not is_listening(daemon.port):
      if process.poll() is not None:
        raise ClusterError(f'the {daemon.name} exited with code {process.returncode} before '
                           f'listening on {settings.HOST}:{daemon.port}; {log_path} ends:\n'
                           f'{_tail(log_path)}')
      if time.monotonic() > deadline:
        self.stop(daemon.name)
        raise ClusterError(f'the {daemon.name} did not listen on {settings.HOST}:{daemon.port} '
                           f'within {timeout_s:.0f} s; {log_path} ends:\n{_tail(log_path)}')
      time.sleep(0.3)
    return process.pid

  def stop(self, name: str, timeout_s: float = 20) -> bool:
    """Stops the named process and what it started (its session's process group): SIGTERM,
    then SIGKILL after timeout_s. Returns whether one was running."""
    pid = self.running_pid(name)
    self._pid_path(name).unlink(missing_ok=True)
    if pid is None:
      return False
    with contextlib.suppress(ProcessLookupError):
      os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while _start_time(pid) is not None and time.monotonic() < deadline:
      with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reaps it when this process started it
      time.sleep(0.2)
    # Also whatever it started that still holds its group (e.g. a pool's workers).
    with contextlib.suppress(ProcessLookupError):
      os.killpg(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
      os.waitpid(pid, 0)
    return True

  def kill(self, name: str) -> bool:
    """kill -9 of the named process alone, as a crash would; for the fault tests."""
    pid = self.running_pid(name)
    if pid is None:
      return False
    os.kill(pid, signal.SIGKILL)
    return True


def java_command(heap_or_jvm_options: List[str], classpath: List[Path], main_class: str,
                 arguments: Sequence[str]) -> List[str]:
  return ['java', *heap_or_jvm_options, '-cp', os.pathsep.join(map(str, classpath)), main_class,
          *arguments]
