"""What the settings' store holds, read without loading a model: for `doctor` and status views.

The backend and where it lives; each collection's model, dimension, chunks and size on disk. While
another process holds the embedded store (a server), the collections are read from its files
instead, without chunk counts. Everything that knows the store's layout on disk lives in `store/`;
this module only asks it, so no front end needs to.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import GroundError, StoreLocked
from .settings import Settings
from .store.edge_layout import EDGE_SUBDIR, read_collection_records
from .store.factory import Backend, backend_of, open_store

BACKEND_LABELS = {"edge": "embedded Qdrant Edge", "qdrant": "Qdrant server", "qdrant-local": "qdrant-client local mode"}


@dataclass(frozen=True, slots=True)
class StoredCollection:
    name: str
    model: str
    dim: int | None
    chunks: int | None  # None when the store could not be opened (locked) or the collection is damaged
    created: str = ""
    bytes: int | None = None  # on disk (embedded store only)
    error: str = ""


@dataclass(slots=True)
class StoreInventory:
    backend: Backend
    location: str
    exists: bool = True  # False: an embedded store not created yet
    locked: str = ""  # why the store could not be opened (another process holds it), else ""
    collections: list[StoredCollection] = field(default_factory=list)

    @property
    def label(self) -> str:
        return BACKEND_LABELS[self.backend]


def store_location(settings: Settings) -> tuple[Backend, str]:
    """The backend the settings choose, and where it is (a URL or a folder)."""
    backend = backend_of(settings.qdrant_url, settings.qdrant_local_path)
    return backend, settings.qdrant_url or str(settings.qdrant_local_path or settings.data_dir / EDGE_SUBDIR)


def take_inventory(settings: Settings) -> StoreInventory:
    """The store and its collections. Raises what opening the store raises, except StoreLocked
    (reported in `locked`, with the collections read from disk)."""
    backend, where = store_location(settings)
    edge_dir = settings.data_dir / EDGE_SUBDIR
    inventory = StoreInventory(backend, where)
    if backend == "edge" and not edge_dir.exists():
        inventory.exists = False
        return inventory
    try:
        store = open_store(
            data_dir=settings.data_dir,
            qdrant_url=settings.qdrant_url,
            qdrant_api_key=settings.qdrant_api_key,
            qdrant_local_path=settings.qdrant_local_path,
        )
    except StoreLocked as exc:
        inventory.locked = str(exc)
        for rec in read_collection_records(edge_dir):
            meta = rec.get("meta", {})
            inventory.collections.append(
                StoredCollection(rec["name"], meta.get("model", "?"), rec.get("dim"), None, meta.get("created", ""),
                                 disk_usage(edge_dir / "collections" / rec["name"]))
            )
        return inventory
    try:
        for name in sorted(store.list_collections()):
            size = disk_usage(edge_dir / "collections" / name) if backend == "edge" else None
            try:
                info = store.info(name)
            except GroundError as exc:  # damaged or foreign: listed with what to do, not fatal
                inventory.collections.append(StoredCollection(name, "?", None, None, "", size, str(exc)))
                continue
            inventory.collections.append(
                StoredCollection(name, info.meta.get("model", "?"), info.dim, info.points,
                                 info.meta.get("created", ""), size)
            )
    finally:
        store.close()
    return inventory


def disk_usage(folder: Path) -> int:
    """Bytes on disk, like `du`: the store preallocates sparse files (32 MiB each), so the apparent
    size of a small collection is hundreds of MiB while it uses well under one."""
    return folder_usage(folder)[0]


def folder_usage(folder: Path) -> tuple[int, float]:
    """(bytes on disk, newest modification time) of the files under `folder` (0.0: none)."""
    used, newest = 0, 0.0
    for base, _, files in os.walk(folder):
        for f in files:
            try:
                st = os.lstat(os.path.join(base, f))
            except OSError:
                continue
            blocks = getattr(st, "st_blocks", None)
            used += blocks * 512 if blocks is not None else st.st_size
            newest = max(newest, st.st_mtime)
    return used, newest
