"""A stdio bridge's tool calls passed to the owner as they came: bytes in, bytes out.

A bridge forwards a request by parsing it into the SDK's models, answering it in its own MCP server
with a handler that sends it again through the SDK's client, and parsing and writing the answer back:
about 4 ms of the bridge's CPU a call, a one-note ingest's whole budget against a one-process peer.
A `tools/call` whose client asked for no progress needs none of that. The lane keeps an MCP session
of its own with the owner's JSON route (owner/endpoint.py), opened with a plain handshake, posts the
request's line to it unchanged (the id is the client's own: only that client sends in this session,
so ids never clash) and writes the owner's JSON answer to stdout unchanged.

Anything else takes the bridge's normal path (owner/bridge.py): every other method, a call that asked
for progress (only the SSE route carries it), anything before the client's `initialized`, and any
call the lane could not complete. On a failure (no owner yet, the owner gone or replaced, a
non-200 answer) the lane drops its session and hands the request back, and the normal path, which
starts and finds owners and sends again after a loss, answers it; the lane opens a new session on
the next call. A call the owner ran before its connection broke may so run twice, as the normal
path's resend already allows: every tool is idempotent.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import anyio
import httpx2
from mcp.client.streamable_http import MCP_PROTOCOL_VERSION_HEADER, MCP_SESSION_ID
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS

from .. import __version__
from ..claims import GRANT_HEADER
from .client import OwnerClient
from .endpoint import live

log = logging.getLogger(__name__)

JSON_TYPES = "application/json, text/event-stream"
PROTOCOL = HANDSHAKE_PROTOCOL_VERSIONS[-1]  # the handshake era, as the bridge's kept sessions use


class OwnerLane:
    """Tool calls of one stdio client, posted to the data dir's owner in a session of their own."""

    def __init__(self, owner: OwnerClient, grant: str) -> None:
        self.owner = owner
        self.grant = grant
        self.ready = False  # the client sent `notifications/initialized`: the session is its to use
        self.protocol = PROTOCOL  # the revision the client asked for in its handshake, if one we speak
        self._http: httpx2.AsyncClient | None = None
        self._url = ""
        self._headers: dict[str, str] = {}
        self._lock = anyio.Lock()

    def takes(self, message: Any) -> bool:
        """Whether `message` (a parsed JSON-RPC line) goes by the lane: a tools/call request that
        asked for no progress, once the client finished the handshake (a client of the stateless
        2026 revision does none, and keeps the normal path)."""
        if not isinstance(message, dict):
            return False
        if message.get("method") == "initialize":  # answered by the bridge; the lane asks the same revision
            asked = (message.get("params") or {}).get("protocolVersion") if isinstance(message.get("params"), dict) else None
            self.protocol = asked if asked in HANDSHAKE_PROTOCOL_VERSIONS else PROTOCOL
            return False
        if message.get("method") == "notifications/initialized":
            self.ready = True
            return False
        if not self.ready or message.get("method") != "tools/call" or "id" not in message:
            return False
        params = message.get("params")
        meta = params.get("_meta") if isinstance(params, dict) else None
        return not (isinstance(meta, dict) and meta.get("progressToken") is not None)

    async def send(self, line: bytes, request_id: Any) -> bytes | None:
        """The owner's answer to the request `line` (bytes of one JSON-RPC message), or None when
        the lane could not get one: the caller then sends the request by the normal path."""
        try:
            await self._open()
            assert self._http is not None
            response = await self._http.post(self._url, content=line, headers=self._headers)
            body = (await response.aread()).strip()
            # stdio frames a message by its line: an answer must hold no raw newline (compact JSON never does)
            if response.status_code == 200 and b"\n" not in body and _answers(body, request_id):
                return body
            log.info("the owner answered the lane %d; sending the call by the bridge", response.status_code)
        except Exception as exc:  # noqa: BLE001 - any failure: the normal path answers this call
            log.info("the lane to the index owner failed (%s: %s); sending the call by the bridge",
                     type(exc).__name__, exc)
        await self.close()
        return None

    async def _open(self) -> None:
        """A session with the owner, opened now if there is none (only a live owner: the normal
        path is the one that starts an owner, so a first call finds one started)."""
        async with self._lock:
            if self._http is not None:
                return
            endpoint = await anyio.to_thread.run_sync(live, self.owner.paths)
            if endpoint is None:
                raise ConnectionError("no index owner runs yet")
            http = self.owner.http_client(endpoint, {GRANT_HEADER: self.grant})
            try:
                headers = {"content-type": "application/json", "accept": JSON_TYPES}
                hello = {"jsonrpc": "2.0", "id": "lane", "method": "initialize", "params": {
                    "protocolVersion": self.protocol, "capabilities": {},
                    "clientInfo": {"name": "groundmcp-bridge-lane", "version": __version__}}}
                answer = await http.post(endpoint.json_url, json=hello, headers=headers)
                session = answer.headers.get(MCP_SESSION_ID)
                version = (answer.json().get("result") or {}).get("protocolVersion")
                if answer.status_code != 200 or not session or not version:
                    raise ConnectionError(f"the owner's handshake answered {answer.status_code}")
                headers |= {MCP_SESSION_ID: session, MCP_PROTOCOL_VERSION_HEADER: version}
                done = await http.post(endpoint.json_url, json={"jsonrpc": "2.0", "method": "notifications/initialized"},
                                       headers=headers)
                if done.status_code not in (200, 202):
                    raise ConnectionError(f"the owner answered {done.status_code} to initialized")
            except BaseException:
                await http.aclose()
                raise
            self._http, self._url, self._headers = http, endpoint.json_url, headers

    async def close(self) -> None:
        """End the lane's session with the owner (a DELETE, if it is still there)."""
        http, self._http = self._http, None
        if http is None:
            return
        with anyio.move_on_after(2.0, shield=True):
            try:
                await http.delete(self._url, headers=self._headers)
            except httpx2.HTTPError:
                pass
            await http.aclose()


def _answers(body: bytes, request_id: Any) -> bool:
    """Whether `body` is a JSON-RPC answer (a result or an error) to `request_id`."""
    try:
        message = json.loads(body)
    except ValueError:
        return False
    return isinstance(message, dict) and message.get("id") == request_id and ("result" in message or "error" in message)


