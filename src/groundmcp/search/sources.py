"""Follow-up reading: chunks by id, and line ranges of ingested files (never anything else)."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..ingest.nofollow import Unsafe, read_regular
from ..ingest.read import decode_text
from ..ingest.secrets import find_secret_in_file, secret_file
from ..ingest.walk import Skipped
from ..record import TEXTS_ROOT, P
from ..store.base import Filters, Store
from .query import SearchHit, hit_from_payload

MAX_LINES = 2000


@dataclass(frozen=True, slots=True)
class SourceLines:
    root: str
    path: str
    start_line: int
    end_line: int
    total_lines: int
    text: str


def chunks_by_id(store: Store, collection: str, ids: list[str]) -> list[SearchHit]:
    """Published chunks in the order asked; InputError naming the ids that do not exist."""
    malformed = [i for i in ids if not _is_uuid(i)]
    if malformed:
        raise InputError(
            f"chunk id {malformed[0]!r} is not a chunk id (a UUID like the `id` field of a search hit)"
        )
    found = {h.id: h for h in store.retrieve(collection, ids) if h.payload.get(P.VISIBLE)}
    missing = [i for i in ids if i not in found]
    if missing:
        raise InputError(
            f"no chunk with id {', '.join(missing[:5])} in collection {collection!r}; "
            "ids come from search results (field `id`) and change when a file is re-ingested"
        )
    return [hit_from_payload(found[i]) for i in ids]


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def read_lines(
    store: Store, collection: str, path: str, start: int, end: int, root: str | None = None,
    max_bytes: int | None = None, within: tuple[Path, ...] | None = None,
) -> SourceLines:
    """Lines start..end (1-based, inclusive) of an ingested file, read from disk now.

    Only a path the collection holds is readable, resolved inside the root it was ingested from;
    `..`, absolute paths and symlinks out of the root are refused, and so are files outside
    `within` (folders the caller may read; None: no limit beyond the root). The file is opened at
    the real path checked, without following links, and judged by ``read_checked``."""
    if start < 1 or end < start:
        raise InputError(f"line range {start}-{end} is invalid: give 1 <= start <= end")
    if end - start + 1 > MAX_LINES:
        raise InputError(f"at most {MAX_LINES} lines per read; ask for {start}-{start + MAX_LINES - 1} first")
    clean = path.strip().replace("\\", "/")
    if not clean or clean.startswith("/") or ".." in clean.split("/"):
        raise InputError(f"path {path!r} must be relative to an ingested root, without '..'")
    filters = Filters(paths=[clean], roots=[root] if root else [], visible=True)
    roots = sorted({p[P.ROOT] for _, p in store.scroll(collection, filters, [P.ROOT])} - {TEXTS_ROOT})
    if not roots:
        raise InputError(
            f"{clean!r} is not an ingested file of collection {collection!r}; use a path from a search result"
        )
    if len(roots) > 1:
        raise InputError(f"{clean!r} exists under several roots ({', '.join(roots)}); pass root= to choose")
    base = Path(roots[0])
    try:
        real = Path(os.path.realpath(base / clean))
    except OSError as exc:  # a link on the path changed while it was resolved (EINVAL, ELOOP)
        raise InputError(f"cannot read {clean!r}: it changed while its path was resolved ({exc.strerror}); "
                         "try again, or re-ingest to refresh the index") from None
    if not real.is_relative_to(base):
        raise InputError(f"{clean!r} resolves outside its root {base}; refusing to read it")
    if within is not None and not any(real.is_relative_to(r) for r in within):
        raise InputError(
            f"{clean!r} is outside the allowed roots ({', '.join(map(str, within))}); refusing to read it"
        )
    text = read_checked(real, clean, max_bytes)
    lines = text.split("\n")
    if start > len(lines):
        raise InputError(f"{clean!r} has {len(lines)} lines; start {start} is past the end")
    end = min(end, len(lines))
    return SourceLines(str(base), clean, start, end, len(lines), "\n".join(lines[start - 1 : end]))


def read_checked(real: Path, shown: str, max_bytes: int | None = None) -> str:
    """The text of the file at the symlink-free path ``real``, read as ingest would read it now.

    It is opened first, without following any link, and then judged: the same rules as ingest, on
    the file actually opened (it may have changed since it was indexed): a credential file by name
    (the name asked for and the name opened), the size limit, binary, not UTF-8, and a secret
    anywhere in it (not only in the lines asked for: a key id on one line and its secret on the
    next are one secret). Any refusal is an InputError naming ``shown``, never the content."""
    for name in {shown, real.name}:
        if (label := secret_file(name)) is not None:
            raise InputError(f"{shown!r} is a credential file ({label}); it is never read or indexed")
    try:
        data = read_regular(real, max_bytes)
    except Unsafe as exc:
        raise InputError(f"cannot read {shown!r}: {exc.short}; re-ingest to refresh the index") from None
    if max_bytes is not None and len(data) > max_bytes:
        raise InputError(f"{shown!r} is now larger than {max_bytes:,} bytes (GROUNDMCP_MAX_FILE_BYTES); not read")
    text = decode_text(data, shown)
    if isinstance(text, Skipped):
        raise InputError(f"cannot read {shown!r}: {text.reason} now; re-ingest to refresh the index")
    if (found := find_secret_in_file(shown, text)) is not None:
        raise InputError(
            f"{shown!r} now holds a secret ({found.label}, line {found.line}); refusing to return it. "
            "Move the secret out of the file and re-ingest"
        )
    return text
