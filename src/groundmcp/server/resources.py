"""Resources for follow-up reading: a whole chunk by id, and line ranges of ingested files."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from urllib.parse import unquote

import anyio
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError

from ..access import access_for
from ..errors import GroundError

CHUNK_URI = "groundmcp://chunk/{collection}/{chunk_id}"
FILE_URI = "groundmcp://file/{collection}/{start}/{end}/{+path}"
_CHUNK = re.compile(r"groundmcp://chunk/(?P<collection>[^/]+)/(?P<chunk_id>[^/]+)")
_FILE = re.compile(r"groundmcp://file/(?P<collection>[^/]+)/\d+/\d+/(?P<path>.+)")


@dataclass(frozen=True, slots=True)
class Named:
    """What a resource URI names: a chunk of a collection (`chunk_id`), or a file (`path`,
    relative to the root it was ingested from) whatever the line range."""

    collection: str
    chunk_id: str | None = None
    path: str | None = None


def named(uri: str) -> Named | None:
    """The chunk or file `uri` names, or None when it is not one of this server's templates."""
    if m := _CHUNK.fullmatch(uri):
        return Named(unquote(m["collection"]), chunk_id=unquote(m["chunk_id"]))
    if m := _FILE.fullmatch(uri):
        return Named(unquote(m["collection"]), path=unquote(m["path"]))
    return None


async def _read(fn, *args):
    try:
        return await anyio.to_thread.run_sync(functools.partial(fn, *args))
    except GroundError as exc:
        raise ResourceError(str(exc)) from exc


async def _collection(ctx: Context, name: str) -> str:
    """`name`, if this request's token may read it (checked before the store is)."""
    return await _read(access_for(ctx.request_context.lifespan_context, ctx.request_context.request).collection, name)


def register(mcp: MCPServer) -> None:
    @mcp.resource(
        CHUNK_URI,
        name="chunk",
        title="A chunk by id",
        mime_type="application/json",
        description="The whole text and citation of one chunk; ids come from search results.",
    )
    async def chunk(collection: str, chunk_id: str, ctx: Context) -> str:
        collection = await _collection(ctx, collection)
        engine = ctx.request_context.lifespan_context.engine
        hit = (await _read(engine.chunks, collection, [chunk_id]))[0]
        data = hit.to_dict() | {"citation": hit.citation}
        return json.dumps(data, ensure_ascii=False)

    @mcp.resource(
        FILE_URI,
        name="file-lines",
        title="Lines of an ingested file",
        mime_type="text/plain",
        description="Lines start..end (1-based, at most 2000) of a file the collection holds, read "
        "from disk now; only ingested files under their root and the server's roots (a token's "
        "own roots over HTTP) are readable, and never one that holds a secret now.",
    )
    async def file_lines(collection: str, start: str, end: str, path: str, ctx: Context) -> str:
        if not (start.isdigit() and end.isdigit()):
            raise ResourceError(f"start and end must be line numbers; got {start!r} and {end!r}")
        app = ctx.request_context.lifespan_context
        rights = access_for(app, ctx.request_context.request)
        collection = await _read(rights.collection, collection)
        within = await _read(rights.usable_roots)  # the token's roots, or the server's
        src = await _read(functools.partial(app.engine.file_lines, within=within), collection, path, int(start), int(end))
        return src.text
