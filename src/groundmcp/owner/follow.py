"""Resource subscriptions through a bridge (owner/bridge.py), in the handshake era
(`resources/subscribe`, `notifications/resources/updated` and `list_changed`).

The owner keeps subscriptions per MCP session (server/subscriptions.py), and a bridge's requests
each use a short session; so each client session of a bridge that subscribes gets one long-lived
session with the owner (a `Follow`) that holds its subscriptions and passes what the owner sends on
to the client. A subscribe is first sent in a short session, so the owner refuses it exactly as it
refuses a read (a limited token learns nothing), then added to the follow.

When the owner goes (idle exit is held off while a follow is open; a crash, kill -9), the follow
notices within PING_S (a ping fails), waits for a new owner, subscribes again, and tells the client
every subscribed URI was updated: changes made while no owner watched are not known one by one, and
a client that re-reads loses nothing but a read.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import mcp_types as types
from anyio.abc import TaskGroup
from mcp.shared.exceptions import MCPError

if TYPE_CHECKING:
    from .bridge import GrantOf, OwnerLink

log = logging.getLogger(__name__)

PING_S = 2.0  # how often a follow checks that its owner is alive
RETRY_S = 0.5  # the wait before a follow reconnects after losing its owner
CONNECT_WAIT_S = 30.0  # how long a subscribe waits for its follow's session with the owner

# The follows speak the handshake era to the owner on purpose (owner and bridge are one package);
# the SDK's notes that subscribe and ping are gone in 2026-07-28 would only fill the IDE's log.
warnings.filterwarnings("ignore", message=r"(resources/subscribe|ping) is removed as of", category=Warning)


class Follow:
    """One bridge client session's subscriptions, held in one session with the owner."""

    def __init__(self, link: OwnerLink, grant: str | None, connection) -> None:
        self.link, self.grant, self.connection = link, grant, connection
        self.uris: set[str] = set()
        self.client = None  # the live session with the owner, if any
        self.connected = anyio.Event()  # set while `client` is live and holds `uris`
        self.closed = False

    async def run(self) -> None:
        """Hold a session with the owner, subscribed to `uris`, until the client goes."""
        missed = False
        while not self.closed:
            try:
                endpoint = await anyio.to_thread.run_sync(self.link.owner.ensure)
                async with self.link.session(endpoint, self.grant, message_handler=self._received) as client:
                    for uri in sorted(self.uris):
                        await client.subscribe_resource(uri)
                    self.client = client
                    self.connected.set()
                    if missed:
                        for uri in sorted(self.uris):
                            await self._tell("updated", uri)
                    while not self.closed:
                        await anyio.sleep(PING_S)
                        await client.send_ping()
            except Exception as exc:  # noqa: BLE001 - the owner went, or is not there yet: try again
                log.info("lost the owner's subscription session (%s); reconnecting", type(exc).__name__)
            finally:
                self.client = None
                if self.connected.is_set():
                    self.connected = anyio.Event()
            missed = True
            if not self.closed:
                await anyio.sleep(RETRY_S)

    async def _received(self, message: Any) -> None:
        if isinstance(message, types.ResourceUpdatedNotification):
            await self._tell("updated", str(message.params.uri))
        elif isinstance(message, types.ResourceListChangedNotification):
            await self._tell("list", None)

    async def _tell(self, kind: str, uri: str | None) -> None:
        try:
            if kind == "list":
                await self.connection.send_resource_list_changed()
            else:
                await self.connection.send_resource_updated(uri)
        except Exception:  # noqa: BLE001 - the client went: stop following for it
            log.info("a bridge client did not take a notification; dropping its subscriptions", exc_info=True)
            self.closed = True


class Follows:
    """The bridge's follows, one per client session that subscribed; the lowlevel server's
    subscribe handlers and the lifespan that runs them."""

    def __init__(self, link: OwnerLink, grant_of: GrantOf) -> None:
        self.link, self.grant_of = link, grant_of
        self._follows: dict[int, Follow] = {}
        self._tasks: TaskGroup | None = None

    @asynccontextmanager
    async def running(self, _server) -> AsyncIterator[dict]:
        """The lowlevel server's lifespan: the task group the follows run in."""
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            try:
                yield {}
            finally:
                for f in self._follows.values():
                    f.closed = True
                tg.cancel_scope.cancel()
                self._tasks = None

    async def subscribe(self, ctx, params: types.SubscribeRequestParams) -> types.EmptyResult:
        uri = str(params.uri)
        grant = self.grant_of(ctx)
        await self.link.call(lambda c: c.subscribe_resource(uri), grant)  # refused as a read would be
        follow = self._follow(ctx, grant)
        follow.uris.add(uri)
        # Subscribed on the follow's own session before this returns: the owner compares what it
        # sees later with what it saw then, so a change made right after is not lost.
        with anyio.move_on_after(CONNECT_WAIT_S):
            await follow.connected.wait()
        if follow.client is not None:
            try:
                await follow.client.subscribe_resource(uri)
            except MCPError:
                follow.uris.discard(uri)
                raise
            except Exception:  # noqa: BLE001 - the session broke: the follow subscribes it on reconnect
                log.info("subscribe on a broken owner session; it is sent again on reconnect", exc_info=True)
        return types.EmptyResult()

    async def unsubscribe(self, ctx, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        uri = str(params.uri)
        follow = self._follows.get(id(_connection(ctx)))
        if follow is not None and uri in follow.uris:
            follow.uris.discard(uri)
            if follow.client is not None:
                try:
                    await follow.client.unsubscribe_resource(uri)
                except Exception:  # noqa: BLE001 - gone: nothing is followed there any more
                    log.debug("unsubscribe on a broken owner session", exc_info=True)
        return types.EmptyResult()

    def _follow(self, ctx, grant: str | None) -> Follow:
        connection = _connection(ctx)
        follow = self._follows.get(id(connection))
        if follow is None or follow.closed:
            if self._tasks is None:
                raise MCPError(types.INVALID_REQUEST, "the server is starting or stopping; subscribe again in a moment")
            follow = Follow(self.link, grant, connection)
            self._follows[id(connection)] = follow
            self._tasks.start_soon(follow.run)
        return follow


def _connection(ctx):
    """The client's connection, which outlives the request (the SDK builds a ServerSession per
    request and keeps the connection private; server/subscriptions.py reads it the same way)."""
    return ctx.session._connection  # noqa: SLF001 - see the docstring
