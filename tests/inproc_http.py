"""A real Streamable HTTP server in this process: the app `serve --http` runs (auth, body limit,
DNS-rebinding checks, the MCP SDK's transport) under uvicorn on a loopback port, over an engine the
test opened (the hashing encoder keeps it fast). Clients reach it over real sockets."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import uvicorn

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.server.transports import http_app
from groundmcp.settings import Settings

from .mcp_helpers import free_port


@contextlib.contextmanager
def serve_in_thread(settings: Settings, engine: Engine) -> Iterator[str]:
    """Serve `engine` over HTTP with `settings`' tokens and roots; yields the /mcp URL."""
    mcp = build_server(settings, engine=engine)
    app = http_app(mcp, host="127.0.0.1", token=settings.http_token, tokens=settings.http_tokens)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "in-process HTTP server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
