"""Opening a file so that no symlink is followed on the way: open first, then verify what was opened.

Checking a path (``realpath``, ``is_relative_to``) and then opening it cannot be made safe: between
the two, any component can be swapped for a link out of the root. So ``open_regular`` never asks
about a path before opening it. It walks the path from ``/`` one component at a time with
``openat`` (``os.open(..., dir_fd=...)``) and ``O_NOFOLLOW``, so a component that is a symlink at
the moment it is opened fails the open (``ELOOP``/``ENOTDIR``) instead of being followed. Only then
does it look at what it holds: a regular file (``fstat`` on the descriptor, not the path), with the
device and inode the walk saw when the caller knows them (a file replaced after the walk is refused,
not read). ``O_NONBLOCK`` keeps a FIFO swapped in from hanging the open.

The paths given here are real paths (``os.path.realpath`` of a root joined with names the walk
listed), which hold no symlinks by construction; a link appearing in one later is an attack or a
change, and either way the answer is a refusal. Every ``OSError`` becomes ``Unsafe`` with a sentence
for a person.

Where the platform has no ``O_NOFOLLOW``/``dir_fd`` (Windows), the file is opened normally and
verified after the fact: its descriptor's device and inode must match a fresh ``lstat`` of the path
that is not a link, and the expected ones where given.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_HAS_OPENAT = os.open in os.supports_dir_fd and hasattr(os, "O_NOFOLLOW") and hasattr(os, "O_DIRECTORY")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
# Folders on the way are opened only to walk through them: O_PATH needs no read permission on them
# (a home folder at 0711 stays passable), just as resolving the path would.
_PATH = getattr(os, "O_PATH", os.O_RDONLY)


class Unsafe(Exception):
    """The file could not be opened without following a link, or is not the file expected.
    ``str()`` names the path; ``short`` says the same without it (for per-reason counts)."""

    def __init__(self, message: str, short: str | None = None) -> None:
        super().__init__(message)
        self.short = short or message


def open_regular(path: str | os.PathLike[str], expect: tuple[int, int] | None = None) -> int:
    """A read-only descriptor on the regular file at the absolute, symlink-free ``path``; Unsafe if
    any component is a symlink now, the file is not regular, or (with ``expect``) its
    ``(st_dev, st_ino)`` differ. The caller closes the descriptor."""
    path = os.fspath(path)
    if not os.path.isabs(path):
        raise Unsafe(f"{path!r} is not an absolute path")
    fd = _open_walk(path) if _HAS_OPENAT else _open_verified(path)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise Unsafe(f"{path} is not a regular file now", "not a regular file now")
        if expect is not None and (st.st_dev, st.st_ino) != expect:
            raise Unsafe(f"{path} was replaced by another file since it was listed", "replaced since it was listed")
        if _NONBLOCK and _HAS_OPENAT:
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_regular(path: str | os.PathLike[str], limit: int | None = None, expect: tuple[int, int] | None = None) -> bytes:
    """The bytes of the file ``open_regular`` opens: all of them, or at most ``limit + 1`` (so the
    caller can tell a file that grew past ``limit``)."""
    fd = open_regular(path, expect)
    try:
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read() if limit is None else fh.read(limit + 1)
    except OSError as exc:
        raise _unsafe(os.fspath(path), exc) from None
    finally:
        if fd >= 0:
            os.close(fd)


def _open_walk(path: str) -> int:
    parts = [p for p in Path(path).parts[1:]]
    if not parts or any(p in ("", ".", "..") for p in parts):
        raise Unsafe(f"{path!r} is not a plain absolute path")
    anchor = Path(path).anchor or "/"
    dir_flags = _PATH | _DIRECTORY | _NOFOLLOW | _CLOEXEC
    try:
        current = os.open(anchor, _PATH | _DIRECTORY | _CLOEXEC)
    except OSError as exc:
        raise _unsafe(anchor, exc) from None
    try:
        for depth, name in enumerate(parts):
            last = depth == len(parts) - 1
            flags = (os.O_RDONLY | _NOFOLLOW | _CLOEXEC | _NONBLOCK | _BINARY) if last else dir_flags
            try:
                nxt = os.open(name, flags, dir_fd=current)
            except OSError as exc:
                raise _unsafe(os.path.join(anchor, *parts[: depth + 1]), exc) from None
            os.close(current)
            current = nxt
        result, current = current, -1
        return result
    finally:
        if current >= 0:
            os.close(current)


def _open_verified(path: str) -> int:
    try:
        fd = os.open(path, os.O_RDONLY | _BINARY | _CLOEXEC)
    except OSError as exc:
        raise _unsafe(path, exc) from None
    try:
        opened = os.fstat(fd)
        listed = os.lstat(path)
        real = os.path.realpath(path)
    except OSError as exc:
        os.close(fd)
        raise _unsafe(path, exc) from None
    if stat.S_ISLNK(listed.st_mode) or (opened.st_dev, opened.st_ino) != (listed.st_dev, listed.st_ino) or (
        os.path.normcase(real) != os.path.normcase(path)
    ):
        os.close(fd)
        raise Unsafe(f"{path} is a symlink or was replaced while it was opened", "a symlink now")
    return fd


def _unsafe(path: str, exc: OSError) -> Unsafe:
    """A failed open in words: links are named as links, the rest by the OS's words."""
    if exc.errno in (errno.ELOOP, errno.EMLINK):
        short = "a symlink now; links are not followed when reading"
    elif exc.errno == errno.ENOTDIR:
        short = "a folder on its path is a symlink or a file now; links are not followed when reading"
    elif exc.errno in (errno.ENXIO, errno.EWOULDBLOCK):
        short = "not a regular file now"
    else:
        short = str(exc.strerror or exc)
    return Unsafe(f"{path}: {short}", short)
