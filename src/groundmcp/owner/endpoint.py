"""Where clients reach a data dir's owner: an endpoint that only the same user can open.

Two transports, one chosen by the owner when it starts (GROUNDMCP_OWNER_TRANSPORT, `transport_for`);
clients follow whichever the running owner serves, whatever they would have chosen:
- unix (auto, where `socket.AF_UNIX` exists and the path fits in sun_path): `owner.sock`, 0600 in
  the 0700 data dir. Only the same user can connect, which is the whole authentication.
- loopback (auto on Windows or for a data dir path too long for a socket; forced with
  GROUNDMCP_OWNER_TRANSPORT=loopback): the owner listens on 127.0.0.1, a port the system picks, and
  only once it listens writes `owner.endpoint`, JSON {port, token, pid}: created 0600 under a
  temporary name with O_CREAT|O_EXCL (so it never exists with wider permissions, nor through a
  planted link), then renamed over the old one (os.replace: a reader sees the old file or the new,
  never half of one). Any local process can connect to the port, so every request must bear
  `Authorization: Bearer <token>` (server/auth.py OwnerToken: 401 otherwise, compared in constant
  time); the file, hence the token, is the user's alone. On Windows the POSIX modes mean little: the
  data dir lives under the user's profile, whose ACL admits that user (and the system's
  administrators) only, and that is what keeps the file private there.

What a client trusts: the endpoint file only while the owner lock is held, the lock's pid is the
file's pid, and that process is alive; on POSIX also only if this user owns the file and no one else
may read it. A killed owner's file stays behind (the kernel frees the lock, not the file) and its
port may since belong to another program, which must never receive the token: `read_endpoint`
refuses it before any byte is sent, and the next owner removes it (`clear_stale`) right after it
takes the lock, before it writes its pid there. The owner removes its file (or socket) before it
closes the listening socket, and both before it lets the lock go.

This module imports only the standard library: the CLI's fast path (quick.py) uses it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import stat
import sys
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path

from .paths import OwnerPaths, accepts, bind_private, is_held, read_pid

TRANSPORT_ENV = "GROUNDMCP_OWNER_TRANSPORT"
TRANSPORTS = ("auto", "unix", "loopback")
HOST = "127.0.0.1"
HAS_UNIX = hasattr(socket, "AF_UNIX")
PROBE_TIMEOUT_S = 1.0
MCP_PATH = "/mcp"  # the MCP app, answering each request as an SSE stream (progress travels on it)
JSON_PATH = "/mcp-json"  # the same app answering each request as one JSON body: no progress, ~5 ms less a call


def transport_for(paths: OwnerPaths, setting: str = "auto") -> str:
    """'unix' or 'loopback': what an owner of `paths` started with `setting` serves. ValueError, saying
    what to change, for a setting this system or this data dir path cannot serve."""
    if setting == "loopback":
        return "loopback"
    if setting == "unix":
        if not HAS_UNIX:
            raise ValueError(
                f"{TRANSPORT_ENV}=unix, but this system has no Unix sockets: set it to auto or loopback"
            )
        if not paths.socket_fits():
            raise ValueError(
                f"the data dir path is too long for a Unix socket ({paths.socket}): use a shorter "
                f"--data-dir (GROUNDMCP_DATA_DIR), or set {TRANSPORT_ENV}=auto to use loopback"
            )
        return "unix"
    if setting != "auto":
        raise ValueError(f"{TRANSPORT_ENV} is {setting!r}: use one of {', '.join(TRANSPORTS)}")
    return "unix" if HAS_UNIX and paths.socket_fits() else "loopback"


def configured_transport(paths: OwnerPaths) -> str:
    """The transport of an owner this process would start: the environment's setting, which the
    owner inherits (owner/client.py launch_command)."""
    return transport_for(paths, os.environ.get(TRANSPORT_ENV, "auto").strip().lower() or "auto")


class _UnixConnection(HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


class _Routes:
    """The owner's two MCP routes under an endpoint's `base` URL."""

    __slots__ = ()
    base: str

    @property
    def url(self) -> str:
        return self.base + MCP_PATH

    @property
    def json_url(self) -> str:
        return self.base + JSON_PATH


@dataclass(frozen=True, slots=True)
class UnixEndpoint(_Routes):
    """The owner's Unix socket: private by its permissions, so requests carry no token."""

    path: Path
    kind = "unix"
    base = "http://localhost"  # the host is for the HTTP layer only; the socket decides where

    def accepts(self) -> bool:
        return accepts(self.path)

    def headers(self) -> dict[str, str]:
        return {}

    def connection(self, timeout: float) -> HTTPConnection:
        """A standard-library HTTP connection (quick.py)."""
        return _UnixConnection(os.fspath(self.path), timeout)

    def async_transport(self):
        """The httpx2 transport of a client of this endpoint (owner/client.py, owner/sessions.py).
        Plain HTTP, so no TLS context (verify=False): building the default one loads the CA
        bundle, tens of milliseconds a client."""
        import httpx2

        return httpx2.AsyncHTTPTransport(uds=os.fspath(self.path), verify=False)

    def describe(self) -> dict:
        return {"transport": self.kind, "socket": os.fspath(self.path)}

    def __str__(self) -> str:
        return os.fspath(self.path)


@dataclass(frozen=True, slots=True)
class LoopbackEndpoint(_Routes):
    """A loopback owner's port and token, as a trusted endpoint file gave them (`read_endpoint`)."""

    port: int
    token: str = field(repr=False)
    pid: int
    kind = "loopback"

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def accepts(self) -> bool:
        """Whether something listens on the port now (a connection only: nothing is sent)."""
        try:
            socket.create_connection((HOST, self.port), timeout=PROBE_TIMEOUT_S).close()
        except OSError:
            return False
        return True

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def connection(self, timeout: float) -> HTTPConnection:
        return HTTPConnection(HOST, self.port, timeout=timeout)

    def async_transport(self):
        import httpx2

        return httpx2.AsyncHTTPTransport(trust_env=False, verify=False)  # plain HTTP: no TLS context

    def still_published(self, paths: OwnerPaths) -> bool:
        """Whether the running owner still publishes this port and token (`read_endpoint`'s checks:
        its lock held, its pid alive); nothing is sent to the port."""
        return read_endpoint(paths) == self

    def describe(self) -> dict:
        return {"transport": self.kind, "host": HOST, "port": self.port, "pid": self.pid}  # never the token

    def __str__(self) -> str:
        return f"{HOST}:{self.port}"


Endpoint = UnixEndpoint | LoopbackEndpoint


def read_endpoint(paths: OwnerPaths) -> LoopbackEndpoint | None:
    """The loopback endpoint the running owner published, or None: no file, a malformed one, or one
    the running owner did not write (see the module's docstring). Nothing is sent to the port."""
    try:
        st = os.stat(paths.endpoint)
        data = json.loads(paths.endpoint.read_text(encoding="utf-8"))
        port, token, pid = int(data["port"]), str(data["token"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not (0 < port < 65536 and token and pid > 0) or not _private(st):
        return None
    if pid != read_pid(paths.lock) or not _alive(pid) or not is_held(paths.lock):
        return None  # a dead owner's file; the lock probe last, as it briefly takes the lock
    return LoopbackEndpoint(port, token, pid)


def published(paths: OwnerPaths) -> Endpoint | None:
    """The endpoint the running owner serves, as its files say (not probed): its trusted endpoint
    file, else its socket file where the system has them, else None."""
    found = read_endpoint(paths)
    if found is not None:
        return found
    if HAS_UNIX and paths.socket.exists():
        return UnixEndpoint(paths.socket)
    return None


def live(paths: OwnerPaths) -> Endpoint | None:
    """The running owner's endpoint if it accepts connections now, else None."""
    found = published(paths)
    return found if found is not None and found.accepts() else None


def _private(st: os.stat_result) -> bool:
    """Whether a file is this user's alone (POSIX: owned by us, no access for group or others)."""
    if sys.platform == "win32":
        return True  # the profile's ACL, not the mode, keeps it private (see the module's docstring)
    return stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def _alive(pid: int) -> bool:
    if sys.platform == "win32":
        return True  # os.kill(pid, 0) would terminate it there; the lock check stands alone
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_endpoint(path: Path, port: int, token: str, pid: int | None = None) -> None:
    """Publish {port, token, pid} at `path`: a new 0600 file renamed over any old one."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()  # our own leftover (the pid is ours)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"port": port, "token": token, "pid": os.getpid() if pid is None else pid}, out)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def clear_stale(paths: OwnerPaths) -> None:
    """Remove a dead owner's endpoint file and socket. Only the owner lock's holder calls this."""
    for stale in (paths.endpoint, paths.socket, paths.lane_socket):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


class Listener:
    """The owner's end of the endpoint: opened by the owner lock's holder once its store is open,
    closed (the file first, so no client finds a closing owner) before it lets the lock go."""

    def __init__(self, paths: OwnerPaths, transport: str) -> None:
        if transport not in ("unix", "loopback"):
            raise ValueError(f"not a transport: {transport!r}")
        self.paths, self.transport = paths, transport
        # The token every request to a loopback owner must bear (server/auth.py OwnerToken).
        self.token = secrets.token_urlsafe(32) if transport == "loopback" else None
        self.sock: socket.socket | None = None
        self.lane: socket.socket | None = None  # unix: the lane socket (owner/lane_server.py)
        self.endpoint: Endpoint | None = None

    def open(self) -> socket.socket:
        """A listening socket; for loopback, published in the endpoint file once it listens. A
        Unix owner opens its lane socket first, so a client that finds the owner finds both."""
        if self.transport == "unix":
            self.lane = bind_private(self.paths.lane_socket)
            self.sock = bind_private(self.paths.socket)
            self.endpoint = UnixEndpoint(self.paths.socket)
            return self.sock
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((HOST, 0))
            sock.listen(128)
            sock.set_inheritable(False)
            port = sock.getsockname()[1]
            write_endpoint(self.paths.endpoint, port, self.token)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        self.endpoint = LoopbackEndpoint(port, self.token, os.getpid())
        return sock

    def close(self) -> None:
        """Remove the published file (ours: no other process writes it while we hold the lock),
        then close the socket."""
        published = (self.paths.socket, self.paths.lane_socket) if self.transport == "unix" else (self.paths.endpoint,)
        for path in published:
            with contextlib.suppress(OSError):
                path.unlink()
        for sock in (self.sock, self.lane):
            if sock is not None:
                sock.close()
        self.sock = self.lane = None
