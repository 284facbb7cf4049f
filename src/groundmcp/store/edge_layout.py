"""The embedded store on disk: layout, the process lock and the collection record.

Layout under the store's `data_dir`:

    LOCK                                 flock-ed by the process using the store; holds its pid
    collections/<name>/shard/            the Edge shard (segments, WAL)
    collections/<name>/collection.json   {"dim": ..., "meta": {...}}, written atomically once
                                         the shard is complete: no json, no usable collection
    collections/.deleting-<name>-<hex>/  a collection being deleted (renamed first, then removed)
    collections/.creating-<name>-<hex>/  a collection being created (renamed into place when whole)

Both dot-folders are leftovers of an interrupted process when the store opens, and are removed.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path
from typing import Any, TextIO

from groundmcp.errors import GroundError, StoreLocked

EDGE_SUBDIR = "edge"  # the embedded store's folder in the data dir
META_FILE = "collection.json"
SHARD_DIR = "shard"
TRASH_PREFIX = ".deleting-"  # cannot start a collection name
CREATING_PREFIX = ".creating-"  # nor can this
PROCESS_LOCK = "LOCK"  # flocked by the one process that has the store open


def take_process_lock(data_dir: Path) -> TextIO:
    """flock `data_dir/LOCK` without waiting and write our pid; StoreLocked if held."""
    handle = open(data_dir / PROCESS_LOCK, "a+", encoding="utf-8")  # noqa: SIM115 - kept open
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.seek(0)
        pid = handle.read().strip() or "unknown"
        handle.close()
        holder = "this process" if pid == str(os.getpid()) else f"another process (pid {pid})"
        raise StoreLocked(
            f"the store in {data_dir} is in use by {holder}; "
            "stop that groundmcp process (or close the store), or point this one at another data "
            "directory with --data-dir or GROUNDMCP_DATA_DIR"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def release_process_lock(handle: TextIO) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def empty_trash(root: Path) -> None:
    """Remove what an interrupted delete or create left behind (only the lock holder calls this)."""
    for prefix in (TRASH_PREFIX, CREATING_PREFIX):
        for leftover in root.glob(f"{prefix}*"):
            shutil.rmtree(leftover, ignore_errors=True)


def write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=2, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_meta(name: str, folder: Path) -> dict[str, Any]:
    try:
        record = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise damaged(name, folder, f"{META_FILE} is missing") from None
    except (OSError, ValueError) as exc:
        raise damaged(name, folder, f"{META_FILE} does not parse: {exc}") from exc
    if not isinstance(record, dict):
        raise damaged(name, folder, f"{META_FILE} is not a JSON object")
    dim, meta = record.get("dim"), record.get("meta", {})
    if not isinstance(dim, int) or dim <= 0 or not isinstance(meta, dict):
        raise damaged(name, folder, f"{META_FILE} lacks a valid 'dim' or 'meta'")
    return {"dim": dim, "meta": meta}


def way_out(name: str) -> str:
    return (
        f"Delete the collection (the delete_collection tool, or `groundmcp collections --delete "
        f"{name}`) and ingest again; other collections are not affected"
    )


def damaged(name: str, folder: Path, why: str) -> GroundError:
    return GroundError(f"collection {name!r} in {folder} is damaged ({why}). {way_out(name)}")


def read_collection_records(edge_dir: Path) -> list[dict[str, Any]]:
    """Each collection's record ({"name", "dim", "meta"}) read from its files, without opening the
    store (which another process may hold); a record that does not parse gives only the name."""
    rows = []
    for folder in sorted((edge_dir / "collections").glob("*")):
        if not folder.is_dir() or folder.name.startswith((TRASH_PREFIX, CREATING_PREFIX)):
            continue
        try:
            record = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            record = {}
        if not isinstance(record, dict):
            record = {}
        meta = record.get("meta") if isinstance(record.get("meta"), dict) else {}
        rows.append({"name": folder.name, "dim": record.get("dim"), "meta": meta})
    return rows
