"""The `ingest` tool: index a folder, a file or given texts, incrementally, with progress."""

from __future__ import annotations

import logging
import time
from typing import Annotated

import anyio
import anyio.lowlevel
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from ..ingest.pipeline import TextInput
from ..ingest.report import IngestProgress, IngestReport
from .common import (
    COLLECTION_DESCRIPTION,
    MAX_NAME,
    MAX_PATH,
    access,
    clean_doc,
    run,
    state,
    tool_errors,
    use_collection,
)

log = logging.getLogger(__name__)

MAX_TEXTS = 1000
MAX_TEXT_CHARS = 2_000_000
PROGRESS_EVERY_S = 0.5


class TextDoc(BaseModel):
    id: str = Field(min_length=1, max_length=500, description="Stable id; re-sending it replaces the text.")
    text: str = Field(max_length=MAX_TEXT_CHARS)
    path: str | None = Field(
        None, max_length=MAX_PATH,
        description="The text's file name, e.g. 'src/util.py': its extension picks the chunker (code is "
        "chunked along its syntax), and hits cite it. Default: the id.",
    )
    language: str | None = Field(
        None, max_length=40,
        description="The language when there is no path: python, javascript, typescript, go, rust, java, c, "
        "cpp, markdown, rst, html or text. With neither, code is recognised from the text itself.",
    )


class SkippedFile(BaseModel):
    path: str
    reason: str


class IngestSummary(BaseModel):
    collection: str
    root: str
    dry_run: bool
    files_seen: int
    added: int
    changed: int
    rechunked: int = Field(
        description="Of `changed`: files with the same content chunked again, because the chunker "
        "or the chunk size changed since they were indexed."
    )
    unchanged: int
    removed: int
    empty: int
    skipped: list[SkippedFile] = Field(description="Files left out, with the reason (first 50).")
    skipped_total: int
    skipped_by_reason: dict[str, int] = Field(
        description="Skipped files counted by reason, e.g. 'secret file (.env file)' or 'secret in "
        "content (AWS access key id)': files that hold credentials are never indexed."
    )
    chunks: int = Field(description="Chunks encoded (dry run: that would be encoded).")
    tokens: int
    chunks_removed: int
    leftovers_dropped: int = Field(0, description="Unpublished chunks of an interrupted ingest, deleted first.")
    seconds: float
    encode_seconds: float = Field(0.0, description="Of `seconds`: time spent encoding chunks.")

    @classmethod
    def from_report(cls, r: IngestReport) -> IngestSummary:
        return cls(
            collection=r.collection,
            root=r.root,
            dry_run=r.dry_run,
            files_seen=r.files_seen,
            added=len(r.added),
            changed=len(r.changed),
            rechunked=r.rechunked,
            unchanged=r.unchanged,
            removed=len(r.removed),
            empty=len(r.empty),
            skipped=[SkippedFile(path=s.path, reason=s.reason) for s in r.skipped[:50]],
            skipped_total=len(r.skipped),
            skipped_by_reason=r.skipped_by_reason(),
            chunks=r.chunks,
            tokens=r.tokens,
            chunks_removed=r.chunks_removed,
            leftovers_dropped=r.leftovers_dropped,
            seconds=round(r.seconds, 3),
            encode_seconds=round(r.encode_seconds, 3),
        )


def register(mcp: MCPServer) -> None:
    @mcp.tool(
        title="Ingest files or texts",
        annotations=ToolAnnotations(
            read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=False
        ),
    )
    @clean_doc
    async def ingest(
        ctx: Context,
        path: Annotated[
            str | None,
            Field(max_length=MAX_PATH,
                  description="Folder, git checkout or file to index, inside the server's allowed "
                  "roots (relative paths are taken from the root). Re-running it re-encodes only "
                  "changed files and removes deleted ones."),
        ] = None,
        texts: Annotated[
            list[TextDoc] | None,
            Field(max_length=MAX_TEXTS, description="Texts to index instead of files, each with an id."),
        ] = None,
        collection: Annotated[str | None, Field(max_length=MAX_NAME, description=COLLECTION_DESCRIPTION)] = None,
        dry_run: Annotated[bool, Field(description="Only count files, chunks and tokens.")] = False,
    ) -> IngestSummary:
        """Index a folder, file or list of texts into a collection (created on first use), so
        `search` can find it. Incremental: unchanged content is not re-encoded. Sends progress
        notifications while it runs; searches keep working meanwhile."""
        if (path is None) == (texts is None):
            raise ToolError("give exactly one of `path` (files to index) or `texts` (documents with ids)")
        app = state(ctx)
        collection = await use_collection(ctx, collection, must_exist=False)
        report_progress = _progress_sender(ctx)
        if path is not None:
            if not path.strip():
                raise ToolError("`path` is empty: give a folder or file inside the allowed roots")
            with tool_errors():
                target = access(ctx).allowed_path(path)
            report = await run(
                app.engine.ingest, str(target), collection=collection, dry_run=dry_run, progress=report_progress
            )
        else:
            docs = [TextInput(d.id, d.text, d.path, d.language) for d in texts or []]
            report = await run(
                app.engine.ingest_texts, docs, collection=collection, dry_run=dry_run, progress=report_progress
            )
        return IngestSummary.from_report(report)


def _progress_sender(ctx: Context):
    """A callback for the engine's threads that forwards progress to the client, at most every
    PROGRESS_EVERY_S seconds (and always for the last file). A failed send never stops an ingest."""
    last = [0.0]
    loop = anyio.lowlevel.current_token()

    def send(p: IngestProgress) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and p.files_done < p.files_total:
            return
        last[0] = now
        message = f"{p.files_done}/{p.files_total} files, {p.chunks_encoded} chunks encoded"
        try:
            anyio.from_thread.run(ctx.report_progress, p.files_done, p.files_total or None, message, token=loop)
        except Exception:  # the client went away, or the loop is closing
            log.debug("progress notification not sent", exc_info=True)

    return send
