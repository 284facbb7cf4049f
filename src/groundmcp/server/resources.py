"""Resources for follow-up reading: a whole chunk by id, and line ranges of ingested files."""

from __future__ import annotations

import functools
import json
import os

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ..errors import GroundError, InputError
from ..ingest.secrets import find_secret
from ..search.sources import SourceLines, chunks_by_id, read_lines
from .access import access_for
from .state import AppState


async def _read(fn, *args):
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))
    except GroundError as exc:
        raise ResourceError(str(exc)) from exc


async def _collection(ctx: Context, name: str) -> str:
    """`name`, if this request's token may read it (checked before the store is)."""
    return await _read(access_for(ctx.request_context.lifespan_context, ctx.request_context.request).collection, name)


def _checked(app: AppState, src: SourceLines) -> str:
    """The lines read, if their file lies under the server's allowed roots and they hold no secret
    (the file may have changed since it was ingested)."""
    app.allowed_path(os.path.join(src.root, src.path))
    if (found := find_secret(src.text)) is not None:
        raise InputError(
            f"{src.path} now holds a secret ({found.label}, line {src.start_line + found.line - 1}); "
            "refusing to return it. Move the secret out of the file and re-ingest"
        )
    return src.text


def register(mcp: MCPServer) -> None:
    @mcp.resource(
        "groundmcp://chunk/{collection}/{chunk_id}",
        name="chunk",
        title="A chunk by id",
        mime_type="application/json",
        description="The whole text and citation of one chunk; ids come from search results.",
    )
    async def chunk(collection: str, chunk_id: str, ctx: Context) -> str:
        collection = await _collection(ctx, collection)
        store = ctx.request_context.lifespan_context.engine.store
        hit = (await _read(chunks_by_id, store, collection, [chunk_id]))[0]
        data = hit.to_dict() | {"citation": hit.citation}
        return json.dumps(data, ensure_ascii=False)

    @mcp.resource(
        "groundmcp://file/{collection}/{start}/{end}/{+path}",
        name="file-lines",
        title="Lines of an ingested file",
        mime_type="text/plain",
        description="Lines start..end (1-based, at most 2000) of a file the collection holds, read "
        "from disk now; only ingested files under their root and the server's roots are readable.",
    )
    async def file_lines(collection: str, start: str, end: str, path: str, ctx: Context) -> str:
        if not (start.isdigit() and end.isdigit()):
            raise ResourceError(f"start and end must be line numbers; got {start!r} and {end!r}")
        collection = await _collection(ctx, collection)
        app = ctx.request_context.lifespan_context
        src = await _read(read_lines, app.engine.store, collection, path, int(start), int(end))
        return await _read(_checked, app, src)
