"""Reading the files ``walk`` lists, and the checks that need their bytes.

``walk`` never opens a file it yields; reading, binary sniffing and UTF-8 decoding live here so the
caller decides when to pay.
"""

from __future__ import annotations

import os

from .ignore import BINARY_EXTENSIONS
from .nofollow import Unsafe, open_regular
from .walk import FileEntry, Skipped, too_large

# Binary formats that are wanted: the caller reads them with read_bytes and parses them itself.
BYTES_EXTENSIONS: frozenset[str] = frozenset({".pdf"})

SNIFF_BYTES = 8192  # a NUL byte in this many leading bytes marks a file as binary


def wants_bytes(path: str) -> bool:
    """True for wanted binary formats (PDF) that the caller should read with ``read_bytes``."""
    return os.path.splitext(path)[1].lower() in BYTES_EXTENSIONS


def is_binary(data: bytes) -> bool:
    """True when the leading bytes hold a NUL, which text in any 8-bit encoding or UTF-8 never does."""
    return b"\0" in data[:SNIFF_BYTES]


def read_bytes(entry: FileEntry, limit: int | None = None) -> bytes | Skipped:
    """The file's bytes, or a Skipped if it cannot be read, has grown past ``limit`` bytes, or is
    not the file the walk listed: a symlink now (anywhere on its path), or another file. It is
    opened without following links and checked after opening (nofollow.py), so a file swapped for
    a link out of the root between the walk and this read is refused, never read."""
    try:
        fd = open_regular(entry.abs_path, entry.ident)
    except Unsafe as exc:
        return Skipped(entry.path, f"unreadable: {exc.short}")
    try:
        with os.fdopen(fd, "rb") as fh:
            if limit is None:
                return fh.read()
            data = fh.read(limit + 1)
            if len(data) > limit:
                return Skipped(entry.path, too_large(limit, os.fstat(fh.fileno()).st_size))
            return data
    except OSError as exc:
        return Skipped(entry.path, f"unreadable: {exc.strerror or exc}")


def decode_text(data: bytes, path: str) -> str | Skipped:
    """UTF-8 text without its BOM, or a Skipped saying why the bytes are not text we can use."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Skipped(path, "not UTF-8 text")  # UTF-16: NULs everywhere, but not binary
    if is_binary(data):
        return Skipped(path, "binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(path, "not UTF-8 text")


def read_text(entry: FileEntry, limit: int | None = None) -> str | Skipped:
    """The file as text, or a Skipped: binary by extension (PDF included) or content, not UTF-8,
    unreadable, or grown past ``limit``."""
    ext = os.path.splitext(entry.path)[1].lower()
    if ext in BINARY_EXTENSIONS or ext in BYTES_EXTENSIONS:
        return Skipped(entry.path, "binary file")
    data = read_bytes(entry, limit)
    return data if isinstance(data, Skipped) else decode_text(data, entry.path)
