"""A bridge's MCP sessions with the owner, kept open across the requests it forwards.

A request forwarded in a session of its own paid for a new HTTP client, the MCP handshake and a
probe of the owner's files before its one POST: some 50 ms a call, as much as a memory-style
client's whole one-note ingest. So a bridge keeps one session per grant (the header the owner
reads on every HTTP request: server/auth.py ForwardedGrant), opened on first use by `ensure` (which
finds or starts the owner and checks its protocol and model) and held open by a task of the
bridge's lifespan (an MCP client is entered and left in one task). A request then costs one POST
over a kept connection.

Two sessions per grant, in fact, one on each of the owner's MCP paths (owner/endpoint.py): a request
whose client asked for progress goes to MCP_PATH, answered as an SSE stream that carries the progress
notifications; every other request goes to JSON_PATH, answered with one JSON body, some 5 ms less of
the owner's CPU and of the call's time (the SSE stream is an event loop hop and a task per message).

A kept session is dropped, and the request sent again on a new one (owner/bridge.py OwnerLink.call),
when
- its transport fails: the owner died or exited idle (the socket refuses, a kept connection breaks);
- the owner answers 404 to its session id: the owner was replaced (a new one on the same socket),
  or it expired the session (the SDK's session idle timeout);
- (loopback) the owner that published its port and token is no longer the one holding the lock:
  the token is sent to no port that a dead owner's file names (owner/endpoint.py), checked before
  each request as `ensure` checks it.

Kept sessions do not open the standalone GET stream the SDK opens after the handshake: a request
session needs no server-initiated messages (progress comes on each request's own response; follows,
owner/follow.py, hold sessions of their own for notifications), and an open GET counts as a request
in flight to the owner (owner/daemon.py Activity), so it would keep an idle owner from ever exiting
while an IDE holds a bridge open.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, TypeVar

import anyio
import httpx2
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client
from mcp.client.streamable_http import MCP_SESSION_ID, streamable_http_client

from ..claims import GRANT_HEADER
from .endpoint import Endpoint

if TYPE_CHECKING:
    from .client import OwnerClient

log = logging.getLogger(__name__)

T = TypeVar("T")

MODE = "legacy"  # the owner is this same package; the handshake era needs no tool listing per call
MAX_KEPT = 32  # sessions kept at once (two per grant: an HTTP bridge's tokens); the oldest is closed
CLOSE_WAIT_S = 2.0  # how long a closing bridge waits for its sessions' DELETE to reach the owner


Key = tuple[str | None, bool]  # a kept session's grant, and whether it is on the JSON path


class SessionLost(Exception):
    """The kept session ended before the request was answered: send it again on a new one."""


class RequestsOnly(httpx2.AsyncBaseTransport):
    """A kept session's transport: the endpoint's, except that the SDK's standalone GET stream is
    declined here (405, as a server without one answers), a 404 to a request that bore a session
    id is noted (the owner does not know the session), and a DELETE to an owner that is gone or
    forgot the session ends it quietly (`_end`)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.unknown_session = False

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        if request.method == "GET":
            return httpx2.Response(405, request=request)
        if request.method == "DELETE":
            return await self._end(request)
        response = await self.inner.handle_async_request(request)
        if response.status_code == 404 and MCP_SESSION_ID in request.headers:
            self.unknown_session = True
        return response

    async def _end(self, request: httpx2.Request) -> httpx2.Response:
        """The DELETE that ends the session, answered 204 when there is nothing to end: the owner
        forgot the session (404), or is gone. A bridge keeps a session on each of the owner's paths
        (JSON and SSE), and a loss found on one leaves the other to learn of it when it closes."""
        if not self.unknown_session:
            try:
                response = await self.inner.handle_async_request(request)
            except httpx2.TransportError:
                return httpx2.Response(204, request=request)
            if response.status_code != 404:
                return response
            await response.aclose()
        return httpx2.Response(204, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


class KeptSession:
    """One session with the owner at `endpoint` for requests under `grant`, held open by `hold`
    until `close`, or until it breaks."""

    def __init__(self, owner: OwnerClient, endpoint: Endpoint, grant: str | None, json: bool = True) -> None:
        self.owner, self.endpoint, self.grant, self.json = owner, endpoint, grant, json
        self.transport = RequestsOnly(endpoint.async_transport())
        self.client: Client | None = None
        self.ended = anyio.Event()
        self._closing = anyio.Event()
        self._waiting: set[anyio.CancelScope] = set()
        self.failure: Exception | None = None  # what ended the session, once it started

    @property
    def usable(self) -> bool:
        return self.client is not None and not self._closing.is_set() and not self.transport.unknown_session

    async def still_trusted(self) -> bool:
        """Whether requests may still go to this endpoint. A Unix socket, in the user's private
        data dir, reaches this user's owner or none (a replaced owner answers 404); a loopback
        port is trusted while the owner that published it holds the lock (a file check, no
        connection)."""
        if self.endpoint.kind == "unix":
            return True
        return await anyio.to_thread.run_sync(self.endpoint.still_published, self.owner.paths)

    async def hold(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the session, report it started, and keep it open until `close` or a failure (a
        failure before it started is raised to the one who started it)."""
        headers = {GRANT_HEADER: self.grant} if self.grant is not None else {}
        started = False
        try:
            async with self.owner.http_client(self.endpoint, headers, transport=self.transport) as http:
                url = self.endpoint.json_url if self.json else self.endpoint.url
                connection = streamable_http_client(url, http_client=http)
                # No response cache: a bridge passes each answer on, fresh; its client caches.
                async with Client(connection, mode=MODE, cache=None) as client:
                    self.client = client
                    started = True
                    task_status.started()
                    await self._closing.wait()
        except Exception as exc:  # noqa: BLE001 - after the start: the owner went; the next request reopens
            if not started:
                raise
            self.failure = exc
            log.info("the kept session with the index owner ended (%s: %s)", type(exc).__name__, exc)
        finally:
            self.client = None
            self.ended.set()
            for scope in self._waiting:
                scope.cancel()

    def close(self) -> None:
        self._closing.set()

    async def run(self, work: Callable[[Client], Awaitable[T]]) -> T:
        """`work(client)` on this session; SessionLost when the session ends before it is done."""
        client = self.client
        if client is None:
            raise SessionLost("the kept session had ended")
        with anyio.CancelScope() as scope:
            self._waiting.add(scope)
            try:
                return await work(client)
            finally:
                self._waiting.discard(scope)
        raise SessionLost("the kept session ended during the request")


class KeptSessions:
    """The bridge's kept sessions, one per grant and MCP path (`json` or not), and the task group
    that holds them (entered by the bridge's lifespan: `running`). Outside it `get` gives None: the
    caller opens a session for its request alone."""

    def __init__(self, owner: OwnerClient) -> None:
        self.owner = owner
        self._kept: OrderedDict[Key, KeptSession] = OrderedDict()
        self._opening: dict[Key, anyio.Lock] = {}
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            try:
                yield
            finally:
                self._tasks = None
                kept = list(self._kept.values())
                self._kept.clear()
                for k in kept:
                    k.close()
                with anyio.move_on_after(CLOSE_WAIT_S, shield=True):
                    for k in kept:
                        await k.ended.wait()
                tg.cancel_scope.cancel()

    async def get(self, grant: str | None, json: bool = True) -> KeptSession | None:
        """The kept session for `grant` on the JSON path (`json`) or the SSE one, opened now if
        there is none that may be used (the owner found or started first: `ensure`, which raises
        OwnerUnavailable or ToolFailed)."""
        if self._tasks is None:
            return None
        key = (grant, json)
        kept = self._kept.get(key)
        if kept is not None and kept.usable and await kept.still_trusted():
            self._kept.move_to_end(key)
            return kept
        lock = self._opening.setdefault(key, anyio.Lock())
        async with lock:  # concurrent first requests share the session one of them opens
            tasks = self._tasks
            if tasks is None:
                return None
            kept = self._kept.get(key)
            if kept is not None and kept.usable and await kept.still_trusted():
                return kept
            if kept is not None:
                self.drop(kept)
            endpoint = await anyio.to_thread.run_sync(self.owner.ensure)
            kept = KeptSession(self.owner, endpoint, grant, json)
            try:
                await tasks.start(kept.hold)
            except BaseException:
                kept.close()  # a caller cancelled while the session opened: it closes once open
                raise
            self._kept[key] = kept
            while len(self._kept) > MAX_KEPT:
                self._kept.popitem(last=False)[1].close()
            return kept

    def held(self, grant: str | None, json: bool = True) -> KeptSession | None:
        """The session kept for `grant` on the JSON path (`json`) or the SSE one now, if any."""
        return self._kept.get((grant, json))

    def drop(self, kept: KeptSession) -> None:
        """Close `kept` and forget it (the next request for its grant and path opens another)."""
        kept.close()
        key = (kept.grant, kept.json)
        if self._kept.get(key) is kept:
            del self._kept[key]
