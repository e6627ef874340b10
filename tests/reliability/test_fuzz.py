"""The fuzzer against a real server, small enough for CI: 300 REST and 100 gRPC hostile requests
(reliability/fuzz.py; bench/fuzz_bench.py runs 3,000 and 500). None may be a server error (5xx, no
answer, gRPC UNKNOWN or INTERNAL), the server's memory may grow by at most the bound stated in
README ("Serving under hostile requests"), and its log has no traceback."""

import pytest

from reliability import fuzz
from server_process import running_server, serving_dir_with, small_pushed_model

pytestmark = pytest.mark.serving

# README's bound on what one request may add to the server's memory (measured worst: 194 MB for
# an image at the pixel limit with transparency, 110 MB for a JSON body of a million strings).
GROWTH_BOUND_MB = 250
CLIENT_TIMEOUT_S = 1  # stalled heads and bodies are closed after a second


@pytest.fixture(scope='module')
def server(tmp_path_factory):
  root = tmp_path_factory.mktemp('fuzz')
  version_dir, _ = small_pushed_model(tmp_path_factory)  # the serving tests' model, if they ran
  with running_server(serving_dir_with(root, version_dir), root / 'server.log',
                      '--client-timeout', str(CLIENT_TIMEOUT_S)) as s:
    yield s


def test_no_hostile_request_gets_a_server_error_or_costs_more_than_the_bound(server):
  report = fuzz.run(server, rest_count=300, grpc_count=100, seed=13, time_limit_s=240,
                    stall_s=CLIENT_TIMEOUT_S + 5)
  assert (report.rest_tried, report.grpc_tried) == (300, 100), report
  assert report.rest_server_errors == 0 and report.grpc_server_errors == 0, report.failures
  assert report.rest['200'] > 0 and report.grpc['OK'] > 0  # the valid mutations were answered
  assert report.rest['408'] > 0 and report.rest['client-closed'] > 0  # stalls and hang-ups ran
  assert report.rss_peak_mb - report.rss_before_mb < GROWTH_BOUND_MB, report
  log = server.log()
  assert 'Traceback' not in log and ' 500 ' not in log
