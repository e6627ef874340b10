"""Processes started as daemons are found by their pid file, also after a crash."""

import sys

from engines import processes
from server_process import free_port


def test_a_daemon_is_started_until_listening_and_a_killed_one_counts_as_stopped(tmp_path):
  port = free_port()
  state = processes.StateDir(tmp_path)
  command = [sys.executable, '-c', 'import socket, time; s = socket.socket(); '
             f's.bind(("127.0.0.1", {port})); s.listen(); time.sleep(60)']
  pid = state.start(processes.Daemon('listener', command, port))
  assert state.running_pid('listener') == pid and processes.is_listening(port)
  # kill -9, as a crash: the process is this one's child, a zombie until reaped.
  assert state.kill('listener')
  processes.os.waitid(processes.os.P_PID, pid, processes.os.WEXITED | processes.os.WNOWAIT)
  assert state.running_pid('listener') is None
  assert not state.stop('listener')


def test_a_daemon_that_exits_before_listening_is_reported_with_its_log(tmp_path):
  state = processes.StateDir(tmp_path)
  command = [sys.executable, '-c', 'import sys; print("bad config"); sys.exit(3)']
  try:
    state.start(processes.Daemon('broken', command, free_port()))
  except processes.ClusterError as e:
    assert 'the broken exited with code 3' in str(e) and 'bad config' in str(e)
  else:
    raise AssertionError('no ClusterError')


def test_stop_ends_the_daemon(tmp_path):
  port = free_port()
  state = processes.StateDir(tmp_path)
  command = [sys.executable, '-c', 'import socket, time; s = socket.socket(); '
             f's.bind(("127.0.0.1", {port})); s.listen(); time.sleep(60)']
  state.start(processes.Daemon('listener', command, port))
  assert state.stop('listener', timeout_s=5)
  assert state.running_pid('listener') is None and not processes.is_listening(port)


