"""How the REST server treats slow, stalled and greedy clients: uvicorn's limits, a head timeout.

In: a ServingConfig. Out: `uvicorn_settings(config)`, the keyword arguments for uvicorn.Config.
uvicorn has no timeout on reading a request head: a client that connects and sends a head that
never ends (a byte now and then, or nothing) kept its connection open indefinitely. Its h11
protocol here closes a connection whose head is not complete within config.client_timeout_s of
connecting or of the previous answer, with a 408 and one log line. The rest is uvicorn's: a head
of at most 16 KiB (beyond: 400), idle keep-alive connections closed after 5 s, and at most
_MAX_CONCURRENCY connections and requests at once (beyond: uvicorn's 503). A body that stalls is
rest.py's (_BodyLimit: 408 after the same timeout).
"""

import json
import logging

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from serving.config import ServingConfig

logger = logging.getLogger(__name__)

_MAX_HEAD_BYTES = 16 * 1024  # h11's default, stated: a request line and headers
_KEEP_ALIVE_S = 5  # uvicorn's default, stated
_MAX_CONCURRENCY = 1000


class _HeadTimeoutProtocol(H11Protocol):
  """uvicorn's h11 protocol, closing a connection whose request head takes too long."""
  head_timeout_s = 10.0  # set by _protocol
  _head_timer = None

  def connection_made(self, transport) -> None:  # type: ignore[override]
    super().connection_made(transport)
    self._arm()

  def connection_lost(self, exc) -> None:
    self._disarm()
    super().connection_lost(exc)

  def handle_events(self) -> None:
    super().handle_events()
    if self.conn.their_state is not h11.IDLE:  # a whole head has arrived (or a protocol error)
      self._disarm()

  def on_response_complete(self) -> None:
    self._arm()  # before: the next pipelined request, handled inside, disarms it
    super().on_response_complete()

  def _arm(self) -> None:
    self._disarm()
    self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_timed_out)

  def _disarm(self) -> None:
    if self._head_timer is not None:
      self._head_timer.cancel()
      self._head_timer = None

  def _head_timed_out(self) -> None:
    self._head_timer = None
    if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
      return
    client = f'{self.client[0]}:{self.client[1]}' if self.client else 'a client'
    logger.info('REST %s sent no whole request head within %g s: closed (408)', client,
                self.head_timeout_s)
    body = json.dumps({'error': f'no whole request head within {self.head_timeout_s:g} s'})
    self.transport.write(b'HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n'
                         b'connection: close\r\ncontent-length: %d\r\n\r\n%s'
                         % (len(body), body.encode()))
    self.transport.close()


def _protocol(head_timeout_s: float) -> type:
  return type('HeadTimeoutProtocol', (_HeadTimeoutProtocol,), {'head_timeout_s': head_timeout_s})


def uvicorn_settings(config: ServingConfig) -> dict:
  """uvicorn.Config's keyword arguments for the limits above (see the module docstring)."""
  return {'http': _protocol(config.client_timeout_s), 'ws': 'none',
          'h11_max_incomplete_event_size': _MAX_HEAD_BYTES,
          'timeout_keep_alive': _KEEP_ALIVE_S, 'limit_concurrency': _MAX_CONCURRENCY}
