"""The MCP app factory: one MCPServer with the engine opened once in its lifespan."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from mcp.server.mcpserver import MCPServer

from .. import __version__
from ..access import AppState, resolve_roots
from ..engine import Engine
from ..prompts import grounded_answer
from ..settings import Settings
from ..tools import arguments, collections, embed, ingest, rerank, search, symbols
from ..watch import Watcher
from . import completions, embeddings_route, metrics, resources
from .instructions import INSTRUCTIONS
from .subscriptions import Subscriptions

log = logging.getLogger(__name__)


def build_server(settings: Settings, *, engine: Engine | None = None) -> MCPServer:
    """The server. Pass `engine` to share one already open (tests, embedding in another app)."""
    subscriptions = Subscriptions()  # resources/subscribe, listen streams, change notifications

    @asynccontextmanager
    async def lifespan(_: MCPServer) -> AsyncIterator[AppState]:
        own = engine is None
        eng = engine or await anyio.to_thread.run_sync(Engine, settings)
        # Load the encoder in the background: the handshake need not wait for it, and the first
        # tool call that needs it waits on the engine's lock instead. Then ready its fast path
        # for single queries (searches until then take the normal one).
        threading.Thread(target=_load_encoder, args=(eng,), name="encoder-load", daemon=True).start()
        # Re-ingest the collections' folders as their files change (watch/); it logs its failures
        # to stderr and retries, and never stops the server.
        watcher = Watcher.for_settings(eng, settings).start() if settings.watch else None
        state = AppState(settings=settings, engine=eng, roots=resolve_roots(settings), watcher=watcher)
        try:
            # What serves outside a request (/metrics, /v1/embeddings, change notifications) sees
            # the state here, the one place that has it.
            async with subscriptions.serving(eng), figures.following(state):
                yield state
        finally:
            if watcher is not None:
                await anyio.to_thread.run_sync(watcher.stop)
            if own:
                eng.close()

    mcp = MCPServer(
        "groundmcp",
        title="groundmcp: grounded retrieval over code and docs",
        instructions=INSTRUCTIONS,
        version=__version__,
        lifespan=lifespan,
        subscriptions=subscriptions.bus,
    )
    for module in (search, rerank, ingest, embed, collections, symbols, resources, grounded_answer, completions,
                   arguments):
        module.register(mcp)
    figures = metrics.register(mcp)
    embeddings_route.register(mcp, lambda: figures.state)
    subscriptions.install(mcp)
    return mcp


def _load_encoder(engine: Engine) -> None:
    encoder = engine.encoder  # a failure here is raised again to the first tool call that needs it
    try:
        encoder.warm_up()
    except Exception:  # noqa: BLE001 - searches keep the normal path; say why in the log
        log.warning("could not prepare the fast query path; searches use the normal one", exc_info=True)
