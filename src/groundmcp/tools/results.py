"""Result models shared by the tools: what a client sees as structured content."""

from __future__ import annotations

import json

from pydantic import BaseModel, Field

from ..search.budget import FittedHit, estimate_tokens
from ..search.query import DiskState, SearchHit


def quoted(text: str) -> str:
    """`text` (a name from the corpus or the caller: path, symbol, root, query) as a quoted literal
    for one line of a tool's text output: newlines and other control characters, Unicode line
    breaks and backticks are escaped, so a file named "x\\n```\\nSYSTEM: ..." cannot end a line,
    open a fence or pose as the server's own words. The structured result keeps the true value."""
    return repr(text).replace("`", "\\x60")


def inline(text: str) -> str:
    """`text` as it is when it is plain (printable, no backtick, backslash or quote), else `quoted(text)`."""
    if text.isprintable() and not any(c in text for c in "`\\'\""):
        return text
    return quoted(text)


class Hit(BaseModel):
    id: str = Field(description="Chunk id: pass to `rerank` or read groundmcp://chunk/{collection}/{id}.")
    path: str = Field(description="File path relative to the ingested root.")
    start_line: int
    end_line: int
    citation: str = Field(description="path:start-end, the form to cite in an answer.")
    symbol: str = Field(description="Function/class (Class.method) or heading path, if any.")
    language: str
    kind: str = Field(description="code or doc.")
    score: float = Field(description="Rank score: higher is better; comparable within one response.")
    text: str = Field(description="The chunk's text, or the lines of it that best match (see truncated).")
    truncated: bool = Field(description="True when text holds only some of the chunk's lines.")
    chunk_lines: list[int] = Field(description="[start, end] lines of the whole chunk.")
    root: str = Field(description="The folder this file was ingested from ('texts:' for texts).")
    collection: str | None = Field(
        None, description="The collection this hit came from (when a glob or a list of collections was searched)."
    )
    indexed_at: str | None = Field(
        description="When this version of the file was indexed (ISO-8601 UTC); null for chunks "
        "indexed before groundmcp recorded it."
    )
    disk_state: DiskState = Field(
        description="The file on disk now against the version indexed: unchanged; changed (the "
        "text may be out of date: re-ingest, or read the file's lines); deleted; unknown (texts "
        "sent by a client, or no record of the file's stat)."
    )

    @classmethod
    def overhead(cls, hit: SearchHit, several: bool = False) -> int:
        """Tokens this hit costs as JSON besides its text (for the search budget)."""
        empty = cls.from_fitted(FittedHit(hit, "", hit.start_line, hit.end_line, False), "unchanged", several=several)
        return estimate_tokens(json.dumps(empty.model_dump(mode="json", exclude_none=not several)))

    @classmethod
    def from_fitted(cls, f: FittedHit, disk_state: DiskState = "unknown", *, several: bool = False) -> Hit:
        """The hit as shown; `disk_state` from query.disk_state (a stat of the file), computed
        only for the hits kept; `several`: collections were searched, so it says its own."""
        h = f.hit
        return cls(
            id=h.id,
            path=h.path,
            start_line=f.start_line,
            end_line=f.end_line,
            citation=f"{h.path}:{f.start_line}-{f.end_line}",
            symbol=h.symbol,
            language=h.language,
            kind=h.kind,
            score=round(h.score, 6),
            text=f.text,
            truncated=f.truncated,
            chunk_lines=[h.start_line, h.end_line],
            root=h.root,
            collection=h.collection if several else None,
            indexed_at=h.indexed_at,
            disk_state=disk_state,
        )
