"""Giving the memory of a large encode back to the operating system.

A batch of 32 passages of 256 tokens makes activations of tens of MB in every layer, allocated and
freed batch after batch, in shapes that change with every batch (batches are length-sorted). glibc's
malloc serves blocks that large from mmap at first, but each free of one raises its mmap threshold
(up to 32 MB), so later ones come from the heap, where freed holes of many sizes stay resident: a
server that had ingested 4,741 passages kept about 0.8 GB more than it used, for good
(docs/benchmarks.md, "Resident memory"). Two calls bound it, both glibc-only and skipped elsewhere:

- `keep_large_blocks_mapped`, once at encoder load: a fixed mmap threshold, so every block of at
  least that size is mapped on allocation and unmapped on free instead of fragmenting the heap;
- `release_freed_memory` after each batch encode: `malloc_trim(0)` hands back free pages
  of every arena (the per-thread heaps of the tool and encoder threads included).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import sys

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # mallopt parameter numbers, from glibc's malloc.h
MMAP_THRESHOLD_BYTES = 1 << 20
"""Blocks of at least this size are mmapped: activations (a 32 x 256 x 384 float32 tensor is 12 MB),
not the many small objects of Python and the tokenizer, which the heap serves faster."""


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library where it is glibc (it has malloc_trim and mallopt); None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not (hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt")):
        return None  # musl and others
    libc.malloc_trim.argtypes = [ctypes.c_size_t]
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return libc


def allocator_tunable() -> bool:
    """True where the calls below do something (Linux with glibc)."""
    return _glibc() is not None


def keep_large_blocks_mapped(threshold: int = MMAP_THRESHOLD_BYTES) -> bool:
    """Fix glibc's mmap threshold at `threshold` bytes for this process; False where not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    ok = bool(libc.mallopt(M_MMAP_THRESHOLD, threshold))
    if not ok:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", threshold)
    return ok


def release_freed_memory() -> bool:
    """Return free heap pages to the OS (`malloc_trim(0)`); False where not glibc."""
    libc = _glibc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True
