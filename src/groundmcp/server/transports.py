"""Running the server: stdio (the default), or Streamable HTTP with a bearer token."""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.server.transport_security import TransportSecuritySettings

from ..errors import InputError
from ..settings import DEFAULT_HTTP_MAX_BODY_BYTES, Settings
from .auth import BearerAuth, BodyLimit
from .slowclients import SlowClientLimits, guarded_protocol
from .status_page import StatusPage

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"
BACKLOG = 2048  # uvicorn's default; asyncio also accepts up to this many connections in one go
FD_RESERVE = 256  # descriptors kept for everything but connections: store files, model, logs


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_binding(host: str, token: str | None, tokens: Mapping[str, Sequence[str]] | None = None) -> None:
    if not is_loopback(host) and not token and not tokens:
        raise InputError(
            f"refusing to serve HTTP on {host} without a token: anyone who can reach it could read "
            "the index. Set GROUNDMCP_HTTP_TOKEN (or --token) or GROUNDMCP_HTTP_TOKENS, or bind to 127.0.0.1"
        )


def http_app(
    mcp: MCPServer,
    *,
    host: str,
    token: str | None,
    allowed_hosts: list[str] = (),
    tokens: Mapping[str, Sequence[str]] | None = None,
    max_body_bytes: int = DEFAULT_HTTP_MAX_BODY_BYTES,
    routes: Sequence = (),
    json_path: str | None = None,
    beside: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
):
    """The Starlette app behind auth and a body-size limit (`routes`: Starlette routes added to it,
    behind the same gates: an HTTP bridge's /metrics; `json_path`: the MCP app served there too,
    answering with JSON bodies, `add_json_route`, which also enters `beside`). `token` may use every collection, each
    of `tokens` only the collections its list names. DNS-rebinding protection stays on: loopback
    hosts always, plus the bind address and any `allowed_hosts` (host:port or host:*). A loopback
    or bind host is accepted with any port or none (`Host: 127.0.0.1` is the same origin as
    `127.0.0.1:80`); the SDK matches `host:*` only with a port, so each is listed both ways."""
    names = ["127.0.0.1", "localhost", "[::1]"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        names.append(f"[{host}]" if ":" in host else host)
    hosts = [h for name in names for h in (name, f"{name}:*")]
    hosts.extend(allowed_hosts)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
    )
    app = mcp.streamable_http_app(
        streamable_http_path=MCP_PATH, transport_security=security, host=host, max_request_body_size=max_body_bytes
    )
    app.router.routes.extend(routes)
    if json_path is not None:
        add_json_route(app, mcp.session_manager, json_path, beside)
    app = BodyLimit(app, max_body_bytes)
    grants: dict[str, Sequence[str] | None] = {**(tokens or {})}
    if token:
        grants[token] = None
    return BearerAuth(app, grants) if grants else app


def add_json_route(
    app, primary: StreamableHTTPSessionManager, path: str,
    beside: Callable[[Any], AbstractAsyncContextManager[Any]] | None = None,
) -> None:
    """Serve the MCP app of `primary` at `path` as well, from a second session manager that answers
    each request with one JSON body instead of an SSE stream: some 5 ms less per call for a client
    that needs no progress (the SSE stream is the only way progress reaches a client; an owner's
    bridge uses this route for every other request, owner/bridge.py). Both managers share the server
    and its lifespan, entered once (`shared_lifespan`); sessions are not shared: one opened on a
    path is unknown on the other. `beside(state)`, given the server's lifespan state, is entered
    once both managers run and left before they stop, in the same task (the lifespan's): another
    way in to the same server (an owner's lane socket, owner/lane_server.py)."""
    from contextlib import asynccontextmanager

    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp
    from starlette.routing import Route

    server = primary.app
    server.lifespan = shared_lifespan(server.lifespan)
    manager = StreamableHTTPSessionManager(
        app=server, json_response=True, security_settings=primary.security_settings,
        session_idle_timeout=primary.session_idle_timeout, max_request_body_size=primary.max_request_body_size,
        max_sessions=primary.max_sessions,
    )
    app.router.routes.append(Route(path, endpoint=StreamableHTTPASGIApp(manager)))

    @asynccontextmanager
    async def both(_app) -> AsyncIterator[None]:
        async with primary.run(), manager.run():
            if beside is None:
                yield
                return
            async with server.lifespan(server) as state, beside(state):
                yield

    app.router.lifespan_context = both


def shared_lifespan(lifespan: Callable[[Any], AbstractAsyncContextManager[Any]]):
    """`lifespan`, entered once however many session managers enter it: the first entry runs it,
    later ones get its state, and it ends when the last of them leaves."""
    from contextlib import AsyncExitStack, asynccontextmanager

    held: dict[str, Any] = {"users": 0}
    stack = AsyncExitStack()

    @asynccontextmanager
    async def shared(server) -> AsyncIterator[Any]:
        if held["users"] == 0:
            held["state"] = await stack.enter_async_context(lifespan(server))
        held["users"] += 1
        try:
            yield held["state"]
        finally:
            held["users"] -= 1
            if held["users"] == 0:
                held.pop("state")
                await stack.aclose()

    return shared


def serve_http(mcp: MCPServer, settings: Settings, *, allowed_hosts: Sequence[str] = (), routes: Sequence = ()) -> None:
    """Serve until stopped, as `settings` say: bind address, tokens, body limit, slow-client limits;
    and the status page (server/status_page.py)."""
    import uvicorn

    host, port, token, tokens = settings.http_host, settings.http_port, settings.http_token, settings.http_tokens
    check_http_binding(host, token, tokens)
    app = StatusPage(http_app(  # GET /, served before the token gate: the page holds no data
        mcp, host=host, token=token, allowed_hosts=list(allowed_hosts), tokens=tokens,
        max_body_bytes=settings.http_max_body_bytes, routes=routes,
    ))
    limits = SlowClientLimits(
        settings.http_header_timeout_s, settings.http_body_timeout_s, fd_room(settings.http_max_connections)
    )
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", lifespan="on", http=guarded_protocol(limits), backlog=BACKLOG
    )
    log.warning("groundmcp serving Streamable HTTP on http://%s:%d%s%s; status page at http://%s:%d/", host, port,
                MCP_PATH, " (bearer token required)" if token or tokens else "", host, port)
    anyio.run(uvicorn.Server(config).serve)


def fd_room(max_connections: int) -> int:
    """`max_connections`, or fewer if the process may not open that many descriptors. The soft
    RLIMIT_NOFILE is raised (up to the hard one) to hold the connections plus a burst of `BACKLOG`
    accepted at once before any is closed, plus `FD_RESERVE` for the store and the model."""
    try:
        import resource
    except ImportError:  # not POSIX: nothing to read or raise
        return max_connections
    want = max_connections + BACKLOG + FD_RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < want:
        raised = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= want:
        return max_connections
    room = max(soft // 2, soft - BACKLOG - FD_RESERVE)
    log.warning(
        "GROUNDMCP_HTTP_MAX_CONNECTIONS=%d needs %d descriptors but only %d may be open (ulimit -n); "
        "capping connections at %d. Raise the hard limit to allow more", max_connections, want, soft, room,
    )
    return room


def serve_stdio(mcp: MCPServer) -> None:
    """Serve `mcp` over stdin and stdout until the client closes them: MCPServer's own stdio run,
    on this package's transport (server/stdio_pipes.py: no thread hop per message). MCPServer takes
    no transport of the caller's, so this runs its low-level server as `run_stdio_async` does."""
    from .stdio_pipes import stdio_streams

    low = mcp._lowlevel_server  # noqa: SLF001 - as MCPServer.run_stdio_async does, on other streams

    async def main() -> None:
        async with stdio_streams() as (read, write):
            await low.run(read, write, low.create_initialization_options())

    anyio.run(main)
