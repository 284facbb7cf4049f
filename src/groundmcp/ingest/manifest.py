"""What the index already holds for one root, read back from the store itself.

There is no separate manifest file: each chunk's payload carries its file's hash, size and mtime,
and a file counts as indexed only once its chunks are published (`visible`). So the manifest can
never disagree with the index, and a killed ingest leaves only unpublished points, which the next
run deletes before it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..store.base import Filters, Store

MANIFEST_FIELDS = ("path", "file_hash", "file_size", "file_mtime_ns")


@dataclass(slots=True)
class FileState:
    ids_by_hash: dict[str, list[str]] = field(default_factory=dict)  # >1 hash: interrupted swap
    size: int = -1
    mtime_ns: int = -1

    @property
    def hashes(self) -> set[str]:
        return set(self.ids_by_hash)

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.ids_by_hash.values() for i in ids]

    def unchanged_by_stat(self, size: int, mtime_ns: int) -> bool:
        return len(self.ids_by_hash) == 1 and self.size == size and self.mtime_ns == mtime_ns


def load_manifest(store: Store, collection: str, root: str) -> dict[str, FileState]:
    """path -> state of every published file under `root` in `collection`."""
    files: dict[str, FileState] = {}
    for point_id, payload in store.scroll(
        collection, Filters(roots=[root], visible=True), MANIFEST_FIELDS
    ):
        state = files.setdefault(payload["path"], FileState())
        state.ids_by_hash.setdefault(payload["file_hash"], []).append(point_id)
        state.size = payload.get("file_size", -1)
        state.mtime_ns = payload.get("file_mtime_ns", -1)
    return files


def drop_unpublished(store: Store, collection: str, root: str) -> int:
    """Delete the points an interrupted ingest wrote but never published; returns how many."""
    leftovers = Filters(roots=[root], visible=False)
    count = store.count(collection, leftovers)
    if count:
        store.delete(collection, leftovers)
    return count
