"""Collection management tools: list, stats, delete a collection, delete files' chunks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..watch import Watcher
from .common import MAX_NAME, MAX_PATH, access, clean_doc, run, state, use_collection


class CollectionRow(BaseModel):
    name: str
    model: str
    dim: int
    chunks: int
    created: str


class ListedCollection(CollectionRow):
    error: str = Field("", description="Why it cannot be used (damaged, or not made by groundmcp) and "
                       "what to do; empty when it can be.")


class CollectionList(BaseModel):
    default: str = Field(description="The collection tools use when none is named.")
    collections: list[ListedCollection]


class CollectionStatsResult(CollectionRow):
    files: int
    roots: list[str]
    languages: dict[str, int] = Field(description="Chunks per language.")
    kinds: dict[str, int] = Field(description="Chunks per kind (code, doc).")
    files_by_language: dict[str, int] = Field(default_factory=dict, description="Files per language.")
    empty_files: int = Field(0, description="Files ingested that gave no chunk.")
    updated: str = Field("", description="When the index last changed (embedded store; empty when unknown).")
    disk_bytes: int | None = Field(None, description="Space on disk (embedded store; None when unknown).")
    watched: bool = Field(False, description="Whether the server watches this collection's folders and "
                          "re-ingests files as they change.")
    pending: int = Field(0, description="Changed files (or folders) seen by the watcher and not yet "
                         "re-ingested, the batch being re-ingested included; search may return their "
                         "old text until then.")
    reingesting: bool = Field(False, description="Whether the watcher is re-ingesting changes into it now.")


class FileRow(BaseModel):
    path: str = Field(description="Relative to its root, as search results cite it.")
    root: str
    language: str
    kind: str = Field(description="code, doc, or empty (a file that gave no chunk).")
    chunks: int


class FileList(BaseModel):
    collection: str
    files: list[FileRow] = Field(description="Sorted by root and path; at most `limit`.")
    total: int = Field(description="Files that match, all of them.")
    truncated: bool = Field(description="True when `files` holds only the first `limit` of `total`.")


class Deleted(BaseModel):
    collection: str
    deleted_chunks: int = Field(description="Searchable chunks removed.")


def register(mcp: MCPServer) -> None:
    read_only = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)
    destructive = ToolAnnotations(
        read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
    )

    @mcp.tool(title="List collections", annotations=read_only)
    @clean_doc
    async def list_collections(ctx: Context) -> CollectionList:
        """List the collections in the index with their model, vector dimension and size."""
        mine = access(ctx)
        rows = await run(_collections, state(ctx).engine, mine)
        return CollectionList(default=mine.default or "", collections=rows)

    @mcp.tool(title="Collection statistics", annotations=read_only)
    @clean_doc
    async def collection_stats(
        ctx: Context,
        collection: Annotated[
            str | None, Field(max_length=MAX_NAME, description="Collection; omit for the default.")
        ] = None,
    ) -> CollectionStatsResult:
        """Files, chunks, ingested roots, and chunks per language and kind of one collection, and
        the changes to its files waiting for a re-ingest."""
        app = state(ctx)
        s = await run(app.engine.stats, await use_collection(ctx, collection))
        return CollectionStatsResult(**asdict(s), **_freshness(app.watcher, s.name))

    @mcp.tool(title="List indexed files", annotations=read_only)
    @clean_doc
    async def list_files(
        ctx: Context,
        collection: Annotated[
            str | None, Field(max_length=MAX_NAME, description="Collection; omit for the default.")
        ] = None,
        glob: Annotated[
            str | None,
            Field(max_length=MAX_PATH, description="Only paths matching this, as search's `path` filter "
                  "reads it: 'src/**/*.py', '*.md', 'docs/' or a file."),
        ] = None,
        limit: Annotated[int, Field(ge=1, le=10_000, description="Most files to return.")] = 1000,
    ) -> FileList:
        """The files a collection holds (those matching `glob`), with their language, kind and
        chunk count: what is indexed, without searching."""
        name = await use_collection(ctx, collection)
        rows = await run(state(ctx).engine.files, name, glob)
        return FileList(
            collection=name,
            files=[FileRow(**asdict(r)) for r in rows[:limit]],
            total=len(rows),
            truncated=len(rows) > limit,
        )

    @mcp.tool(title="Delete a collection", annotations=destructive)
    @clean_doc
    async def delete_collection(
        ctx: Context,
        collection: Annotated[
            str, Field(min_length=1, max_length=MAX_NAME, description="The collection to delete, with all its chunks.")
        ],
    ) -> Deleted:
        """Delete a whole collection. This cannot be undone; re-ingest to rebuild it."""
        count = await run(state(ctx).engine.delete_collection, await use_collection(ctx, collection))
        return Deleted(collection=collection, deleted_chunks=count)

    @mcp.tool(title="Delete files from a collection", annotations=destructive)
    @clean_doc
    async def delete_paths(
        ctx: Context,
        paths: Annotated[
            list[Annotated[str, Field(min_length=1, max_length=MAX_PATH)]],
            Field(min_length=1, max_length=1000,
                  description="Relative paths as shown in search results; a folder removes "
                  "everything under it."),
        ],
        collection: Annotated[
            str | None, Field(max_length=MAX_NAME, description="Collection; omit for the default.")
        ] = None,
        root: Annotated[
            str | None, Field(max_length=MAX_PATH, description="Only under this ingested root (see collection_stats).")
        ] = None,
    ) -> Deleted:
        """Remove the chunks of some files from the index (the files on disk are not touched).
        A later ingest of their folder adds them again if they still exist."""
        name = await use_collection(ctx, collection)
        count = await run(state(ctx).engine.delete_paths, name, paths, root)
        return Deleted(collection=name, deleted_chunks=count)


def _freshness(watcher: Watcher | None, name: str) -> dict:
    """What the file watcher has yet to re-ingest into `name` (nothing when none runs)."""
    if watcher is None:
        return {"watched": False, "pending": 0, "reingesting": False}
    return {"watched": watcher.watches(name), "pending": watcher.pending(name), "reingesting": watcher.reingesting(name)}


def _collections(engine, mine) -> list[ListedCollection]:
    """The collections this request may see. For a token with an allow-list, the others are
    never opened (their names are filtered before any is read)."""
    return [ListedCollection(**asdict(r)) for r in engine.collections(mine.allows)]
