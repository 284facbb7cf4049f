"""Resource subscriptions and change notifications, in both protocol eras.

- Handshake era (2025-11-25 and before): `resources/subscribe` and `resources/unsubscribe`, per
  session, at most MAX_PER_SESSION URIs each; `notifications/resources/updated` and
  `notifications/resources/list_changed` go to the session itself.
- 2026-07-28: a `subscriptions/listen` stream names its URIs (at most MAX_PER_SESSION); the SDK's
  listen handler serves it from `bus`, which this module publishes to.

A subscription is refused exactly as a read of its URI is: the subscribe runs the server's own
`resources/read` handler first, so a limited token gets the same error for another tenant's
collection or file as a read gives, and learns nothing more (not even whether it exists).

What fires: the Engine tells its ingest listeners (`Engine.on_ingest`) the collection and the
folder or file ingested, from the ingesting thread (a tool's worker, or the watcher's), not which
files changed. So a subscription under that path is checked, never the tree: a file subscription
by its file's stat (size, mtime, inode), a chunk subscription by whether its id is still in the
index. It fires when that answer changes, which is when a re-read would answer differently:

- a file resource (any line range) fires when the file changed on disk or went;
- a chunk resource fires when its chunk left the index. Chunk ids derive from the file's content,
  so any change to the file replaces every id of that file: the re-read then answers "no chunk with
  id ...", and the client searches again (or follows the file resource instead). The
  subscription stays: if the same content comes back, so does the id, and it fires again.

Collections appearing or going (an ingest into a new one, delete_collection) send list_changed
to every session that may see one of them, and fire the subscriptions of a collection that went.
Notifications are queued from the worker thread into the event loop (one pump task); a session
that is gone, or too slow to take one in SEND_TIMEOUT_S, loses its subscriptions and never holds
up the others.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import logging
import os
import threading
import weakref
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp.server import MCPServer
from mcp.server.connection import Connection
from mcp.server.context import CallNext, ServerRequestContext
from mcp.server.subscriptions import ResourcesListChanged, ResourceUpdated, ServerEvent
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INVALID_REQUEST,
    EmptyResult,
    ReadResourceRequestParams,
    SubscribeRequestParams,
    SubscriptionsListenRequestParams,
    UnsubscribeRequestParams,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..access import Access, AppState, access_for
from ..engine import Engine
from ..errors import GroundError
from .resources import named

log = logging.getLogger(__name__)

MAX_PER_SESSION = 100  # URIs one session (or one listen stream) may follow at once
SEND_TIMEOUT_S = 5.0  # a session that cannot take a notification in this long is dropped
QUEUE = 1024  # batches of notifications waiting for the event loop; past it a batch is dropped

_LISTENER = contextvars.ContextVar[Access | None]("groundmcp_listen_access", default=None)


@dataclass(slots=True)
class Followed:
    """One subscribed URI: the collection, the file it depends on (None: a chunk of `texts`,
    which no file ingest changes), its chunk id if a chunk, and the last answer seen."""

    collection: str
    file: Path | None
    chunk_id: str | None
    seen: object = None


@dataclass(eq=False)
class _Stream:
    """A listen stream's key: its URIs live as long as the request that opened it."""

    uris: dict[str, Followed] = field(default_factory=dict)


class AccessBus:
    """The SDK's in-process `SubscriptionBus`, that also remembers each listen stream's access
    (set by `Subscriptions` around the listen handler) so list_changed reaches only streams whose
    token may see a collection that came or went."""

    def __init__(self) -> None:
        self._listeners: dict[object, tuple[Callable[[ServerEvent], None], Access | None]] = {}

    async def publish(self, event: ServerEvent) -> None:
        self._deliver(event, lambda _: True)
        await anyio.lowlevel.checkpoint()

    async def publish_list_changed(self, names: set[str]) -> None:
        self._deliver(ResourcesListChanged(), lambda a: a is not None and any(map(a.allows, names)))
        await anyio.lowlevel.checkpoint()

    def subscribe(self, listener: Callable[[ServerEvent], None]) -> Callable[[], None]:
        token = object()
        self._listeners[token] = (listener, _LISTENER.get())
        return lambda: self._listeners.pop(token, None) and None

    def _deliver(self, event: ServerEvent, allowed: Callable[[Access | None], bool]) -> None:
        for listener, access in list(self._listeners.values()):
            if not allowed(access):
                continue
            try:
                listener(event)
            except Exception:  # noqa: BLE001 - one stream never starves the others
                log.warning("listen stream failed to take an event", exc_info=True)


class Subscriptions:
    """The subscriptions of one server. `install(mcp)` after the resources are registered;
    `serving(engine)` around the lifespan's yield."""

    def __init__(self) -> None:
        self.bus = AccessBus()
        self._mcp: MCPServer | None = None
        self._lock = threading.Lock()  # the tables below: the loop writes, ingest threads read
        # session or listen stream -> uri -> what it follows; weak, so a session that ended
        # without a word (an HTTP session timed out) holds nothing
        self._followed: weakref.WeakKeyDictionary[object, dict[str, Followed]] = weakref.WeakKeyDictionary()
        self._sessions: weakref.WeakKeyDictionary[Connection, Access] = weakref.WeakKeyDictionary()
        self._names: set[str] = set()
        self._writers: frozenset[str] | None = None  # tools that may create or delete a collection
        self._engine: Engine | None = None
        self._send: Any = None
        self._token: Any = None

    # -- set-up ------------------------------------------------------------------------------

    def install(self, mcp: MCPServer) -> None:
        """Serve resources/subscribe and resources/unsubscribe, check listen streams' URIs, and
        declare the capabilities. The SDK offers no public way to add a spec method's handler or
        a listChanged flag to MCPServer, so this reaches its low-level server (as the SDK's own
        in-process client does), here and nowhere else."""
        self._mcp = mcp
        low = mcp._lowlevel_server  # noqa: SLF001 - see the docstring
        low.add_request_handler("resources/subscribe", SubscribeRequestParams, self._subscribe)
        low.add_request_handler("resources/unsubscribe", UnsubscribeRequestParams, self._unsubscribe)
        get = low.get_capabilities

        @functools.wraps(get)
        def capabilities(*args, **kwargs):
            caps = get(*args, **kwargs)
            update: dict[str, Any] = {}
            if caps.resources is not None:
                update["resources"] = caps.resources.model_copy(update={"subscribe": True, "list_changed": True})
            for kind in ("tools", "prompts"):  # their lists never change
                if (cap := getattr(caps, kind)) is not None:
                    update[kind] = cap.model_copy(update={"list_changed": False})
            return caps.model_copy(update=update)

        low.get_capabilities = capabilities
        mcp.middleware.append(self._middleware)

    @asynccontextmanager
    async def serving(self, engine: Engine) -> AsyncIterator[None]:
        """Hear the engine's ingests and send what they change, while the server runs."""
        self._engine = engine
        self._token = anyio.lowlevel.current_token()
        self._names = set(await anyio.to_thread.run_sync(engine.collection_names))
        send, receive = anyio.create_memory_object_stream[list[tuple[Any, ...]]](QUEUE)
        self._send = send
        unsubscribe = engine.on_ingest(self._ingested)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._pump, receive)
                try:
                    yield
                finally:
                    unsubscribe()
                    send.close()
                    tg.cancel_scope.cancel()
        finally:
            self._send = self._token = None

    # -- requests (on the event loop) ----------------------------------------------------------

    async def _subscribe(self, ctx: ServerRequestContext, params: SubscribeRequestParams) -> EmptyResult:
        uri = str(params.uri)
        session = _connection(ctx)
        self._room(session, uri)
        followed = await self._check(ctx, uri)
        with self._lock:
            self._room(session, uri, locked=True)  # another subscribe may have filled it meanwhile
            self._followed.setdefault(session, {})[uri] = followed
        return EmptyResult()

    def _room(self, session: Connection, uri: str, *, locked: bool = False) -> None:
        """MCPError if `session` follows MAX_PER_SESSION URIs already (`uri` not among them)."""
        with contextlib.nullcontext() if locked else self._lock:
            mine = self._followed.get(session, {})
            full = uri not in mine and len(mine) >= MAX_PER_SESSION
        if full:
            raise MCPError(
                INVALID_REQUEST,
                f"this session already follows {MAX_PER_SESSION} resources, the most it may; "
                "resources/unsubscribe from one before subscribing to another",
                {"uri": uri},
            )

    async def _unsubscribe(self, ctx: ServerRequestContext, params: UnsubscribeRequestParams) -> EmptyResult:
        """Idempotent: a URI not followed answers the same, so nothing is learned from it."""
        session = _connection(ctx)
        with self._lock:
            mine = self._followed.get(session, {})
            mine.pop(str(params.uri), None)
            if not mine:
                self._followed.pop(session, None)
        return EmptyResult()

    async def _middleware(self, ctx: ServerRequestContext, call_next: CallNext):
        """Remember each handshake-era session's access (for list_changed); check and follow a
        listen stream's URIs for as long as it lasts; after a tool that may create or delete a
        collection, look for collections that came or went."""
        if ctx.method == "subscriptions/listen":
            return await self._listen(ctx, call_next)
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS and isinstance(ctx.lifespan_context, AppState):
            with self._lock:
                self._sessions[_connection(ctx)] = access_for(ctx.lifespan_context, ctx.request)
        result = await call_next(ctx)
        if ctx.method == "tools/call" and (ctx.params or {}).get("name") in await self._writer_tools():
            await anyio.to_thread.run_sync(self._collections_changed)
        return result

    async def _listen(self, ctx: ServerRequestContext, call_next: CallNext):
        params = SubscriptionsListenRequestParams.model_validate(ctx.params or {}, by_name=False)
        uris = list(dict.fromkeys(params.notifications.resource_subscriptions or ()))
        if len(uris) > MAX_PER_SESSION:
            raise MCPError(
                INVALID_REQUEST,
                f"a listen stream may follow at most {MAX_PER_SESSION} resources; it named {len(uris)}. "
                "Split them over several streams",
            )
        stream = _Stream({uri: await self._check(ctx, uri) for uri in uris})
        with self._lock:
            self._followed[stream] = stream.uris
        marker = _LISTENER.set(access_for(ctx.lifespan_context, ctx.request))
        try:
            return await call_next(ctx)
        finally:
            _LISTENER.reset(marker)
            with self._lock:
                self._followed.pop(stream, None)

    async def _check(self, ctx: ServerRequestContext, uri: str) -> Followed:
        """What `uri` follows, once the server's own read of it succeeded (its error otherwise,
        the same a read gives). A URI that is not this server's fails that read."""
        read = self._low().get_request_handler("resources/read")
        await read.handler(ctx, ReadResourceRequestParams(uri=uri))
        if (what := named(uri)) is None:  # read, yet not a chunk or a file: nothing can change it
            raise MCPError(INVALID_REQUEST, f"{uri} cannot be followed: only chunk and file resources change", {"uri": uri})
        try:
            return await anyio.to_thread.run_sync(self._locate, what)
        except GroundError as exc:  # it went between the read and now: as a read would say
            raise MCPError(INVALID_REQUEST, str(exc), {"uri": uri}) from exc

    def _locate(self, what) -> Followed:
        engine = self._engine_or_fail()
        if what.chunk_id is not None:
            hit = engine.chunks(what.collection, [what.chunk_id])[0]
            file = _file_of(hit.root, hit.path)
            return Followed(what.collection, file, what.chunk_id, True)
        src = engine.file_lines(what.collection, what.path, 1, 1)  # where the read found it
        file = _file_of(src.root, src.path)
        return Followed(what.collection, file, None, _stat(file))

    async def _writer_tools(self) -> frozenset[str]:
        if self._writers is None:
            tools = await self._mcp.list_tools()
            self._writers = frozenset(
                t.name for t in tools if not (t.annotations and t.annotations.read_only_hint)
            )
        return self._writers

    # -- events (on the ingesting thread) ------------------------------------------------------

    def _ingested(self, collection: str, path: Path) -> None:
        """`Engine.on_ingest`'s listener: fire what the ingest of `path` changed."""
        fired = self._refresh(lambda f: f.collection == collection and f.file is not None and _under(f.file, path))
        self._queue([("updated", key, uri) for key, uri in fired])
        self._collections_changed()

    def _collections_changed(self) -> None:
        engine = self._engine
        if engine is None:
            return
        names = set(engine.collection_names())
        with self._lock:
            came, went = names - self._names, self._names - names
            self._names = names
        if not (came or went):
            return
        changed = came | went
        with self._lock:
            sessions = [s for s, access in list(self._sessions.items()) if any(map(access.allows, changed))]
        gone = self._refresh(lambda f: f.collection in went, lambda _: False)
        self._queue([("list", s, changed) for s in sessions] + [("bus-list", None, changed)]
                    + [("updated", key, uri) for key, uri in gone])

    def _refresh(self, picks: Callable[[Followed], bool], answer: Callable[[Followed], object] | None = None):
        """(key, uri) of each followed URI that `picks` whose answer (`answer`, else its current
        one: the file's stat or the chunk's presence) differs from the last one seen."""
        with self._lock:
            chosen = [(key, uri, f) for key, uris in list(self._followed.items()) for uri, f in uris.items() if picks(f)]
        fired = []
        for key, uri, f in chosen:
            now = (answer or self._answer)(f)
            if now != f.seen:
                f.seen = now
                fired.append((key, uri))
        return fired

    def _answer(self, f: Followed) -> object:
        if f.chunk_id is None:
            return _stat(f.file)
        try:
            self._engine_or_fail().chunks(f.collection, [f.chunk_id])
        except GroundError:
            return False
        return True

    def _queue(self, batch: list[tuple[Any, ...]]) -> None:
        if not batch or self._send is None:
            return
        try:
            anyio.from_thread.run_sync(self._put, batch, token=self._token)
        except (RuntimeError, anyio.ClosedResourceError):  # the server is stopping
            log.debug("resource notifications not sent: the server is stopping")

    def _put(self, batch: list[tuple[Any, ...]]) -> None:
        try:
            self._send.send_nowait(batch)
        except anyio.WouldBlock:
            log.warning("%d resource notification(s) dropped: %d batches already wait", len(batch), QUEUE)

    # -- sending (on the event loop) -----------------------------------------------------------

    async def _pump(self, receive) -> None:
        async with receive:
            async for batch in receive:
                published: set[str] = set()
                for kind, key, what in batch:
                    if kind == "bus-list":
                        await self.bus.publish_list_changed(what)
                    elif isinstance(key, _Stream):
                        if what not in published:  # the bus sends it to every stream that names it
                            published.add(what)
                            await self.bus.publish(ResourceUpdated(uri=what))
                    else:
                        await self._send_to(key, kind, what)

    async def _send_to(self, session: Connection, kind: str, what) -> None:
        try:
            with anyio.fail_after(SEND_TIMEOUT_S):
                if kind == "list":
                    await session.send_resource_list_changed()
                else:
                    await session.send_resource_updated(what)
        except Exception:  # noqa: BLE001 - gone or stuck: forget it, the others go on
            log.info("a session did not take a resource notification; dropping its subscriptions", exc_info=True)
            with self._lock:
                self._followed.pop(session, None)
                self._sessions.pop(session, None)

    # -- helpers -------------------------------------------------------------------------------

    def _low(self):
        return self._mcp._lowlevel_server  # noqa: SLF001 - see install()

    def _engine_or_fail(self) -> Engine:
        if self._engine is None:
            raise MCPError(INVALID_REQUEST, "the server is starting or stopping; subscribe again in a moment")
        return self._engine


def _connection(ctx: ServerRequestContext) -> Connection:
    """The client's connection: the session a subscription belongs to. The SDK builds a
    ServerSession per request and keeps the connection private; this is the one place that
    reads it."""
    return ctx.session._connection  # noqa: SLF001 - see the docstring


def _file_of(root: str, path: str) -> Path | None:
    """The file a chunk or file resource depends on; None for documents sent as `texts`."""
    if not root or not os.path.isabs(root):
        return None
    return Path(root) / path


def _under(file: Path, target: Path) -> bool:
    return file == target or file.is_relative_to(target)


def _stat(file: Path | None) -> object:
    if file is None:
        return None
    try:
        st = os.stat(file)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns, st.st_ino)
