"""Symbols records for code files whose record is missing or was written by an older extractor,
written without re-encoding a chunk.

An index built before the symbols record (record.py) holds chunks for its code files and no
record, and an index built before an extractor change (extract.VERSIONS) holds records that lack
what the extractor now finds; an ingest that finds those files unchanged writes nothing for them.
`backfill` closes both gaps on the next ingest of the root: for each unchanged code file with no
published record, or one of an older version, it reads the file, checks that its hash is still
the indexed version's, parses it, and builds the record from the chunks already stored (their line
ranges and ids: no chunk is made or encoded again). The record takes the version's fields from
chunk 0 (hash, stat, indexed_at) and the chunking key the manifest knows the version by, so it is
the record an ingest of that version would have written.

Why a kill is safe. A missing record is written as a file's chunks are: upserted unpublished under
the id an ingest would give it, then made visible in one store step per batch; a kill in between
leaves unpublished records only, which the next run drops (manifest.drop_unpublished) before it
writes them again. An outdated record is replaced in place: the new one is upserted visible under
the old one's id, and a point is replaced whole, so a kill leaves each file with its old record or
its new one, never both and never none; the id stays the one the manifest retires with the
file's chunks. A file whose content no longer matches its indexed version, or whose version is
split (an interrupted swap), is left to the ingest that replaces it.

When every record is current the cost is one count per BATCH code files, keyed on the current
version keys (a count reads no row, so an unchanged ingest still reads one row per file).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import replace

from ..chunking.base import Chunk
from ..chunking.languages import language_for
from ..record import NOT_CHUNKS, SYMBOLS_KIND, ChunkRecord, P
from ..store.base import Filters, PointData, Store
from .extract import VERSIONS, file_symbols, supports
from .record import SYMBOLS_INDEX, VERSION, current_keys, symbols_point

BATCH = 512  # files per count, scroll and publish step
_CHUNK_FIELDS = (P.ROOT, P.PATH, P.LANGUAGE, P.KIND, P.START_LINE, P.END_LINE, P.CHUNK_INDEX, P.FILE_HASH,
                 P.CHUNKING, P.FILE_SIZE, P.FILE_MTIME_NS, P.INDEXED_AT)

Version = tuple[str, str]  # (content hash, chunking key), as the manifest has it


def code_path(path: str) -> bool:
    """Whether a file of this name gets a symbols record (a language with an extractor and grammar)."""
    found = language_for(path)
    return found is not None and supports(found[0])


def backfill(
    store: Store,
    collection: str,
    root: str,
    settled: Mapping[str, Version],
    read: Callable[[str], bytes | None],
    record_id: Callable[[str, Version], str],
) -> list[str]:
    """Write the missing and outdated symbols records of `settled` (path -> its one published
    version, for files this ingest left as they were); `read(path)`: the file's bytes now, None if
    unreadable; `record_id(path, version)`: the id ingest gives that version's record. Returns the
    paths given a record, new or re-extracted."""
    wanted = sorted(p for p in settled if code_path(p))
    done: list[str] = []
    current = current_keys()
    for start in range(0, len(wanted), BATCH):
        batch = wanted[start : start + BATCH]
        records = Filters(roots=[root], paths=batch, kinds=[SYMBOLS_KIND], visible=True)
        if store.count(collection, replace(records, symbol_keys=current)) == len(batch):
            continue  # the usual case: every one has a record of the current version (a count reads no row)
        have = {p[P.PATH]: (i, p.get(VERSION) == VERSIONS.get(p.get(P.LANGUAGE)))
                for i, p in store.scroll(collection, records, [P.PATH, P.LANGUAGE, VERSION])}
        missing = {p: settled[p] for p in batch if p not in have}
        outdated = {p: have[p][0] for p in batch if p in have and not have[p][1]}
        done += _batch(store, collection, root, missing, read, lambda p: record_id(p, settled[p]))
        done += _batch(store, collection, root, {p: settled[p] for p in outdated}, read, outdated.__getitem__,
                       in_place=True)
    return done


def _batch(store, collection, root, versions: Mapping[str, Version], read, ids: Callable[[str], str], *,
           in_place: bool = False) -> list[str]:
    """Write the records of `versions` under `ids(path)`: new ones unpublished, then published in one
    step; `in_place`, replacing a visible record at its id, visible at once (see the module's doc)."""
    if not versions:
        return []
    stored: dict[str, list[tuple[str, dict]]] = {p: [] for p in versions}
    for point_id, payload in store.scroll(collection, Filters(roots=[root], paths=list(versions), visible=True),
                                          _CHUNK_FIELDS):
        if payload.get(P.KIND) != SYMBOLS_KIND:  # the outdated record itself
            stored[payload[P.PATH]].append((point_id, payload))
    points: list[PointData] = []
    for path, rows in stored.items():
        if point := _record(path, versions[path], rows, read, ids(path), in_place):
            points.append(point)
    if not points:
        return []
    store.upsert(collection, points)
    paths = [p.payload[P.PATH] for p in points]
    if not in_place:
        store.publish(collection, Filters(roots=[root], paths=paths, kinds=[SYMBOLS_KIND],
                                          file_hashes=sorted({versions[p][0] for p in paths}), visible=False))
    return paths


def _record(path: str, version: Version, rows: list[tuple[str, dict]], read, point_id: str,
            visible: bool) -> PointData | None:
    """The symbols record of `path` from its stored chunks, or None when it cannot be made
    faithfully (no chunk, chunks of another version, a gap in them, changed content, no parse)."""
    if not rows or any(p.get(P.KIND) in NOT_CHUNKS or p.get(P.FILE_HASH) != version[0] for _, p in rows):
        return None
    rows = sorted(rows, key=lambda r: r[1].get(P.CHUNK_INDEX, 0))
    if [p.get(P.CHUNK_INDEX) for _, p in rows] != list(range(len(rows))):
        return None
    data = read(path)
    if data is None or hashlib.sha256(data).hexdigest() != version[0]:
        return None  # changed under a same stat: the ingest that notices will write it
    first = ChunkRecord.from_payload(rows[0][1])
    if not supports(first.language):
        return None
    chunks = [Chunk(path=path, language=first.language, kind=p.get(P.KIND, ""), symbol="",
                    start_line=p.get(P.START_LINE, 0), end_line=p.get(P.END_LINE, 0), text="") for _, p in rows]
    symbols = file_symbols(path, data, first.language, chunks)
    if symbols is None:
        return None
    base = replace(first, kind=SYMBOLS_KIND, symbol="", start_line=0, end_line=0, text="", header="", page=None,
                   chunk_index=SYMBOLS_INDEX, chunking=version[1], visible=visible).to_payload()
    return symbols_point(point_id, base, symbols, [i for i, _ in rows])
