"""Where the owner's files live in a data dir, and the permissions that keep them to one user."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..store.edge_layout import EDGE_SUBDIR, PROCESS_LOCK

SOCKET_NAME = "owner.sock"
LANE_NAME = "owner.lane"  # a Unix owner's MCP sessions as lines, one per connection (owner/lane_server.py)
ENDPOINT_NAME = "owner.endpoint"  # a loopback owner's port, token and pid (owner/endpoint.py)
LOCK_NAME = "owner.lock"  # held by the owner for its life; holds its pid
START_NAME = "owner.start"  # held by a client while it starts an owner and waits for it
LOG_NAME = "owner.log"
MAX_SOCKET_PATH = 107  # sun_path is 108 bytes on Linux, NUL included


@dataclass(frozen=True, slots=True)
class OwnerPaths:
    data_dir: Path

    @property
    def socket(self) -> Path:
        return self.data_dir / SOCKET_NAME

    @property
    def lane_socket(self) -> Path:  # as long a name as `socket`'s: where one fits, both do
        return self.data_dir / LANE_NAME

    @property
    def endpoint(self) -> Path:
        return self.data_dir / ENDPOINT_NAME

    @property
    def lock(self) -> Path:
        return self.data_dir / LOCK_NAME

    @property
    def start(self) -> Path:
        return self.data_dir / START_NAME

    @property
    def log(self) -> Path:
        return self.data_dir / LOG_NAME

    @property
    def store_lock(self) -> Path:
        return self.data_dir / EDGE_SUBDIR / PROCESS_LOCK  # the embedded store's own process lock

    def socket_fits(self) -> bool:
        """Whether a socket can be bound at this path (sun_path is short)."""
        return len(os.fsencode(self.socket)) <= MAX_SOCKET_PATH

    def usable(self) -> bool:
        """Whether an owner can serve this data dir over the configured transport: always, unless
        GROUNDMCP_OWNER_TRANSPORT asks for what cannot be had (owner/endpoint.py transport_for)."""
        from .endpoint import configured_transport

        try:
            configured_transport(self)
        except ValueError:
            return False
        return True


def private_dir(path: Path) -> None:
    """Create `path` (and parents) if needed, and make it 0700: the socket inside is reachable
    only through it."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if path.stat().st_mode & 0o777 != 0o700:
        os.chmod(path, 0o700)


def try_lock(path: Path) -> TextIO | None:
    """`path` opened and flocked exclusively, or None when another process holds it."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while held
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        return None
    return handle


def wait_lock(path: Path) -> TextIO:
    """`path` opened and flocked exclusively, waiting for any holder."""
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - kept open while held
    fcntl.flock(handle, fcntl.LOCK_EX)
    return handle


def unlock(handle: TextIO) -> None:
    fcntl.flock(handle, fcntl.LOCK_UN)
    handle.close()


def is_held(path: Path) -> bool:
    """Whether some process holds the flock on `path` (probed by taking it for an instant)."""
    if not path.exists():
        return False
    handle = try_lock(path)
    if handle is None:
        return True
    unlock(handle)
    return False


# What an owner and its clients must agree on: the tools' arguments and results as the CLI and the
# bridges read them. Bump it when a change there would leave an owner started by the previous
# release answering in a shape this release's clients do not understand (an upgrade in place leaves
# the running owner on the old code until it exits). Owners that wrote none are protocol 1.
# 2: symbol_neighbours' callers carry resolution and top, and it counts calls resolved elsewhere.
# 3: the MCP app is served at /mcp-json too (endpoint.py JSON_PATH), which a bridge uses for requests
#    that want no progress; an older owner would answer it 404, so it is replaced.
OWNER_PROTOCOL = 3


def write_pid(handle: TextIO, models: Sequence[str] = ()) -> None:
    """Write this process's pid, then (one JSON line) the model names it serves under and its
    OWNER_PROTOCOL: a client that asks for another model is told so rather than served by the
    wrong encoder, and one of another protocol does not read answers it cannot understand."""
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n{json.dumps({'models': list(models), 'protocol': OWNER_PROTOCOL})}\n")
    handle.flush()


def read_pid(path: Path) -> int | None:
    with contextlib.suppress(OSError, ValueError, IndexError):
        return int(path.read_text(encoding="utf-8").splitlines()[0].strip())
    return None


@dataclass(frozen=True, slots=True)
class OwnerMeta:
    """What an owner writes in its lock file after its pid (write_pid)."""

    models: list[str]  # the model names it serves under
    protocol: int  # its OWNER_PROTOCOL (1 for an owner that wrote none)


def read_meta(path: Path) -> OwnerMeta | None:
    """What the owner holding `path` says of itself; None when the lock file cannot be read."""
    with contextlib.suppress(OSError, ValueError, IndexError, AttributeError, TypeError):
        info = json.loads(path.read_text(encoding="utf-8").splitlines()[1])
        return OwnerMeta(list(info.get("models") or []), int(info.get("protocol") or 1))
    return None


def read_models(path: Path) -> list[str]:
    """The model names the owner holding `path` serves under; [] when it does not say."""
    meta = read_meta(path)
    return meta.models if meta is not None else []


def bind_private(path: Path) -> socket.socket:
    """A listening Unix socket at `path`, 0600 from the moment it exists (umask 077 around the
    bind, then chmod). A file already there is a dead owner's (the caller holds the owner lock)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o077)
    try:
        sock.bind(os.fspath(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(128)
    sock.set_inheritable(False)
    return sock


def accepts(path: Path) -> bool:
    """Whether something listens on the socket at `path` now."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(1.0)
    try:
        sock.connect(os.fspath(path))
    except OSError:
        return False
    finally:
        sock.close()
    return True
