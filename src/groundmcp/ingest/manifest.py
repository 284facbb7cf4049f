"""What the index already holds for one root, read back from the store itself.

There is no separate manifest file: each chunk's payload carries its file's hash, size and mtime,
and a file counts as indexed only once its chunks are published (`visible`). So the manifest can
never disagree with the index, and a killed ingest leaves only unpublished points, which the next
run deletes before it starts. A file that gave no chunk is recorded by one point without vectors
(the pipeline's `empty_record`), so it is not read again while it stays as it is.

Reading it costs one row per file: chunk 0 of each published version (`chunk_index` has a payload
index), which carries everything the walk compares. The chunk ids, needed only to replace or
remove a file, are read for just those files (`load_ids`).

A version of a file is its content hash and its chunking key (`chunking.chunking_key`: the chunker
family's version and the chunk sizes), so a file whose chunks would now come out differently is
replaced like a changed one. Chunks written before the key was stored have none: the caller says
what to take them for (`legacy`; ingest takes them as made by the first version of each chunker
with today's chunk sizes, so code files keep their chunks and prose files are re-chunked once).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from ..record import MANIFEST_FIELDS, SYMBOLS_KIND, P
from ..store.base import Filters, Store

IDS_BATCH = 512  # paths per scroll in load_ids

Version = tuple[str, str]  # (content hash, chunking key) of one indexed version of a file
Legacy = Callable[[str], str]  # path -> the chunking key of its chunks that were stored without one


def version_of(payload: dict, legacy: Legacy | None) -> Version:
    key = payload.get(P.CHUNKING)
    if key is None:
        key = legacy(payload[P.PATH]) if legacy else ""
    return payload[P.FILE_HASH], key


@dataclass(slots=True)
class FileState:
    """The published versions of one file. `ids_by_version` maps each version to its chunk ids;
    more than one version means a swap was interrupted. The id lists are filled by `load_ids`
    (or `load_manifest(ids=True)`): until then they are empty and `ids_loaded` is False."""

    ids_by_version: dict[Version, list[str]] = field(default_factory=dict)
    size: int = -1
    mtime_ns: int = -1
    ids_loaded: bool = False

    @property
    def versions(self) -> set[Version]:
        return set(self.ids_by_version)

    @property
    def hashes(self) -> set[str]:
        return {file_hash for file_hash, _ in self.ids_by_version}

    @property
    def ids(self) -> list[str]:
        return self.ids_besides(None)

    def ids_besides(self, version: Version | None) -> list[str]:
        """The chunk ids of every version but `version` (all of them for None): what a write of
        that version replaces."""
        return [i for v in self.versions - {version} for i in self._ids(v)]

    def _ids(self, version: Version) -> list[str]:
        if not self.ids_loaded:
            raise RuntimeError("chunk ids not read: call load_ids for this file first")
        return self.ids_by_version[version]

    def unchanged_by_stat(self, size: int, mtime_ns: int, chunking: str) -> bool:
        """True when the one published version has this stat and was chunked as `chunking` says."""
        return (
            len(self.ids_by_version) == 1
            and self.size == size
            and self.mtime_ns == mtime_ns
            and next(iter(self.ids_by_version))[1] == chunking
        )


def load_manifest(
    store: Store, collection: str, root: str, *, ids: bool = True, legacy: Legacy | None = None,
    under: Sequence[str] | None = None,
) -> dict[str, FileState]:
    """path -> state of every published file under `root` in `collection` (at or under the relative
    paths `under` only, if given).

    With `ids` every chunk is read (one row per chunk) and the states come with their ids; without,
    one row per file version, and `load_ids` fills in the ids of the files that need them."""
    files: dict[str, FileState] = {}
    wanted = Filters(roots=[root], under=list(under or ()), visible=True, first_chunks=not ids)
    if under is not None and not under:
        return files
    for point_id, payload in store.scroll(collection, wanted, MANIFEST_FIELDS):
        state = files.setdefault(payload[P.PATH], FileState(ids_loaded=ids))
        version = state.ids_by_version.setdefault(version_of(payload, legacy), [])
        if ids:
            version.append(point_id)
        state.size = payload.get(P.FILE_SIZE, -1)
        state.mtime_ns = payload.get(P.FILE_MTIME_NS, -1)
    return files


def load_ids(
    store: Store,
    collection: str,
    root: str,
    files: dict[str, FileState],
    paths: Iterable[str],
    *,
    legacy: Legacy | None = None,
) -> None:
    """Fill in the chunk ids of every published version of `paths` (keys of `files`, from
    `load_manifest`). The versions are taken from all their chunks, not only chunk 0, so a file
    is replaced whole whatever state an earlier run left it in."""
    todo = sorted({p for p in paths if not files[p].ids_loaded})
    for start in range(0, len(todo), IDS_BATCH):
        batch = todo[start : start + IDS_BATCH]
        found: dict[str, dict[Version, list[str]]] = {p: {} for p in batch}
        wanted = Filters(roots=[root], paths=batch, visible=True)
        for point_id, payload in store.scroll(collection, wanted, ("path", "file_hash", "chunking")):
            found[payload[P.PATH]].setdefault(version_of(payload, legacy), []).append(point_id)
        for path in batch:
            files[path].ids_by_version = found[path]
            files[path].ids_loaded = True


def drop_unpublished(store: Store, collection: str, root: str) -> int:
    """Delete the points an interrupted ingest wrote but never published; returns how many chunks
    (a code file's symbols record, dropped with them, is no chunk: counts a person reads count
    chunks)."""
    leftovers = Filters(roots=[root], visible=False)
    count = store.count(collection, leftovers)
    if not count:
        return 0
    records = store.count(collection, Filters(roots=[root], visible=False, kinds=[SYMBOLS_KIND]))
    store.delete(collection, leftovers)
    return count - records
