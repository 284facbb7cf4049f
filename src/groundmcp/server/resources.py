"""Resources for follow-up reading: a whole chunk by id, and line ranges of ingested files."""

from __future__ import annotations

import functools
import json

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ..errors import GroundError
from ..search.sources import chunks_by_id, read_lines


async def _read(fn, *args):
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))
    except GroundError as exc:
        raise ResourceError(str(exc)) from exc


def register(mcp: MCPServer) -> None:
    @mcp.resource(
        "groundmcp://chunk/{collection}/{chunk_id}",
        name="chunk",
        title="A chunk by id",
        mime_type="application/json",
        description="The whole text and citation of one chunk; ids come from search results.",
    )
    async def chunk(collection: str, chunk_id: str, ctx: Context) -> str:
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
        "from disk now; only ingested files under their root are readable.",
    )
    async def file_lines(collection: str, start: str, end: str, path: str, ctx: Context) -> str:
        if not (start.isdigit() and end.isdigit()):
            raise ResourceError(f"start and end must be line numbers; got {start!r} and {end!r}")
        store = ctx.request_context.lifespan_context.engine.store
        src = await _read(read_lines, store, collection, path, int(start), int(end))
        return src.text
