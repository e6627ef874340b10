"""The server's metrics, in Prometheus text format at TF Serving's path
`/monitoring/prometheus/metrics`, kept with prometheus-client.

In: the events the front ends, the batcher and the version registries report. Out: `Metrics`,
whose `exposition()` is the scrape's body. Names are TF Serving's where it has the metric
(prometheus-client adds `_total` to counters):
  :tensorflow:serving:request_count_total{model_name, version, signature_name, API, entrypoint,
                                          status}
  :tensorflow:serving:request_latency{model_name, API, entrypoint}   histogram, microseconds
  :tensorflow:serving:batching_session:processed_batch_size{model_name, version, signature_name}
      histogram of the examples in each model call (several requests when batching merged them)
  :tensorflow:serving:model_state{model_name, version, state}        1 for each version's state
  :tensorflow:serving:model_load_latency_seconds{model_name, version}
  :tensorflow:serving:model_load_failures_total{model_name, version}
Request labels name only what is served: a model name the server does not serve is counted as
UNKNOWN_MODEL (the front ends give a version and signature only when found), so that a client
sending many names cannot grow the server's memory (each label value is a series kept for ever).
"""

from typing import Callable, Iterable, Tuple

import prometheus_client
from prometheus_client import core

PATH = '/monitoring/prometheus/metrics'  # TF Serving's
_PREFIX = ':tensorflow:serving:'
REST = 'REST'
GRPC = 'GRPC'
UNKNOWN_MODEL = '<unknown>'  # cannot be a model name: model_config.check_model_name refuses '<'
# TF Serving's request latency buckets: microseconds, growing by 1.8 from 10 us to about 30 s.
_LATENCY_BUCKETS_US = tuple(10 * 1.8 ** i for i in range(26))
_BATCH_SIZE_BUCKETS = tuple(2 ** i for i in range(11))  # 1 to 1024

# (model name, version, state) of every version, read at each scrape.
StatesSource = Callable[[], Iterable[Tuple[str, int, str]]]


class _StateCollector:
  def __init__(self, states: StatesSource):
    self._states = states

  def collect(self):
    family = core.GaugeMetricFamily(_PREFIX + 'model_state', 'Each version\'s state: 1',
                                    labels=['model_name', 'version', 'state'])
    for name, version, state in self._states():
      family.add_metric([name, str(version), state], 1)
    yield family


class Metrics:
  """One server's metrics, in a registry of their own."""

  def __init__(self):
    self.registry = prometheus_client.CollectorRegistry()
    self._names: Callable[[], Iterable[str]] = tuple
    self._requests = prometheus_client.Counter(
        _PREFIX + 'request_count', 'Requests, by model, version, signature, API and status',
        ['model_name', 'version', 'signature_name', 'API', 'entrypoint', 'status'],
        registry=self.registry)
    self._latency = prometheus_client.Histogram(
        _PREFIX + 'request_latency', 'Request latency in microseconds',
        ['model_name', 'API', 'entrypoint'], buckets=_LATENCY_BUCKETS_US, registry=self.registry)
    self._batch_size = prometheus_client.Histogram(
        _PREFIX + 'batching_session:processed_batch_size', 'Examples in each model call',
        ['model_name', 'version', 'signature_name'], buckets=_BATCH_SIZE_BUCKETS,
        registry=self.registry)
    self._load_latency = prometheus_client.Gauge(
        _PREFIX + 'model_load_latency_seconds', 'Time to load and warm up a version',
        ['model_name', 'version'], registry=self.registry)
    self._load_failures = prometheus_client.Counter(
        _PREFIX + 'model_load_failures', 'Failed loads of a version',
        ['model_name', 'version'], registry=self.registry)

  def watch_states(self, states: StatesSource, names: Callable[[], Iterable[str]]) -> None:
    """Reads the versions' states at each scrape, and the served model names at each request."""
    self.registry.register(_StateCollector(states))
    self._names = names

  def request(self, model_name: str, version, signature_name: str, api: str, entrypoint: str,
              status: str, seconds: float) -> None:
    if model_name not in self._names():
      model_name, version, signature_name = UNKNOWN_MODEL, None, ''
    self._requests.labels(model_name, str(version or ''), signature_name, api, entrypoint,
                          status).inc()
    self._latency.labels(model_name, api, entrypoint).observe(seconds * 1e6)

  def batch(self, model_name: str, version: int, signature_name: str, size: int) -> None:
    self._batch_size.labels(model_name, str(version), signature_name).observe(size)

  def loaded(self, model_name: str, version: int, seconds: float) -> None:
    self._load_latency.labels(model_name, str(version)).set(seconds)

  def load_failed(self, model_name: str, version: int) -> None:
    self._load_failures.labels(model_name, str(version)).inc()

  def exposition(self) -> bytes:
    return prometheus_client.generate_latest(self.registry)


CONTENT_TYPE = prometheus_client.CONTENT_TYPE_LATEST
