"""The owner process: take the data dir's owner lock, open the Engine once, serve the MCP app
over Streamable HTTP on its private endpoint (owner/endpoint.py: the Unix socket, or loopback with
a token) and, on a Unix owner, as lines on its lane socket (owner/lane_server.py), and exit after
an idle spell with the store closed (flushed) and the endpoint removed.
`groundmcp owner` runs this in the foreground; clients start it detached (owner/client.py)."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from pathlib import Path

from ..errors import GroundError
from ..settings import Settings
from .endpoint import JSON_PATH, MCP_PATH, Listener, clear_stale, transport_for
from .paths import OwnerPaths, private_dir, try_lock, unlock, write_pid

log = logging.getLogger(__name__)

STATUS_PATH = "/owner"  # GET: this owner's pid, its requests per path and those in flight, as JSON (Activity)


class Activity:
    """An ASGI wrapper that counts requests in flight and remembers when the last one ended: the
    owner is idle when none is in flight and the last ended long enough ago. It also counts the
    requests to each MCP path (endpoint.py MCP_PATH, JSON_PATH) and on the lane socket ("lane",
    told by lane_server.py through begin and end), which GET /owner reports: what a bridge's
    requests cost depends on the route they take."""

    def __init__(self, app) -> None:
        self.app = app
        self.active = 0
        self.last = time.monotonic()
        self.requests: dict[str, int] = {}

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope.get("path") == "/metrics":  # a scrape keeps no idle owner awake
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        if path == STATUS_PATH and scope.get("method") == "GET":
            from starlette.responses import JSONResponse

            return await JSONResponse({"pid": os.getpid(), "requests": self.requests, "active": self.active})(
                scope, receive, send)
        if path in (MCP_PATH, JSON_PATH):
            self.requests[path] = self.requests.get(path, 0) + 1
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1
            self.last = time.monotonic()

    def begin(self, route: str) -> None:
        """A request on `route` (other than HTTP: the lane socket's) is in flight."""
        self.requests[route] = self.requests.get(route, 0) + 1
        self.active += 1

    def end(self) -> None:
        """One begun is done."""
        self.active -= 1
        self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.active else time.monotonic() - self.last


def run_owner(settings: Settings) -> int:
    """Own `settings.data_dir` until idle for `settings.owner_idle_s`. Returns the exit code: 0
    when done, or when another process owns the dir already (a lost election is no error); 1 when
    the store cannot be opened (another groundmcp process holds it, say)."""
    paths = OwnerPaths(Path(settings.data_dir).expanduser())
    private_dir(paths.data_dir)
    try:
        transport = transport_for(paths, settings.owner_transport)
    except ValueError as exc:
        log.error("no owner: %s", exc)
        return 1
    held = try_lock(paths.lock)
    if held is None:
        log.info("another process owns %s; exiting", paths.data_dir)
        return 0
    try:
        clear_stale(paths)  # before our pid is in the lock: a dead owner's file names its pid
        write_pid(held, model_names(settings.model))
        return _own(settings, paths, Listener(paths, transport))
    finally:
        unlock(held)  # last: the endpoint is gone and the store closed by now


def model_names(model: str) -> list[str]:
    """Every name a client may give for the model this owner serves: as configured, as the
    collections record it, and the bundled model's aliases."""
    from ..encoders.sentence_transformers import BUNDLED_ALIASES, canonical_name

    name = canonical_name(model)
    return sorted({model, name} | (set(BUNDLED_ALIASES) if name in BUNDLED_ALIASES else set()))


def _own(settings: Settings, paths: OwnerPaths, listener: Listener) -> int:
    import anyio
    import uvicorn

    from ..engine import Engine
    from ..server.app import build_server
    from ..server.auth import ForwardedGrant, OwnerToken
    from ..server.transports import http_app
    from .lane_server import lanes_served

    try:
        engine = Engine(settings)
    except GroundError as exc:
        log.error("cannot own %s: %s", paths.data_dir, exc)
        return 1
    try:
        mcp = build_server(settings, engine=engine)
        # The token gates the connection (loopback only: the socket's permissions gate it otherwise),
        # then the grant header says whose request it is. Refused requests keep no owner awake.
        activity = Activity(None)

        def lanes(state):  # a Unix owner's lane socket, served within the app's lifespan (opened by then)
            return lanes_served(listener.lane, mcp._lowlevel_server, state, activity,  # noqa: SLF001 - as serve_stdio
                                settings.http_max_body_bytes)

        activity.app = ForwardedGrant(http_app(
            mcp, host="127.0.0.1", token=None, max_body_bytes=settings.http_max_body_bytes, json_path=JSON_PATH,
            beside=lanes if listener.transport == "unix" else None,
        ))
        app = activity if listener.token is None else OwnerToken(activity, listener.token)
        sock = listener.open()
        config = uvicorn.Config(app, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        log.warning("groundmcp owner (pid %d) serving %s (%s); idle exit after %g s",
                    os.getpid(), listener.endpoint, listener.transport, settings.owner_idle_s)

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(_exit_when_idle, server, activity, settings.owner_idle_s)
                await server.serve(sockets=[sock])
                tg.cancel_scope.cancel()

        # uvicorn handles SIGTERM/SIGINT by shutting down, then raises the signal again for the
        # handler it found: a no-op one for SIGTERM here, so the store is closed below rather than
        # the process killed at that point.
        signal.signal(signal.SIGTERM, lambda *_: None)
        anyio.run(main)
        return 0
    finally:
        listener.close()  # the file first, so no client connects to a closing owner
        engine.close()
        log.warning("groundmcp owner (pid %d) stopped; store closed", os.getpid())


async def _exit_when_idle(server, activity: Activity, idle_s: float) -> None:
    import anyio

    while not server.should_exit:
        await anyio.sleep(min(max(idle_s / 4, 0.05), 5.0))
        if activity.idle_for() >= idle_s:
            log.warning("idle for %g s; exiting", idle_s)
            server.should_exit = True


def stop_owner(data_dir: Path, timeout: float = 60.0) -> int | None:
    """Ask the owner of `data_dir` to exit (SIGTERM: it finishes the requests in flight and
    closes the store) and wait until its lock is free. Its pid, or None when no owner runs."""
    from .paths import is_held, read_pid

    paths = OwnerPaths(Path(data_dir).expanduser())
    pid = read_pid(paths.lock) if is_held(paths.lock) else None
    if pid is None:
        return None
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while is_held(paths.lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    return pid
