"""A stdio bridge's tool calls passed to the owner as they came: bytes in, bytes out.

A bridge forwards a request by parsing it into the SDK's models, answering it in its own MCP server
with a handler that sends it again through the SDK's client, and parsing and writing the answer back:
about 4 ms of the bridge's CPU a call, a one-note ingest's whole budget against a one-process peer.
A `tools/call` whose client asked for no progress needs none of that. The lane keeps an MCP session
of its own with the owner, sends the request's line to it unchanged (the id is the client's own:
only that client sends in this session, so ids never clash) and writes the owner's answer to stdout
unchanged. The session is of the client's era: opened with a plain handshake in the client's
revision for a client that opened with `initialize` (IDE clients), or with none for a client of the
2026 revision (the SDK's client by default), whose requests each carry their protocol version and
capabilities in `_meta` and open the session in that era. The session goes by one of two channels:
- a Unix owner's lane socket (owner/lane_server.py): the line written to a socket and the answer's
  line read back, the owner serving the session as stdio is served;
- otherwise (a loopback owner, or one without a lane socket) its JSON route (owner/endpoint.py),
  one POST per call: an HTTP client's work on each, some 4 ms of CPU more a call. That route keeps
  handshake-era sessions only: a 2026-revision client's calls to such an owner take the normal path.

A client's cancellation of a call in the socket session is passed on to it: the owner cancels the
call's handler and no longer counts it in flight (work already on an engine thread runs to its end,
as after a cancellation on any transport). Anything else takes the bridge's normal path
(owner/bridge.py): every other method, a call that asked for progress or log messages (only the SSE
route carries them), a handshake-era call before the client's `initialized`, a call over the owner's
line limit, and any call the lane could not complete. On a failure (no owner yet, the owner gone or
replaced, an answer that is not one) the lane drops its session and hands the request back, and the
normal path, which starts and finds owners and sends again after a loss, answers it; the lane opens
a new session on the next call. A call the owner ran before its connection broke may so run twice,
as the normal path's resend already allows: every tool is idempotent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from typing import Any

import anyio
import httpx2
from mcp.client.streamable_http import MCP_PROTOCOL_VERSION_HEADER, MCP_SESSION_ID
from mcp_types import LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .. import __version__
from ..claims import GRANT_HEADER
from ..server.stdio_pipes import MAX_LINE_BYTES, next_line
from .client import OwnerClient
from .endpoint import live
from .lane_server import HELLO_KEY, LANE_VERSION

log = logging.getLogger(__name__)

JSON_TYPES = "application/json, text/event-stream"
PROTOCOL = HANDSHAKE_PROTOCOL_VERSIONS[-1]  # the handshake era, as the bridge's kept sessions use
OPEN_TIMEOUT_S = 10.0


class OwnerLane:
    """Tool calls of one stdio client, sent to the data dir's owner in a session of their own."""

    def __init__(self, owner: OwnerClient, grant: str) -> None:
        self.owner = owner
        self.grant = grant
        self.ready = False  # the client sent `notifications/initialized`: the session is its to use
        self.protocol = PROTOCOL  # the revision the client asked for in its handshake, if one we speak
        self.handshake = False  # the client opened with `initialize`: its requests are of that era
        self.modern_lane = True  # False once the owner had no lane socket for 2026-revision calls
        self.channel: _SocketChannel | _HttpChannel | None = None
        self._lock = anyio.Lock()

    def takes(self, message: Any) -> bool:
        """Whether `message` (a parsed JSON-RPC line) goes by the lane: a tools/call request that
        asked for no progress and no log messages, of a client that finished the handshake, or of
        a client of the 2026 revision, whose requests carry their protocol version and need none."""
        if not isinstance(message, dict):
            return False
        if message.get("method") == "initialize":  # answered by the bridge; the lane asks the same revision
            asked = (message.get("params") or {}).get("protocolVersion") if isinstance(message.get("params"), dict) else None
            self.protocol = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else PROTOCOL
            self.handshake = True
            return False
        if message.get("method") == "notifications/initialized":
            self.ready = True
            return False
        if message.get("method") == "notifications/cancelled":  # of a call the lane's socket session runs
            params = message.get("params")
            target = params.get("requestId") if isinstance(params, dict) else None
            return isinstance(self.channel, _SocketChannel) and self.channel.runs(target)
        request_id = message.get("id")
        if message.get("method") != "tools/call" or not isinstance(request_id, (str, int)) \
                or isinstance(request_id, bool):  # a request without a valid id: the bridge's server says so
            return False
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        meta = meta if isinstance(meta, dict) else {}
        if meta.get("progressToken") is not None or meta.get(LOG_LEVEL_META_KEY) is not None:
            return False  # notifications wanted: the bridge passes them on
        if PROTOCOL_VERSION_META_KEY in meta:  # the 2026 revision: on a lane session of that era
            return not self.handshake and self.modern_lane
        return self.ready

    async def send(self, line: bytes, request_id: Any) -> bytes | None:
        """The owner's answer to the request `line` (bytes of one JSON-RPC message), or None when
        the lane could not get one: the caller then sends the request by the normal path."""
        if request_id is None:  # a cancellation `takes` found in the socket session: passed on, no answer
            if isinstance(self.channel, _SocketChannel):
                await self.channel.cancel(line, json.loads(line)["params"]["requestId"])
            return b""
        try:
            channel = await self._open()
            if len(line) >= channel.max_line_bytes:  # the bridge's way: HTTP answers 413, saying what to do
                return None
            answer = await channel.call(line, request_id)
            if answer is not None:
                return answer
        except Exception as exc:  # noqa: BLE001 - any failure: the normal path answers this call
            log.info("the lane to the index owner failed (%s: %s); sending the call by the bridge",
                     type(exc).__name__, exc)
        await self.close()
        return None

    async def _open(self) -> _SocketChannel | _HttpChannel:
        """A session with the owner, opened now if there is none (only a live owner: the normal
        path is the one that starts an owner, so a first call finds one started)."""
        async with self._lock:
            if self.channel is not None and not self.channel.closed:
                return self.channel
            endpoint = await anyio.to_thread.run_sync(live, self.owner.paths)
            if endpoint is None:
                raise ConnectionError("no index owner runs yet")
            lane_socket = self.owner.paths.lane_socket
            modern = not self.handshake
            if endpoint.kind == "unix" and await anyio.to_thread.run_sync(lane_socket.exists):
                self.channel = await _SocketChannel.open(os.fspath(lane_socket), self.grant, self.protocol, modern)
            elif modern:  # the JSON route keeps handshake-era sessions: this client's calls go the bridge's way
                self.modern_lane = False
                raise ConnectionError("the index owner has no lane socket for calls of the 2026 revision")
            else:
                self.channel = await _HttpChannel.open(self.owner, endpoint, self.grant, self.protocol)
            return self.channel

    async def close(self) -> None:
        """End the lane's session with the owner."""
        channel, self.channel = self.channel, None
        if channel is not None:
            await channel.close()


def _hello(protocol: str) -> dict:
    return {"jsonrpc": "2.0", "id": "lane", "method": "initialize", "params": {
        "protocolVersion": protocol, "capabilities": {},
        "clientInfo": {"name": "groundmcp-bridge-lane", "version": __version__}}}


INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


class _SocketChannel:
    """A session on a Unix owner's lane socket (owner/lane_server.py): each call a line written, its
    answer the line with its id; the answers of concurrent calls come back in any order."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.pending: dict[Any, asyncio.Future[bytes | None]] = {}
        self.closed = False
        self.max_line_bytes = 0  # the owner's, from the hello's answer
        self._reading: asyncio.Task | None = None

    @classmethod
    async def open(cls, path: str, grant: str, protocol: str, modern: bool = False) -> _SocketChannel:
        """A session opened with the handshake in `protocol`, or with none (`modern`: the client's
        first call, enveloped in the 2026 revision's `_meta`, opens the session in that era)."""
        reader, writer = await asyncio.open_unix_connection(path, limit=MAX_LINE_BYTES)
        channel = cls(reader, writer)
        try:
            with anyio.fail_after(OPEN_TIMEOUT_S):
                hello = _line({HELLO_KEY: LANE_VERSION, "grant": grant})
                writer.write(hello if modern else hello + _line(_hello(protocol)))
                await writer.drain()
                while True:  # the owner may say something before it answers (a log message)
                    line = await next_line(reader, "the owner's lane socket", MAX_LINE_BYTES)
                    if line is None:
                        raise ConnectionError("the owner closed its lane socket in the handshake")
                    message = json.loads(line)
                    if message.get("error") == "bad_hello":
                        raise ConnectionError(message.get("message"))
                    if message.get(HELLO_KEY) == LANE_VERSION:
                        channel.max_line_bytes = int(message.get("max_line_bytes") or 0)
                        if modern:
                            break
                    elif message.get("id") == "lane":
                        break
                if not modern:
                    if not (message.get("result") or {}).get("protocolVersion"):
                        raise ConnectionError(f"the owner's handshake answered {line[:200]!r}")
                    writer.write(_line(INITIALIZED))
                    await writer.drain()
        except BaseException:
            writer.close()
            raise
        channel._reading = asyncio.get_running_loop().create_task(channel._read())
        return channel

    async def call(self, line: bytes, request_id: Any) -> bytes | None:
        if self.closed or request_id in self.pending:  # a client that reuses an id in flight: the bridge's way
            return None
        answer = asyncio.get_running_loop().create_future()
        self.pending[request_id] = answer
        try:
            self.writer.write(line.rstrip(b"\n") + b"\n")
            await self.writer.drain()
            return await answer
        finally:
            self.pending.pop(request_id, None)

    def runs(self, request_id: Any) -> bool:
        """Whether a call of this id waits for its answer on this session."""
        return isinstance(request_id, (str, int)) and request_id in self.pending

    async def cancel(self, line: bytes, request_id: Any) -> None:
        """Pass the client's cancellation of a call on, so the owner cancels its handler; the call
        then ends with nothing to write (a cancelled request gets no answer)."""
        with contextlib.suppress(ConnectionError, RuntimeError):
            self.writer.write(line.rstrip(b"\n") + b"\n")
            await self.writer.drain()
        waiting = self.pending.get(request_id)
        if waiting is not None and not waiting.done():
            waiting.set_result(b"")

    async def _read(self) -> None:
        """Hand each answer to its call; answer the owner's own requests (it has no cause to send
        any: the lane declared no capability) with an error, so none waits."""
        try:
            while (line := await next_line(self.reader, "the owner's lane socket", MAX_LINE_BYTES)) is not None:
                try:
                    message = json.loads(line)
                except (ValueError, RecursionError):
                    continue
                if not isinstance(message, dict):
                    continue
                request_id = message.get("id")
                if "method" in message:
                    if request_id is not None:
                        self.writer.write(_line({"jsonrpc": "2.0", "id": request_id, "error": {
                            "code": -32601, "message": "the bridge's lane takes no requests"}}))
                    continue
                waiting = self.pending.get(request_id) if isinstance(request_id, (str, int)) else None
                if waiting is not None and not waiting.done():
                    waiting.set_result(line)
        except Exception as exc:  # noqa: BLE001 - the connection is lost: its calls go the bridge's way
            log.info("the owner's lane socket failed: %s: %s", type(exc).__name__, exc)
        finally:
            self._lost()

    def _lost(self) -> None:
        self.closed = True
        for waiting in self.pending.values():
            if not waiting.done():
                waiting.set_result(None)

    async def close(self) -> None:
        self._lost()
        if self._reading is not None and self._reading is not asyncio.current_task():
            self._reading.cancel()
        self.writer.close()
        with contextlib.suppress(Exception), anyio.move_on_after(2.0, shield=True):
            await self.writer.wait_closed()


class _HttpChannel:
    """A session on the owner's JSON route (owner/endpoint.py): one POST per call."""

    max_line_bytes = MAX_LINE_BYTES  # the owner answers 413 to a body over its limit: the bridge's way then

    def __init__(self, http: httpx2.AsyncClient, url: str, headers: dict[str, str]) -> None:
        self.http, self.url, self.headers = http, url, headers
        self.closed = False

    @classmethod
    async def open(cls, owner: OwnerClient, endpoint, grant: str, protocol: str) -> _HttpChannel:
        http = owner.http_client(endpoint, {GRANT_HEADER: grant})
        try:
            headers = {"content-type": "application/json", "accept": JSON_TYPES}
            answer = await http.post(endpoint.json_url, json=_hello(protocol), headers=headers)
            session = answer.headers.get(MCP_SESSION_ID)
            version = (answer.json().get("result") or {}).get("protocolVersion")
            if answer.status_code != 200 or not session or not version:
                raise ConnectionError(f"the owner's handshake answered {answer.status_code}")
            headers |= {MCP_SESSION_ID: session, MCP_PROTOCOL_VERSION_HEADER: version}
            done = await http.post(endpoint.json_url, json=INITIALIZED, headers=headers)
            if done.status_code not in (200, 202):
                raise ConnectionError(f"the owner answered {done.status_code} to initialized")
        except BaseException:
            await http.aclose()
            raise
        return cls(http, endpoint.json_url, headers)

    async def call(self, line: bytes, request_id: Any) -> bytes | None:
        response = await self.http.post(self.url, content=line, headers=self.headers)
        body = (await response.aread()).strip()
        # stdio frames a message by its line: an answer must hold no raw newline (compact JSON never does)
        if response.status_code == 200 and b"\n" not in body and _answers(body, request_id):
            return body
        log.info("the owner answered the lane %d; sending the call by the bridge", response.status_code)
        return None

    async def close(self) -> None:
        """End the session (a DELETE, if it is still there)."""
        self.closed = True
        with anyio.move_on_after(2.0, shield=True):
            try:
                await self.http.delete(self.url, headers=self.headers)
            except httpx2.HTTPError:
                pass
            await self.http.aclose()


def _line(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def _answers(body: bytes, request_id: Any) -> bool:
    """Whether `body` is a JSON-RPC answer (a result or an error) to `request_id`."""
    try:
        message = json.loads(body)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("id") == request_id and ("result" in message or "error" in message)
