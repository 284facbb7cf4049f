"""What the index already holds for one root, read back from the store itself.

There is no separate manifest file: each chunk's payload carries its file's hash, size and mtime,
and a file counts as indexed only once its chunks are published (`visible`). So the manifest can
never disagree with the index, and a killed ingest leaves only unpublished points, which the next
run deletes before it starts. A file that gave no chunk is recorded by one point without vectors
(the pipeline's `empty_record`), so it is not read again while it stays as it is.

Reading it costs one row per file: chunk 0 of each published version (`chunk_index` has a payload
index), which carries everything the walk compares. The chunk ids, needed only to replace or
remove a file, are read for just those files (`load_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ..store.base import Filters, Store

MANIFEST_FIELDS = ("path", "file_hash", "file_size", "file_mtime_ns")
IDS_BATCH = 512  # paths per scroll in load_ids


@dataclass(slots=True)
class FileState:
    """The published versions of one file. `ids_by_hash` maps each version's hash to its chunk
    ids; more than one hash means a swap was interrupted. The id lists are filled by `load_ids`
    (or `load_manifest(ids=True)`): until then they are empty and `ids_loaded` is False."""

    ids_by_hash: dict[str, list[str]] = field(default_factory=dict)
    size: int = -1
    mtime_ns: int = -1
    ids_loaded: bool = False

    @property
    def hashes(self) -> set[str]:
        return set(self.ids_by_hash)

    @property
    def ids(self) -> list[str]:
        return self.ids_besides("")

    def ids_besides(self, file_hash: str) -> list[str]:
        """The chunk ids of every version but `file_hash` (all of them for ""): what a write of
        that version replaces."""
        return [i for h in self.hashes - {file_hash} for i in self._ids(h)]

    def _ids(self, file_hash: str) -> list[str]:
        if not self.ids_loaded:
            raise RuntimeError("chunk ids not read: call load_ids for this file first")
        return self.ids_by_hash[file_hash]

    def unchanged_by_stat(self, size: int, mtime_ns: int) -> bool:
        return len(self.ids_by_hash) == 1 and self.size == size and self.mtime_ns == mtime_ns


def load_manifest(store: Store, collection: str, root: str, *, ids: bool = True) -> dict[str, FileState]:
    """path -> state of every published file under `root` in `collection`.

    With `ids` every chunk is read (one row per chunk) and the states come with their ids; without,
    one row per file version, and `load_ids` fills in the ids of the files that need them."""
    files: dict[str, FileState] = {}
    wanted = Filters(roots=[root], visible=True, first_chunks=not ids)
    for point_id, payload in store.scroll(collection, wanted, MANIFEST_FIELDS):
        state = files.setdefault(payload["path"], FileState(ids_loaded=ids))
        version = state.ids_by_hash.setdefault(payload["file_hash"], [])
        if ids:
            version.append(point_id)
        state.size = payload.get("file_size", -1)
        state.mtime_ns = payload.get("file_mtime_ns", -1)
    return files


def load_ids(store: Store, collection: str, root: str, files: dict[str, FileState], paths: Iterable[str]) -> None:
    """Fill in the chunk ids of every published version of `paths` (keys of `files`, from
    `load_manifest`). The versions are taken from all their chunks, not only chunk 0, so a file
    is replaced whole whatever state an earlier run left it in."""
    todo = sorted({p for p in paths if not files[p].ids_loaded})
    for start in range(0, len(todo), IDS_BATCH):
        batch = todo[start : start + IDS_BATCH]
        found: dict[str, dict[str, list[str]]] = {p: {} for p in batch}
        wanted = Filters(roots=[root], paths=batch, visible=True)
        for point_id, payload in store.scroll(collection, wanted, ("path", "file_hash")):
            found[payload["path"]].setdefault(payload["file_hash"], []).append(point_id)
        for path in batch:
            files[path].ids_by_hash = found[path]
            files[path].ids_loaded = True


def drop_unpublished(store: Store, collection: str, root: str) -> int:
    """Delete the points an interrupted ingest wrote but never published; returns how many."""
    leftovers = Filters(roots=[root], visible=False)
    count = store.count(collection, leftovers)
    if count:
        store.delete(collection, leftovers)
    return count
