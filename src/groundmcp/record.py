"""The chunk record: what every point's payload holds, defined once, below both store and ingest.

Ingest writes it (`ChunkRecord.to_payload`), the store indexes some of its fields (`KEYWORD_FIELDS`,
`BOOL_FIELDS`, `INTEGER_FIELDS`: the store's filters name only these), and search, the manifest,
the engine's listings and the resources read it back by the names in `P`. A field added or renamed
here is the one change every writer and reader follows.

One record per chunk, plus one per file that gave no chunk (`kind` EMPTY_KIND, no vectors), so the
next ingest knows that file too, and one per code file version holding its definitions and
references (`kind` SYMBOLS_KIND, no vectors, chunk index -1: see groundmcp/symbols/__init__.py).
Every record of a file version carries the file's hash, chunking key, size, mtime and when it was
indexed (`indexed_at`): the manifest reads them from chunk 0 only, and a search hit from its own
record, which is how it tells whether its file changed on disk since.
Records written before `indexed_at` existed read back with it None.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any


class P:
    """Payload field names."""

    ROOT = "root"  # the folder ingested (absolute), or TEXTS_ROOT for texts sent by a client
    PATH = "path"  # relative to the root, forward slashes
    DIRS = "dirs"  # every parent folder of PATH ("a", "a/b"): folder filters match here
    EXT = "ext"  # ".py", lower case, "" without one
    LANGUAGE = "language"
    KIND = "kind"  # "code", "doc", or EMPTY_KIND
    SYMBOL = "symbol"
    START_LINE = "start_line"
    END_LINE = "end_line"
    PAGE = "page"  # PDF page, or None
    HEADER = "header"  # the context line the chunk was embedded under
    TEXT = "text"
    CHUNK_INDEX = "chunk_index"  # 0 for the file's first chunk (or its empty record)
    FILE_HASH = "file_hash"
    CHUNKING = "chunking"  # the chunker's version and sizes: a change re-chunks the file
    FILE_SIZE = "file_size"
    FILE_MTIME_NS = "file_mtime_ns"
    INDEXED_AT = "indexed_at"  # when this version of the file was written: ISO-8601 UTC, "...Z"
    VISIBLE = "visible"  # False until the file's whole version is written and published
    SYMBOL_KEYS = "symbol_keys"  # the symbols record's lookup keys (symbols/record.py)
    TOKEN_SIGNS = "token_signs"  # a prose chunk's token signature (encoders/token_signs.py); search reads it


# Payload fields that carry a payload index (filters run on them). A collection made before a field
# was added here gets its index when a store first opens it.
KEYWORD_FIELDS = (P.ROOT, P.PATH, P.DIRS, P.EXT, P.LANGUAGE, P.KIND, P.FILE_HASH, P.SYMBOL_KEYS)
BOOL_FIELDS = (P.VISIBLE,)
INTEGER_FIELDS = (P.CHUNK_INDEX,)

EMPTY_KIND = "empty"  # `kind` of the record of a file with no chunk
SYMBOLS_KIND = "symbols"  # `kind` of a code file's symbols record (no vectors; symbols/record.py)
NOT_CHUNKS = (EMPTY_KIND, SYMBOLS_KIND)  # kinds of records that are no searchable chunk
TEXTS_ROOT = "texts:"  # `root` of documents ingested as texts sent by a client, not files
MANIFEST_FIELDS = (P.PATH, P.FILE_HASH, P.CHUNKING, P.FILE_SIZE, P.FILE_MTIME_NS)


def utc_stamp(seconds: float | None = None) -> str:
    """`seconds` since the epoch (None: now) as the record's time format, ISO-8601 UTC: 2025-01-31T12:00:00Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


@dataclass(frozen=True, slots=True)
class ChunkRecord:
    root: str
    path: str
    language: str
    kind: str
    symbol: str
    start_line: int
    end_line: int
    text: str
    chunk_index: int = 0
    header: str = ""
    page: int | None = None
    file_hash: str = ""
    chunking: str = ""
    file_size: int = -1
    file_mtime_ns: int = -1
    indexed_at: str | None = None
    visible: bool = False

    def to_payload(self) -> dict[str, Any]:
        parts = self.path.split("/")
        return {
            P.ROOT: self.root,
            P.PATH: self.path,
            P.DIRS: ["/".join(parts[:n]) for n in range(1, len(parts))],
            P.EXT: ("." + parts[-1].rsplit(".", 1)[1].lower()) if "." in parts[-1] else "",
            P.LANGUAGE: self.language,
            P.KIND: self.kind,
            P.SYMBOL: self.symbol,
            P.START_LINE: self.start_line,
            P.END_LINE: self.end_line,
            P.PAGE: self.page,
            P.HEADER: self.header,
            P.TEXT: self.text,
            P.CHUNK_INDEX: self.chunk_index,
            P.FILE_HASH: self.file_hash,
            P.CHUNKING: self.chunking,
            P.FILE_SIZE: self.file_size,
            P.FILE_MTIME_NS: self.file_mtime_ns,
            P.INDEXED_AT: self.indexed_at,
            P.VISIBLE: self.visible,
        }

    @classmethod
    def from_payload(cls, p: dict[str, Any]) -> ChunkRecord:
        """The record a payload holds; fields a point was written without take their defaults."""
        return cls(
            root=p.get(P.ROOT, ""),
            path=p[P.PATH],
            language=p.get(P.LANGUAGE, ""),
            kind=p.get(P.KIND, ""),
            symbol=p.get(P.SYMBOL, ""),
            start_line=p.get(P.START_LINE, 0),
            end_line=p.get(P.END_LINE, 0),
            text=p.get(P.TEXT, ""),
            chunk_index=p.get(P.CHUNK_INDEX, 0),
            header=p.get(P.HEADER, ""),
            page=p.get(P.PAGE),
            file_hash=p.get(P.FILE_HASH, ""),
            chunking=p.get(P.CHUNKING) or "",
            file_size=p.get(P.FILE_SIZE, -1),
            file_mtime_ns=p.get(P.FILE_MTIME_NS, -1),
            indexed_at=p.get(P.INDEXED_AT),
            visible=bool(p.get(P.VISIBLE, False)),
        )
