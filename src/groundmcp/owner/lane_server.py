"""The owner's lane socket: MCP sessions as lines, one per connection, for the stdio bridges' lanes.

A stdio bridge (owner/bridge.py) hands the tool calls it can pass on unchanged to its lane
(owner/lane.py). Through the owner's HTTP route each such call cost about 4 ms of the bridge's CPU
(an HTTP client building the request and parsing the answer) and the owner's HTTP handling on top:
the whole gap between the default path and `serve --no-owner`. On this socket a call is one line
written and one line read, and the owner serves the session as `serve --no-owner` serves stdio: the
same framing and the same code (server/stdio_pipes.py line_streams), on a Unix socket.

The socket sits beside the owner's HTTP socket (`owner.lane`, 0600 in the 0700 data dir: only the
same user can connect, as there). A connection's first line is the hello, a JSON object
`{"groundmcp_lane": 1, "grant": "<claims.py forwarded_grant>"}`: whose calls these are, applied to
every request of the session as the HTTP route applies GRANT_HEADER. A bad hello is answered with
one line `{"error": ..., "message": ...}` and the connection closed; a good one with
`{"groundmcp_lane": 1, "max_line_bytes": N}`, the longest request line the owner reads (its HTTP
body limit; a longer line is dropped unanswered). Then comes an MCP session in the era its first
request opens (the SDK's serve_dual_era_loop): the handshake then requests, or requests of the 2026
revision, each carrying its envelope, with no handshake; each answered on its line. Requests in
flight keep the owner awake as HTTP requests do; when the owner stops, it waits (up to STOP_WAIT_S)
for them before it closes the connections, and a bridge whose connection closes sends its calls by
its normal path.

Loopback owners (Windows, or a data dir path too long for a socket) open no lane socket: their
bridges' lanes use the HTTP route.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.runner import serve_dual_era_loop
from mcp.shared.message import ServerMessageMetadata

from ..server.auth import forwarded_user
from ..server.stdio_pipes import LineTooLong, line_streams, next_line

log = logging.getLogger(__name__)

HELLO_KEY = "groundmcp_lane"
LANE_VERSION = 1
HELLO_TIMEOUT_S = 10.0
STOP_WAIT_S = 30.0  # how long a stopping owner lets the lane's requests in flight finish
WHERE = "the owner's lane socket"


class LaneRequest:
    """What the tools read a request's grant from (access.py access_for reads `scope["user"]` of
    the HTTP request the SDK hands them): the lane's hello, for every request of its session."""

    __slots__ = ("scope",)

    def __init__(self, user) -> None:
        self.scope = {"type": "lane", "user": user}


class _InFlight:
    """One connection's requests in flight, told to the owner's Activity (daemon.py)."""

    def __init__(self, activity) -> None:
        self.activity = activity
        self.ids: set[Any] = set()

    def begin(self, request_id: Any) -> None:
        if isinstance(request_id, (str, int)) and request_id not in self.ids:
            self.ids.add(request_id)
            self.activity.begin("lane")

    def end(self, request_id: Any) -> None:
        if isinstance(request_id, (str, int)) and request_id in self.ids:
            self.ids.discard(request_id)
            self.activity.end()

    def clear(self) -> None:
        for request_id in list(self.ids):
            self.end(request_id)


def read_hello(line: bytes):
    """The user a hello line stands for; ValueError or TypeError saying what is wrong."""
    hello = json.loads(line)
    if not isinstance(hello, dict) or hello.get(HELLO_KEY) != LANE_VERSION:
        raise ValueError(f'expected {{"{HELLO_KEY}": {LANE_VERSION}, "grant": ...}} as the first line')
    grant = hello.get("grant")
    if not isinstance(grant, str):
        raise TypeError("the hello's grant must be a string (claims.py forwarded_grant)")
    return forwarded_user(grant.encode("utf-8"))


@asynccontextmanager
async def lanes_served(sock: socket.socket, server, state, activity, max_bytes: int) -> AsyncIterator[None]:
    """MCP sessions of the low-level `server` served on the listening `sock` while in the block;
    `state` is the server's lifespan state (entered by the owner's app, server/transports.py
    add_json_route), `activity` the owner's (daemon.py), a request line up to `max_bytes` long
    (the HTTP route's body limit)."""
    async with anyio.create_task_group() as tg:
        tg.start_soon(serve_lanes, sock, server, state, activity, max_bytes)
        try:
            yield
        finally:
            tg.cancel_scope.cancel()


async def serve_lanes(sock: socket.socket, server, state, activity, max_bytes: int) -> None:
    """Serve MCP sessions on the listening `sock` until cancelled (`lanes_served`)."""
    writers: set[asyncio.StreamWriter] = set()
    flights: list[_InFlight] = []

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.add(writer)
        flight = _InFlight(activity)
        flights.append(flight)
        try:
            await _session(reader, writer, server, state, flight, max_bytes)
        except Exception:  # noqa: BLE001 - one connection's failure is not the owner's
            log.exception("a lane session ended in error")
        finally:
            flight.clear()
            flights.remove(flight)
            writers.discard(writer)
            writer.close()

    listener = await asyncio.start_unix_server(connection, sock=sock, limit=max_bytes)
    try:
        await listener.serve_forever()
    finally:
        with anyio.CancelScope(shield=True), anyio.move_on_after(STOP_WAIT_S):
            while any(f.ids for f in flights):  # let the calls in flight finish, as uvicorn does
                await anyio.sleep(0.05)
        listener.close()
        for writer in list(writers):  # each session then reads the end of its input and ends
            writer.close()


async def _session(reader, writer, server, state, flight: _InFlight, max_bytes: int) -> None:
    try:
        with anyio.fail_after(HELLO_TIMEOUT_S):
            line = await next_line(reader, WHERE, max_bytes)
    except (TimeoutError, LineTooLong, ConnectionError):
        return
    if line is None:
        return
    try:
        user = read_hello(line)
    except (ValueError, TypeError, RecursionError) as exc:
        writer.write(json.dumps({"error": "bad_hello", "message": f"{WHERE}: {exc}"}).encode("utf-8") + b"\n")
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        return
    # The hello's answer: the longest request line this owner reads (a longer one is dropped
    # unanswered, so a bridge sends such a call by HTTP, which answers 413 saying what to do).
    writer.write(json.dumps({HELLO_KEY: LANE_VERSION, "max_line_bytes": max_bytes}).encode("utf-8") + b"\n")
    metadata = ServerMessageMetadata(request_context=LaneRequest(user))
    async with line_streams(reader, writer, metadata=metadata, watch=flight, where=WHERE, limit=max_bytes) as streams:
        await serve_dual_era_loop(server, *streams, lifespan_state=state, init_options=server.create_initialization_options())
