"""A client of a data dir's owner: find its endpoint (owner/endpoint.py: the Unix socket, or
loopback with a token), or start it and wait; then talk MCP.

Nothing here imports the engine's heavy parts (torch, sentence-transformers): a CLI command that
goes through the owner pays for a process start, the MCP client and one local round trip.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from .endpoint import Endpoint, configured_transport, live
from .paths import OWNER_PROTOCOL, OwnerPaths, is_held, private_dir, read_meta, read_models, read_pid, unlock, wait_lock

T = TypeVar("T")

START_TIMEOUT_S = 120.0  # an owner's start: imports and opening the store (not the model)
CALL_TIMEOUT_S = 600.0  # one request: the first search waits for the model to load
MAX_STARTS = 3  # owners started by one client before it gives up (each lost an election)
MAX_LOG_BYTES = 1_000_000  # the owner's log is renamed to owner.log.1 past this, at a start


class OwnerUnavailable(Exception):
    """No owner could be reached or started; the message says why (the caller falls back)."""


class OwnerGone(OwnerUnavailable):
    """The endpoint refused the connection: the owner exited (idle) after it was found live. No
    request reached it, so the caller may start another and try again."""


class ToolFailed(Exception):
    """The owner answered with a tool error: its message, for the person who asked."""


class ModelMismatch(ToolFailed):
    """The running owner serves another model than this command asks for."""


class OwnerTooNew(ToolFailed):
    """The running owner was started by a newer groundmcp than this command's."""


class OwnerClient:
    """The owner of `data_dir`, started when needed with `launch` (the command that runs
    `groundmcp owner` with this invocation's settings)."""

    def __init__(
        self, data_dir: Path, launch: Sequence[str], *, model: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        self.paths = OwnerPaths(Path(data_dir).expanduser())
        self.launch = list(launch)
        self.model = model  # the model this command asks for (as launch_model gives it); None: any
        self.headers = dict(headers or {})  # sent with every request (a bridge's grant)
        self.endpoint: Endpoint | None = None  # the owner's, as `ensure` last found it accepting

    def ensure(self, timeout: float = START_TIMEOUT_S) -> Endpoint:
        """The endpoint of an owner that accepts now; one is started if none runs. OwnerUnavailable
        when none can be had (another process holds the store, the owner fails to start, ...).
        The endpoint is found afresh each time (a loopback owner's token is trusted only while its
        owner holds the lock: owner/endpoint.py), and kept for the `session` that follows."""
        found = self._current(live(self.paths))
        if found is None:
            try:
                configured_transport(self.paths)  # what an owner started now would serve
            except ValueError as exc:
                raise OwnerUnavailable(str(exc)) from None
            private_dir(self.paths.data_dir)
            gate = wait_lock(self.paths.start)  # one client starts an owner; the others wait here
            try:
                found = self._start_and_wait(timeout)
            finally:
                unlock(gate)
        self.endpoint = found
        self._check_model()
        return found

    def _current(self, found: Endpoint | None) -> Endpoint | None:
        """`found`, unless its owner speaks an older OWNER_PROTOCOL (it was started before an
        upgrade): that one is stopped, as `groundmcp owner --stop` does, and None returned so a
        current one is started. OwnerTooNew for a newer owner: this command is the old one."""
        if found is None:
            return None
        meta = read_meta(self.paths.lock)
        if meta is None or meta.protocol == OWNER_PROTOCOL:
            return found
        theirs = meta.protocol
        pid = read_pid(self.paths.lock)
        if theirs > OWNER_PROTOCOL:
            raise OwnerTooNew(
                f"the index owner of {self.paths.data_dir} (pid {pid}) was started by a newer groundmcp "
                f"(owner protocol {theirs}; this one speaks {OWNER_PROTOCOL}). Run this command with the "
                "same groundmcp install as the other clients of this data dir, or use another --data-dir"
            )
        from .daemon import stop_owner

        print(
            f"groundmcp: stopping the index owner (pid {pid}) started by an older groundmcp "
            f"(owner protocol {theirs}); a current one takes over",
            file=sys.stderr,
        )
        stop_owner(self.paths.data_dir)
        return live(self.paths)

    def _check_model(self) -> None:
        served = read_models(self.paths.lock)
        if self.model is None or not served or self.model in served:
            return
        pid = read_pid(self.paths.lock)
        raise ModelMismatch(
            f"the index owner of {self.paths.data_dir} (pid {pid}) serves model {served[0]!r}, and this "
            f"asks for {self.model!r}. Use the same model (--model or GROUNDMCP_MODEL) as the other "
            "clients of this data dir, or stop the owner first (`groundmcp owner --stop`), or use "
            "another --data-dir"
        )

    def _start_and_wait(self, timeout: float) -> Endpoint:
        deadline = time.monotonic() + timeout
        child: subprocess.Popen | None = None
        starts = 0
        while time.monotonic() < deadline:
            found = live(self.paths)
            if found is not None:
                return found
            if child is not None and child.poll() not in (None, 0):
                raise OwnerUnavailable(f"the owner failed to start: {self._log_tail()}")
            if (child is None or child.poll() is not None) and not is_held(self.paths.lock):
                # No owner (a dead one leaves its endpoint file, never its lock), or ours lost a race
                # to one that has exited since.
                if starts == 0 and is_held(self.paths.store_lock):
                    raise OwnerUnavailable(
                        f"another groundmcp process (not an owner) holds the store in {self.paths.data_dir}"
                    )
                if starts >= MAX_STARTS:
                    raise OwnerUnavailable(f"started {starts} owners and none stayed: {self._log_tail()}")
                child = self._spawn()
                starts += 1
            time.sleep(0.02)
        raise OwnerUnavailable(f"no owner of {self.paths.data_dir} accepted within {timeout:g} s: {self._log_tail()}")

    def _spawn(self) -> subprocess.Popen:
        """`groundmcp owner` detached: its own session, stdin from /dev/null, output to the log
        in the data dir (never this process's stdout, which carries results)."""
        with contextlib.suppress(OSError):
            if self.paths.log.stat().st_size > MAX_LOG_BYTES:
                os.replace(self.paths.log, self.paths.log.with_name(self.paths.log.name + ".1"))
        fd = os.open(self.paths.log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            return subprocess.Popen(
                self.launch,
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                start_new_session=True,
                close_fds=True,
                cwd="/",
            )
        finally:
            os.close(fd)

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            lines = [ln for ln in self.paths.log.read_text(encoding="utf-8", errors="replace").splitlines() if ln.strip()]
            if lines:
                return f"{lines[-1].strip()} (see {self.paths.log})"
        return f"see {self.paths.log}"

    def call(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """`work(client)` with an MCP session on the owner, started if none runs. The MCP client
        is imported first (a second or more), so the owner found live is used at once; one that
        exits idle in between is replaced once. OwnerUnavailable when none can be had; ToolFailed
        when the tool answers with an error."""
        import httpx2  # noqa: F401 - imported before the owner is found, as said above
        import mcp.client.streamable_http  # noqa: F401

        try:
            self.ensure()
            return self.session(work)
        except OwnerGone:
            self.ensure()
            return self.session(work)

    def http_client(self, endpoint: Endpoint, headers: dict[str, str] | None = None, transport=None):
        """An httpx2 client of the owner at `endpoint`, sending its token (loopback) and `headers`
        (else this client's own) with every request, over `transport` (else the endpoint's own).
        Proxies from the environment are not used: the token goes to the owner's port and
        nowhere else."""
        import httpx2

        return httpx2.AsyncClient(
            transport=transport if transport is not None else endpoint.async_transport(),
            timeout=httpx2.Timeout(30.0, read=CALL_TIMEOUT_S),
            headers={**endpoint.headers(), **(self.headers if headers is None else headers)},
            trust_env=False,
        )

    def session(self, work: Callable[[Any], Awaitable[T]]) -> T:
        """Run `work(client)` with an MCP client session on the endpoint `ensure` found. OwnerGone
        when it refuses the connection, OwnerUnavailable for any other transport failure."""
        import anyio
        import httpx2
        from mcp import Client
        from mcp.client.streamable_http import streamable_http_client

        endpoint = self.endpoint
        if endpoint is None:
            raise OwnerUnavailable("no owner endpoint yet: call ensure() first")

        async def main() -> T:
            async with self.http_client(endpoint) as http:
                async with Client(streamable_http_client(endpoint.url, http_client=http)) as client:
                    return await work(client)

        try:
            return anyio.run(main)
        except Exception as exc:  # noqa: BLE001 - transport failures of every kind mean: fall back
            cause = _leaf(exc)
            if isinstance(cause, (ToolFailed, OwnerUnavailable)):
                raise cause from None
            gone = isinstance(cause, httpx2.ConnectError)
            raise (OwnerGone if gone else OwnerUnavailable)(
                f"lost the owner on {endpoint}: {type(cause).__name__}: {cause}"
            ) from exc


def _leaf(exc: BaseException) -> BaseException:
    """Our own error inside exception groups (anyio task groups wrap what is raised in them),
    else the first leaf."""
    if not isinstance(exc, BaseExceptionGroup):
        return exc
    leaves = [_leaf(e) for e in exc.exceptions]
    ours = [e for e in leaves if isinstance(e, (ToolFailed, OwnerUnavailable))]
    return (ours or leaves or [exc])[0]


async def call_tool(client, name: str, arguments: dict[str, Any], progress=None) -> dict[str, Any]:
    """The tool's structured result; ToolFailed with its message when it returns an error.
    `progress(done, total, message)` receives the tool's progress notifications."""
    result = await client.call_tool(name, arguments, progress_callback=progress)
    if result.is_error:
        text = " ".join(c.text for c in result.content if getattr(c, "text", None))
        raise ToolFailed(text.removeprefix(f"Error executing tool {name}: ") or f"the {name} tool failed")
    if result.structured_content is None:
        raise OwnerUnavailable(f"the owner's {name} tool returned no structured result")
    return result.structured_content


def launch_model(model: str) -> str:
    """The model as the owner is launched with it: a local path made absolute (the owner runs in /)."""
    if Path(model).expanduser().exists():
        return os.fspath(Path(model).expanduser().resolve())
    return model


def launch_command(data_dir: Path, model: str, device: str) -> list[str]:
    """`python -m groundmcp --data-dir D --model M --device X owner`: this invocation's settings
    (environment and flags), with the data dir and a model given as a local path made absolute,
    since the owner runs in /. Other settings reach it through the inherited environment."""
    data = os.fspath(Path(data_dir).expanduser().resolve())
    return [sys.executable, "-m", "groundmcp", "--data-dir", data, "--model", launch_model(model), "--device", device, "owner"]


def owner_client(data_dir: Path, model: str, device: str, headers: dict[str, str] | None = None) -> OwnerClient:
    """The client of `data_dir`'s owner for a command with these settings."""
    return OwnerClient(data_dir, launch_command(data_dir, model, device), model=launch_model(model), headers=headers)
