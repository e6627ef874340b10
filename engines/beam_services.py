"""What a run checks of the Beam services it was pointed at, and how it reports their failures:
a job server that is not there is one line naming its address (instead of gRPC's timeout after
a minute), and a Beam job that failed on the cluster is one line naming the job and the reason.

In: the run's Beam options; a failed pipeline's error. Out: ClusterError, BeamJobFailed.
"""

import re
from typing import Optional, Sequence

from engines import processes

_LOCAL_HOSTS = ('127.0.0.1', 'localhost', '[::1]')
# Beam's portable runner, when a job ends in FAILED (portable_runner.py's wait_until_finish).
_FAILED_JOB = re.compile(r'Pipeline (\S+) failed in state (\w+): (.*)', re.DOTALL)


class BeamJobFailed(RuntimeError):
  """A component's Beam job failed on the cluster; the message names it and the cause."""


def _last_option(beam_args: Sequence[str], name: str) -> Optional[str]:
  values = [arg.split('=', 1)[1] for arg in beam_args if arg.startswith(f'--{name}=')]
  return values[-1] if values else None


def _check_listening(address: str, what: str) -> None:
  host, _, port = address.rpartition(':')
  if not port.isdigit() or not processes.is_listening(int(port), host.strip('[]') or 'localhost'):
    raise processes.ClusterError(
        f'no {what} at {address}: start it first (for --engine flink|spark: '
        '`fashion-pipeline cluster start flink|spark`)')


def check_reachable(beam_args: Sequence[str]) -> None:
  """Raises ClusterError unless the job server the options name listens, and, when it is on this
  machine, the EXTERNAL worker pool too (a remote cluster's pool is at an address its workers
  see, not this machine)."""
  endpoint = _last_option(beam_args, 'job_endpoint')
  if not endpoint or endpoint == 'embed':
    return
  _check_listening(endpoint, 'Beam job server (--job_endpoint)')
  pool = _last_option(beam_args, 'environment_config')
  if (_last_option(beam_args, 'environment_type') == 'EXTERNAL' and pool
      and endpoint.startswith(_LOCAL_HOSTS) and pool.startswith(_LOCAL_HOSTS)):
    _check_listening(pool, 'SDK worker pool (--environment_config)')


def as_job_failure(error: BaseException, beam_args: Sequence[str]) -> Optional[BeamJobFailed]:
  """The error as a BeamJobFailed if it is a Beam job that failed on a job server, else None."""
  match = _FAILED_JOB.search(str(error))
  if not match:
    return None
  job, state, cause = match.groups()
  cause = next((line.strip() for line in cause.splitlines() if line.strip()), 'no reason given')
  return BeamJobFailed(
      f'the Beam job {job} ended {state} on the job server at '
      f'{_last_option(beam_args, "job_endpoint")}: {cause[:500]}. Nothing later in the '
      'pipeline ran, and nothing was pushed by this run; run again once the cluster is whole '
      '(what finished is reused from the cache)')
