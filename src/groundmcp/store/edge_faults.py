"""How the embedded store meets failures: the engine's errors and panics, damaged files, full
disks and unwritable folders. Each becomes a GroundError that names the collection and the way out.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Sequence
from pathlib import Path

import qdrant_edge as qe

from groundmcp.errors import GroundError
from groundmcp.store.base import PointData
from groundmcp.store.edge_layout import SHARD_DIR, damaged, way_out

# Edge maps its files into memory. On a full disk a write through such a mapping is a SIGBUS that
# kills the process, not an error, so writes are refused while the disk has less free than this
# (about what an empty collection takes: two 32 MB log segments and the first storage pages).
MIN_FREE_BYTES = 96 * 2**20
# Opening a shard fills in the unwritten parts (holes) of its dense vectors' preallocated 32 MB
# chunk files through the same maps (qdrant-edge 0.9: the first open after they were written);
# opening needs that much free, plus this.
OPEN_SLACK_BYTES = 8 * 2**20


def unreadable(name: str, folder: Path, why: str) -> GroundError:
    return GroundError(
        f"collection {name!r} in {folder} could not be read ({why}); its files are probably "
        f"damaged. {way_out(name)}"
    )


def write_failed(name: str, folder: Path, why: str) -> GroundError:
    return GroundError(
        f"could not write to collection {name!r} in {folder} ({why}). The disk may be full or "
        "the data directory read-only: free space or fix its permissions, then run the ingest "
        "again. Searches keep seeing every file whole, as before or as after; the next ingest "
        "drops what this one left unpublished"
    )


def cannot_open(name: str, folder: Path, why: str) -> GroundError:
    return GroundError(
        f"collection {name!r} in {folder} cannot be opened ({why}). Free space on that disk or "
        "fix the data directory's permissions, then try again. The collection is not damaged: do "
        "not delete it"
    )


# Errors that say the disk or the folder refuses writes, not that the data is bad.
_WRITE_REFUSED = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM}


def refused_write(why: str) -> bool:
    """Whether an engine error message reports an OS error of the write-refused kind."""
    return any(int(n) in _WRITE_REFUSED for n in re.findall(r"\(os error (\d+)\)", why))


def unusable_dir(path: Path, exc: OSError) -> GroundError:
    where = exc.filename or path
    return GroundError(
        f"cannot use the data directory {path}: {exc.strerror or exc} ({where}). groundmcp keeps its "
        "index there and needs to write to it: fix its permissions or free space, or point "
        "GROUNDMCP_DATA_DIR (--data-dir) at another folder"
    )


def ensure_space(name: str, folder: Path, on: Path, extra: int = 0) -> None:
    """write_failed unless the disk holding `on` has MIN_FREE_BYTES + `extra` free."""
    free, need = _free_bytes(on), MIN_FREE_BYTES + extra
    if free is not None and free < need:
        raise write_failed(
            name,
            folder,
            f"only {free / 2**20:.0f} MB free on its disk, and writing needs at least "
            f"{need / 2**20:.0f} MB: the store maps its files into memory, where a full disk would "
            "crash the process instead of failing the write",
        )


def _free_bytes(path: Path) -> int | None:
    """Bytes free to this user on the disk holding `path`; None when it cannot be told (then the
    write itself will say what is wrong)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    return st.f_bavail * st.f_frsize


def estimate_bytes(points: Sequence[PointData]) -> int:
    """About what `points` take on disk, written twice (log and segment), with slack."""
    size = sum(len(p.dense) * 4 + len(p.sparse.indices) * 8 + len(str(p.payload)) for p in points)
    return 3 * size


def ensure_space_to_open(name: str, folder: Path) -> None:
    """cannot_open unless the disk can take the holes that opening fills in."""
    holes = 0
    with contextlib.suppress(OSError):
        for chunk in (folder / SHARD_DIR / "segments").glob("*/vector_storage-*/vectors/chunk_*.mmap"):
            st = chunk.stat()
            holes += max(0, st.st_size - st.st_blocks * 512)
    free, need = _free_bytes(folder), holes + OPEN_SLACK_BYTES
    if free is not None and free < need:
        raise cannot_open(
            name,
            folder,
            f"only {free / 2**20:.0f} MB free on its disk, and opening it needs about "
            f"{need / 2**20:.0f} MB: the engine fills in its vector files through memory maps, "
            "where a full disk would crash the process",
        )


def load_shard(name: str, folder: Path) -> qe.EdgeShard:
    ensure_space_to_open(name, folder)
    try:
        return qe.EdgeShard.load(str(folder / SHARD_DIR))
    except BaseException as exc:  # bare Exception, or a Rust panic on bad files
        reraise_interrupts(exc)
        why = detail(exc)
        if refused_write(why):  # opening replays the log and saves state: it needs to write
            raise cannot_open(name, folder, f"the store could not write to its folder: {why}") from exc
        raise damaged(name, folder, f"its shard does not open: {why}") from exc


def close_quietly(shard: qe.EdgeShard) -> None:
    try:
        shard.close()
    except BaseException as exc:  # also Rust panics
        reraise_interrupts(exc)


def reraise_interrupts(exc: BaseException) -> None:
    """Ctrl-C and exits pass through; everything else the engine raises is handled."""
    if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
        raise exc


def detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.replace("Service runtime error: ", "")
    return text if len(text) <= 500 else f"{text[:200]} ... {text[-300:]}"  # the OS error ends it


def probe_writable(folder: Path) -> None:
    """Raise OSError unless a file can be created in `folder` (a read-only data directory would
    otherwise fail later, in the middle of an ingest)."""
    probe = folder / f".probe-{os.getpid()}"
    probe.write_bytes(b"")
    probe.unlink()


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
