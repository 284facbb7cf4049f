"""A front end that holds no index: an MCP server (stdio for an IDE, or Streamable HTTP) whose every
request is forwarded to the data dir's owner over its private endpoint (owner/endpoint.py: the Unix
socket, or loopback with the owner's token), starting the owner when none runs.

So any number of IDE windows, HTTP clients and CLI commands share one store, one encoder and one
set of watchers. A bridge answers the handshake itself (it knows the server's name, version and
instructions) and starts the owner in the background, so a client connects at once and its first
call waits only for what is still loading.

Requests go over a session with the owner kept open across them (owner/sessions.py: one per grant,
held by the bridge's lifespan), so a forwarded request costs one local POST, not a new HTTP client,
a handshake and a probe of the owner's files. The owner keeps nothing for a bridge that a new owner
would lack: when the owner dies (idle exit, a crash, kill -9) or is replaced, the next request finds
its session gone, elects and starts a new owner (OwnerClient.ensure, which also finds a new owner's
port and token and checks its protocol and model) and is sent again, and a request that was in
flight when the owner died is sent once more to the new one (every tool is idempotent: an ingest
re-reads only what changed). The owner opens its endpoint only once its store is open, so no request
is answered from a half-open store.

Who is asking travels with each request (server/auth.py GRANT_HEADER): over HTTP the token's
collections and roots, and always the bridge's own roots, which stand in for the owner's, so a
bridge limits ingest and file reads exactly as a server of its own would.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import httpx2
import mcp_types as types
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError

from .. import __version__
from ..claims import COLLECTIONS_CLAIM, GRANT_HEADER, ROOTS_CLAIM, forwarded_grant
from ..server.instructions import INSTRUCTIONS
from .client import OwnerClient, OwnerUnavailable, ToolFailed
from .endpoint import Endpoint
from .follow import Follows
from .sessions import MODE, KeptSession, KeptSessions, SessionLost

log = logging.getLogger(__name__)

T = TypeVar("T")

ATTEMPTS = 3  # sends of one request: the first, and one to each owner started after a loss


class OwnerLink:
    """Requests to the owner of one data dir, over kept sessions while `running` (else each in a
    session of its own), sent again to a new owner when the connection fails."""

    def __init__(self, owner: OwnerClient) -> None:
        self.owner = owner
        self.kept = KeptSessions(owner)

    def running(self):
        """Keep sessions with the owner open across requests while this runs (the bridge's
        lifespan); they are closed when it ends."""
        return self.kept.running()

    def start_in_background(self) -> None:
        """Find or start the owner now, off the caller's path (a failure is reported by the first
        request, which tries again)."""

        def ensure() -> None:
            try:
                self.owner.ensure()
            except (OwnerUnavailable, ToolFailed) as exc:
                log.warning("no index owner yet: %s", exc)

        threading.Thread(target=ensure, name="owner-start", daemon=True).start()

    async def call(self, work: Callable[[Client], Awaitable[T]], grant: str | None, json: bool = True) -> T:
        """`work(client)` on the owner; MCPError as the owner answered it, or when no owner can be
        reached after ATTEMPTS tries. `json`: in a session on the owner's JSON path (sessions.py),
        which answers faster but carries no progress; a request that wants progress passes False."""
        failure = ""
        for attempt in range(ATTEMPTS):
            kept: KeptSession | None = None
            try:
                with _owner_errors():
                    kept = await self.kept.get(grant, json)
                    if kept is None:  # not running: a session for this request alone
                        endpoint = await anyio.to_thread.run_sync(self.owner.ensure)
                if kept is None:
                    return await self._once(endpoint, work, grant, json)
                return await kept.run(work)
            except Exception as exc:  # noqa: BLE001 - sorted below: the owner's answer, or a lost owner
                if kept is not None and kept.transport.unknown_session:
                    # The owner was replaced, or it expired the session: no owner was lost.
                    log.info("the index owner no longer knows this bridge's session; opening another")
                    failure = "the owner did not know the session"
                    self.kept.drop(kept)
                    continue
                answer = _find(exc, MCPError)
                broke = kept is not None and not kept.usable  # the session ended under the request
                if answer is not None and answer.error.code != types.CONNECTION_CLOSED and not broke:
                    raise answer from None  # the owner's own answer (CONNECTION_CLOSED: the client's)
                lost = answer or next(
                    (e for kind in LOSSES if (e := _find(exc, kind)) is not None), exc if broke else None
                )
                if lost is None:
                    raise
                if kept is not None:
                    self.kept.drop(kept)
                ended_by = kept.failure if kept is not None and kept.failure is not None else exc
                cause = _find(ended_by, httpx2.TransportError) or lost
                failure = f"{type(cause).__name__}: {cause}"
                # A kept session learns that its owner went (an idle exit, most often) from its next
                # request, which is sent again at once: only a loss after that is worth a warning.
                level = logging.INFO if kept is not None and attempt == 0 else logging.WARNING
                log.log(level, "lost the index owner (%s); attempt %d of %d", failure, attempt + 1, ATTEMPTS)
        raise MCPError(types.INTERNAL_ERROR, f"the index owner kept failing ({failure}); see {self.owner.paths.log}")

    async def _once(self, endpoint: Endpoint, work: Callable[[Client], Awaitable[T]], grant: str | None,
                    json: bool) -> T:
        async with self.session(endpoint, grant, json=json) as client:
            return await work(client)

    @asynccontextmanager
    async def session(
        self, endpoint: Endpoint, grant: str | None, message_handler=None, json: bool = False
    ) -> AsyncIterator[Client]:
        """An MCP session with the owner at `endpoint` (as `owner.ensure()` just found it) for
        requests under `grant`; `message_handler` receives what the owner sends on its own
        (notifications: on the SSE path, not `json`). The endpoint is passed, not read from the OwnerClient, which concurrent
        requests share: a URL and a token always come from the same owner."""
        headers = {GRANT_HEADER: grant} if grant is not None else {}
        async with self.owner.http_client(endpoint, headers) as http:
            connection = streamable_http_client(endpoint.json_url if json else endpoint.url, http_client=http)
            async with Client(connection, mode=MODE, message_handler=message_handler) as client:
                yield client


# What a request meets when its owner is gone: the connection fails, or the session's streams close.
LOSSES = (httpx2.TransportError, anyio.ClosedResourceError, anyio.BrokenResourceError, SessionLost)


@contextmanager
def _owner_errors() -> Iterator[None]:
    """No owner to be had, as the MCP error the bridge's client gets."""
    try:
        yield
    except OwnerUnavailable as exc:
        raise MCPError(types.INTERNAL_ERROR, f"the index owner is not available: {exc}") from None
    except ToolFailed as exc:  # the owner serves another model
        raise MCPError(types.INVALID_REQUEST, str(exc)) from None


def _find(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """`exc` or the first exception of `kind` inside its groups and causes."""
    seen: set[int] = set()
    stack = [exc]
    while stack:
        e = stack.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, kind):
            return e
        if isinstance(e, BaseExceptionGroup):
            stack.extend(e.exceptions)
        stack.extend(x for x in (e.__cause__, e.__context__) if x is not None)
    return None


GrantOf = Callable[[Any], str | None]


def local_grant(roots: Sequence[Path]) -> GrantOf:
    """The grant of a bridge's local user (stdio; HTTP on loopback without tokens): every
    collection, and the bridge's roots."""
    value = forwarded_grant(None, None, [os.fspath(r) for r in roots])
    return lambda _ctx: value


def http_grant(roots: Sequence[Path]) -> GrantOf:
    """The grant of an HTTP bridge's request: its token's claims (server/auth.py put them on the
    request's user), or the local user's when it bore none (no tokens configured)."""
    front = [os.fspath(r) for r in roots]
    local = forwarded_grant(None, None, front)

    def grant(ctx) -> str | None:
        request = getattr(ctx, "request", None)
        user = request.scope.get("user") if request is not None else None
        token = getattr(user, "access_token", None)
        if token is None:
            return local
        claims = getattr(token, "claims", None) or {}
        return forwarded_grant(claims.get(COLLECTIONS_CLAIM), claims.get(ROOTS_CLAIM), front)

    return grant


def build_bridge(link: OwnerLink, grant_of: GrantOf) -> Server:
    """The bridge's MCP server: the owner's tools, resources, prompts and completions, forwarded."""

    async def forward(ctx, work: Callable[[Client], Awaitable[T]], json: bool = True) -> T:
        return await link.call(work, grant_of(ctx), json)

    async def list_tools(ctx, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return await forward(ctx, lambda c: c.list_tools(cursor=params.cursor if params else None))

    async def call_tool(ctx, params: types.CallToolRequestParams) -> types.CallToolResult:
        async def progress(done: float, total: float | None, message: str | None) -> None:
            await ctx.session.report_progress(done, total, message)

        # Sent as it came, without the SDK client's check of the result against the tool's output
        # schema: that check lists the tools first (the owner's work again), and the client that
        # asked checks the result itself. Progress is asked of the owner only when the client asked
        # for it: each notification is a hop from the owner's encoder thread to its event loop and
        # an event on the response, a few milliseconds of a one-note ingest. Only then does the call
        # take the owner's SSE path; every other one takes its JSON path (owner/sessions.py).
        request = types.CallToolRequest(params=types.CallToolRequestParams(name=params.name, arguments=params.arguments))
        wanted = params.meta is not None and params.meta.get("progress_token") is not None
        return await forward(ctx, lambda c: c.session.send_request(
            request, types.CallToolResult, progress_callback=progress if wanted else None), json=not wanted)

    async def list_resources(ctx, params: types.PaginatedRequestParams | None) -> types.ListResourcesResult:
        return await forward(ctx, lambda c: c.list_resources(cursor=params.cursor if params else None))

    async def list_templates(ctx, params: types.PaginatedRequestParams | None) -> types.ListResourceTemplatesResult:
        return await forward(ctx, lambda c: c.list_resource_templates(cursor=params.cursor if params else None))

    async def read_resource(ctx, params: types.ReadResourceRequestParams) -> types.ReadResourceResult:
        return await forward(ctx, lambda c: c.read_resource(str(params.uri)))

    async def list_prompts(ctx, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
        return await forward(ctx, lambda c: c.list_prompts(cursor=params.cursor if params else None))

    async def get_prompt(ctx, params: types.GetPromptRequestParams) -> types.GetPromptResult:
        return await forward(ctx, lambda c: c.get_prompt(params.name, params.arguments))

    follows = Follows(link, grant_of)

    @asynccontextmanager
    async def lifespan(server) -> AsyncIterator[dict]:
        async with link.running(), follows.running(server) as state:
            yield state

    async def complete(ctx, params: types.CompleteRequestParams) -> types.CompleteResult:
        argument = {"name": params.argument.name, "value": params.argument.value}
        context = params.context.arguments if params.context else None
        return await forward(ctx, lambda c: c.complete(params.ref, argument, context_arguments=context))

    return Server(
        "groundmcp",
        version=__version__,
        title="groundmcp: grounded retrieval over code and docs",
        instructions=INSTRUCTIONS,
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        on_list_resources=list_resources,
        on_list_resource_templates=list_templates,
        on_read_resource=read_resource,
        on_list_prompts=list_prompts,
        on_get_prompt=get_prompt,
        on_completion=complete,
        on_subscribe_resource=follows.subscribe,
        on_unsubscribe_resource=follows.unsubscribe,
        lifespan=lifespan,
    )


def serve_stdio_bridge(link: OwnerLink, roots: Sequence[Path]) -> None:
    """Serve the bridge over stdio until the client closes it."""
    from ..server.stdio_pipes import stdio_streams
    from .lane import OwnerLane

    grant_of = local_grant(roots)
    server = build_bridge(link, grant_of)
    link.start_in_background()
    lane = OwnerLane(link.owner, grant_of(None))  # tool calls without progress: owner/lane.py

    async def main() -> None:
        try:
            async with stdio_streams(lane) as (read, write):
                await server.run(read, write, server.create_initialization_options(NotificationOptions(resources_changed=True)))
        finally:
            await lane.close()

    anyio.run(main)


def serve_http_bridge(link: OwnerLink, settings, roots: Sequence[Path], allowed_hosts: Sequence[str]) -> None:
    """Serve the bridge over Streamable HTTP as `settings` say (bind address, tokens and their
    grants, body and slow-client limits: server/transports.py), until stopped."""
    from ..server.transports import serve_http

    link.start_in_background()
    grant_of = http_grant(roots)
    routes = [metrics_route(link, grant_of), embeddings_route(link)]
    serve_http(build_bridge(link, grant_of), settings, allowed_hosts=allowed_hosts, routes=routes)


OWNER_UP = "# HELP groundmcp_owner_up Whether this bridge reached the data dir's owner\n# TYPE groundmcp_owner_up gauge\n"


def metrics_route(link: OwnerLink, grant_of: GrantOf):
    """GET /metrics: the owner's figures (server/metrics.py), fetched over its endpoint as this
    request's token may see them, and `groundmcp_owner_up`. A scrape starts no owner: with none
    running, only `groundmcp_owner_up 0`."""
    from types import SimpleNamespace

    from starlette.responses import Response
    from starlette.routing import Route

    from .endpoint import live

    async def metrics(request) -> Response:
        endpoint = await anyio.to_thread.run_sync(live, link.owner.paths)
        grant = grant_of(SimpleNamespace(request=request))
        try:
            if endpoint is not None:
                async with link.owner.http_client(endpoint, {GRANT_HEADER: grant} if grant else {}) as http:
                    got = await http.get(endpoint.base + "/metrics")
                return Response(got.content + (OWNER_UP + "groundmcp_owner_up 1\n").encode(), got.status_code,
                                media_type=got.headers.get("content-type"))
        except httpx2.TransportError as exc:
            log.warning("could not read the owner's metrics: %s", exc)
        return Response(OWNER_UP + "groundmcp_owner_up 0\n", media_type="text/plain; version=0.0.4; charset=utf-8")

    return Route("/metrics", metrics, methods=["GET"])


def embeddings_route(link: OwnerLink):
    """POST /v1/embeddings (server/embeddings_route.py): forwarded as it came to the owner, which
    holds the encoder (started if none runs), and its answer returned as it came."""
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    async def embeddings(request) -> Response:
        body = await request.body()
        try:
            endpoint = await anyio.to_thread.run_sync(link.owner.ensure)
            async with link.owner.http_client(endpoint, {"content-type": "application/json"}) as http:
                got = await http.post(endpoint.base + "/v1/embeddings", content=body)
        except (OwnerUnavailable, ToolFailed, httpx2.TransportError) as exc:
            log.warning("could not reach the owner for /v1/embeddings: %s", exc)
            return JSONResponse({"error": {"message": f"the index owner is not available: {exc}",
                                           "type": "server_error", "param": None, "code": None}}, 503)
        return Response(got.content, got.status_code, media_type=got.headers.get("content-type"))

    return Route("/v1/embeddings", embeddings, methods=["POST"])
