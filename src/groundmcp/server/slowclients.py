"""Slow clients over HTTP: a deadline for each request's head and body, and a cap on connections.

What uvicorn (0.55, h11) offers is used: `timeout_keep_alive` closes a connection idle between
requests, and h11 bounds the size of a request head (16 KiB). What it lacks is written here, as a
subclass of its `H11Protocol`:

- a deadline for the request head. uvicorn has none: its keep-alive timer stops at a connection's
  first byte, so a client that sends one header byte every few seconds (slowloris) holds a socket
  and a descriptor for ever;
- a deadline for the request body, for a POST whose body trickles in;
- a cap on open connections that evicts the oldest connection still waiting for its request head
  (one idle between requests, which has been served and holds a client's pooled connection, only
  when no other is waiting).
  uvicorn's `limit_concurrency` is no substitute: it answers 503 to a request whose head arrives
  while too many connections are open, and slow sockets count, so an attack on it becomes 503s for
  every honest client.

Only the reading of a request is timed. Once its head (and body, if any) is in, the connection is
left alone however long the response takes: an SSE stream or a minutes-long ingest is never cut.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SlowClientLimits:
    header_timeout_s: float
    body_timeout_s: float
    max_connections: int


def guarded_protocol(limits: SlowClientLimits) -> type[H11Protocol]:
    """An `H11Protocol` class for one server (pass it as uvicorn's `http=`): its connections share
    `limits` and the list of those waiting for a request head, oldest first."""
    return type("GuardedH11Protocol", (_Guarded,), {"limits": limits, "waiting": {}, "idle": {}})


class _Guarded(H11Protocol):
    limits: SlowClientLimits
    # Insertion-ordered sets of the connections whose request head is due: `idle` holds those served
    # before that have sent nothing of the next head, `waiting` the others (new or part-way).
    waiting: dict[_Guarded, None]
    idle: dict[_Guarded, None]
    _timer: asyncio.TimerHandle | None = None
    _timing: str | None = None  # "head" or "body": what the timer waits for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections and not self._make_room():
            log.warning("refused a connection: %d open, all busy with requests", len(self.connections) - 1)
            self.transport.close()
            return
        self._expect("head")

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for its request head: a slow client is the
        likeliest one. False if every other connection is past its head (serving a request)."""
        oldest = next(iter(self.waiting), None) or next(iter(self.idle), None)
        if oldest is None:
            return False
        oldest._close("evicted (connection cap) before its request head arrived")
        return True

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._follow()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._follow(served=True)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def _follow(self, served: bool = False) -> None:
        """Time what the client owes next: the head of its next request, a body, or nothing."""
        if self.transport.is_closing():
            return
        state = self.conn.their_state
        if state is h11.IDLE and self.conn.our_state is h11.IDLE:
            self._expect("head", idle=served)
        elif state is h11.SEND_BODY:
            self._expect("body")
        else:
            self._stop()

    def _expect(self, what: str, idle: bool = False) -> None:
        if self._timing == what:  # the deadline runs from the start of the head or body, not the last byte
            if self in self.idle:  # bytes of the next head came: no longer idle
                del self.idle[self]
                self.waiting[self] = None
            return
        self._stop()
        self._timing = what
        if what == "head":
            (self.idle if idle else self.waiting)[self] = None
        seconds = self.limits.header_timeout_s if what == "head" else self.limits.body_timeout_s
        self._timer = self.loop.call_later(seconds, self._close, f"request {what} not complete within {seconds:g} s")

    def _stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self._timing = None
        self.waiting.pop(self, None)
        self.idle.pop(self, None)

    def _close(self, why: str) -> None:
        self._stop()
        self.connections.discard(self)  # at once, so that a burst over the cap evicts one each
        if not self.transport.is_closing():
            log.debug("closing %s: %s", self.client, why)
            self.transport.close()
