"""A run's look at the Beam services it is pointed at, and how a failed Beam job is reported."""

import socket

import pytest

from engines import beam_services
from engines import processes
from engines import settings


def test_a_job_server_that_is_not_there_is_named_by_its_address():
  with socket.socket() as unused:
    unused.bind((settings.HOST, 0))
    port = unused.getsockname()[1]  # bound, not listening: nothing answers there
    with pytest.raises(processes.ClusterError, match=f'no Beam job server .* at 127.0.0.1:{port}'):
      beam_services.check_reachable(['--runner=PortableRunner', f'--job_endpoint=127.0.0.1:{port}'])


def test_a_missing_local_worker_pool_is_named_once_the_job_server_answers():
  with socket.socket() as job_server, socket.socket() as unused:
    job_server.bind((settings.HOST, 0))
    job_server.listen()
    unused.bind((settings.HOST, 0))
    with pytest.raises(processes.ClusterError, match='no SDK worker pool'):
      beam_services.check_reachable([
          f'--job_endpoint=127.0.0.1:{job_server.getsockname()[1]}',
          '--environment_type=EXTERNAL',
          f'--environment_config=127.0.0.1:{unused.getsockname()[1]}'])


@pytest.mark.parametrize('beam_args', [[], ['--direct_running_mode=in_memory'],
                                       ['--job_endpoint=embed']])
def test_nothing_is_checked_without_a_job_server(beam_args):
  beam_services.check_reachable(beam_args)


def test_a_failed_job_becomes_one_line_naming_the_job_and_the_cause():
  error = RuntimeError(
      'Pipeline fashion-pipeline-statisticsgen_1234 failed in state FAILED: '
      'org.apache.flink.runtime.JobException: Recovery is suppressed\n\tat org.apache...')
  failure = beam_services.as_job_failure(error, ['--job_endpoint=127.0.0.1:18099'])
  assert str(failure).startswith(
      'the Beam job fashion-pipeline-statisticsgen_1234 ended FAILED on the job server at '
      '127.0.0.1:18099: org.apache.flink.runtime.JobException: Recovery is suppressed.')
  assert '\n' not in str(failure)


def test_other_errors_are_left_alone():
  assert beam_services.as_job_failure(RuntimeError('something else'), []) is None
