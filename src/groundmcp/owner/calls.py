"""The CLI's requests as the owner's MCP calls, and the answers back as the CLI's own types, so
the CLI prints the same whichever path served it."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable
from typing import Any

import anyio
from pydantic import ValidationError

from ..ingest.report import IngestProgress
from ..search.budget import HARD_CAP_TOKENS
from ..search.facets import resolve_kind
from ..search.query import SearchHit, SearchRequest
from .client import OwnerUnavailable, call_tool

TOOL_MAX_TOP_K = 50  # the search tool's bound (tools/search.py)
MODES = ("hybrid", "dense", "sparse")
KINDS = ("code", "doc")


def search_arguments(request: SearchRequest, collection: str | list[str] | None) -> dict[str, Any] | None:
    """The `search` tool's arguments for `request`, or None when the tool cannot express it
    (more hits than it returns, several kinds, an unknown mode or kind: the engine's own checks
    and messages then apply, in process)."""
    kinds = list(dict.fromkeys(resolve_kind(k) for k in request.kinds))
    if request.top_k > TOOL_MAX_TOP_K or request.mode not in MODES or len(kinds) > 1 or not set(kinds) <= set(KINDS):
        return None
    args: dict[str, Any] = {
        "query": request.query,
        "collection": collection,
        "top_k": request.top_k,
        "mode": request.mode,
        "rerank": request.rerank,
        "max_tokens": HARD_CAP_TOKENS,  # whole chunks, as the CLI shows them
    }
    if request.path_glob:
        args["path"] = request.path_glob
    if request.languages:
        args["languages"] = list(request.languages)
    if kinds:
        args["kind"] = kinds[0]
    return args


async def search(
    client, arguments: dict[str, Any], *, whole: bool
) -> tuple[list[SearchHit], int, list[str], list[dict]]:
    """The hits (as the engine returns them), how many the response budget left out, each hit's
    disk_state, and the collections a glob matched that were skipped ({collection, reason}). Hits
    the tool trimmed, or every hit when `whole` (JSON output carries all fields), are read whole
    from the chunk resource."""
    result = await call_tool(client, "search", arguments)
    hits = [_hit(h, result["collection"]) for h in result["hits"]]
    need = [i for i, h in enumerate(result["hits"]) if whole or h["truncated"]]
    if need:
        chunks: dict[int, dict] = {}

        async def read(i: int) -> None:
            uri = f"groundmcp://chunk/{hits[i].collection}/{hits[i].id}"
            res = await client.read_resource(uri)
            chunks[i] = json.loads(res.contents[0].text)

        async with anyio.create_task_group() as tg:
            for i in need:
                tg.start_soon(read, i)
        for i, data in chunks.items():
            for key in ("citation", "disk_state", "collection"):
                data.pop(key, None)
            hits[i] = SearchHit(**{**data, "score": hits[i].score, "collection": hits[i].collection})
    several = "collections" in result  # a glob or a list: each hit says its collection
    if not several:
        hits = [dataclasses.replace(h, collection="") for h in hits]
    states = [h.get("disk_state", "unknown") for h in result["hits"]]
    return hits, result["omitted"], states, result.get("skipped") or []


def _hit(h: dict[str, Any], collection: str) -> SearchHit:
    start, end = h["chunk_lines"]
    return SearchHit(
        id=h["id"], score=h["score"], path=h["path"], root=h["root"], start_line=start, end_line=end,
        language=h["language"], kind=h["kind"], symbol=h["symbol"], text=h["text"],
        collection=h.get("collection") or collection, indexed_at=h.get("indexed_at"),
    )


async def list_collections(client) -> list[dict[str, Any]]:
    """The collections as the engine lists them (the fields of CollectionSummary, in order)."""
    result = await call_tool(client, "list_collections", {})
    fields = ("name", "model", "dim", "chunks", "created", "error")
    try:
        return [{f: row.get(f, "") for f in fields} for row in result["collections"]]
    except (KeyError, TypeError) as exc:
        raise OwnerUnavailable(f"the owner's list_collections result is not understood: {exc}") from exc


_CHUNKS = re.compile(r"(\d+) chunks encoded")


async def ingest(client, arguments: dict[str, Any], on_progress: Callable[[IngestProgress], None]) -> dict[str, Any]:
    """The ingest tool's summary, its progress notifications given to `on_progress` as the
    engine's IngestProgress (the tool's message carries the chunk count)."""

    async def progress(done: float, total: float | None, message: str | None) -> None:
        found = _CHUNKS.search(message or "")
        chunks = int(found.group(1)) if found else 0
        on_progress(IngestProgress(int(done), int(total or 0), chunks, chunks))

    return await call_tool(client, "ingest", arguments, progress)


async def collection_stats(client, name: str) -> dict[str, Any]:
    """The collection_stats tool's result: the engine's CollectionStats fields, and the watcher's
    (watched, pending, reingesting)."""
    return await call_tool(client, "collection_stats", {"collection": name})


async def delete_collection(client, name: str) -> int:
    """Chunks deleted with the collection."""
    return (await call_tool(client, "delete_collection", {"collection": name}))["deleted_chunks"]


async def stats(client) -> dict[str, Any]:
    """The owner's operating figures: the groundmcp://stats resource (server/metrics.py)."""
    res = await client.read_resource("groundmcp://stats")
    try:
        return json.loads(res.contents[0].text)
    except (IndexError, AttributeError, ValueError) as exc:
        raise OwnerUnavailable(f"the owner's stats resource is not understood: {exc}") from exc


MAX_FILES = 10_000  # the list_files tool's bound


async def list_files(client, name: str, glob: str | None) -> dict[str, Any]:
    """The list_files tool's result: {collection, files (IndexedFile fields), total, truncated}."""
    arguments: dict[str, Any] = {"collection": name, "limit": MAX_FILES}
    if glob:
        arguments["glob"] = glob
    return await call_tool(client, "list_files", arguments)


SYMBOL_FIELDS = ("citation", "kind", "qualified", "signature", "match")  # the CLI's row of a definition


async def find_symbol(client, name: str, kind: str | None, collection: str) -> list[dict[str, Any]]:
    """The find_symbol tool's matches as the CLI's rows (SYMBOL_FIELDS)."""
    arguments: dict[str, Any] = {"name": name, "collection": collection}
    if kind:
        arguments["kind"] = kind
    result = await call_tool(client, "find_symbol", arguments)
    try:
        return [{f: m[f] for f in SYMBOL_FIELDS} for m in result["matches"]]
    except (KeyError, TypeError) as exc:
        raise OwnerUnavailable(f"the owner's find_symbol result is not understood: {exc}") from exc


async def symbol_neighbours(client, symbol: str, collection: str, path: str | None) -> dict[str, Any]:
    """The symbol_neighbours tool's result, whole (the CLI's budget, not a client's), as the CLI's
    refs data (see cli.refs_cmd), with `omitted`: entries the tool still left out."""
    arguments: dict[str, Any] = {"symbol": symbol, "collection": collection, "max_tokens": HARD_CAP_TOKENS}
    if path:
        arguments["path"] = path
    from ..tools.symbols import NeighboursResult, refs_data  # the tool's own result type, read back

    r = await call_tool(client, "symbol_neighbours", arguments)
    try:
        return refs_data(NeighboursResult.model_validate(r))
    except ValidationError as exc:
        raise OwnerUnavailable(f"the owner's symbol_neighbours result is not understood: {exc}") from exc
