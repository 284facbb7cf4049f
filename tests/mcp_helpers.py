"""Starting real groundmcp servers for the MCP tests: a subprocess over stdio or HTTP."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    return {**os.environ, "GROUNDMCP_DATA_DIR": str(data_dir), **extra}


def stdio_client(data_dir: Path, root: Path, **env: str) -> Client:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "groundmcp", "serve", "--root", str(root)],
        env=server_env(data_dir, **env),
    )
    return Client(params, read_timeout_seconds=120)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(proc: subprocess.Popen, port: int, what: str, timeout: float = 120.0) -> None:
    """Return once `proc` accepts connections on the loopback `port`; AssertionError (with its
    stderr) if it exits first or does not listen within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"{what} exited {proc.returncode}: {proc.stderr.read().decode()}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} did not start within {timeout:.0f} s")
        time.sleep(0.2)


def stop(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate `proc` (kill it if it lingers) and close its pipes."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


@contextlib.contextmanager
def http_server(data_dir: Path, root: Path, token: str | None = "s3cret", host: str = "127.0.0.1", **env: str):
    """A `groundmcp serve --http` subprocess; yields its /mcp URL once it accepts connections."""
    port = free_port()
    args = [sys.executable, "-m", "groundmcp", "serve", "--http", "--host", host, "--port", str(port), "--root", str(root)]
    if token:
        args += ["--token", token]
    proc = subprocess.Popen(args, env=server_env(data_dir, **env), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port, "server")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        stop(proc)


@contextlib.asynccontextmanager
async def http_client(url: str, token: str | None = "s3cret"):
    """A connected MCP client over Streamable HTTP sending the bearer token."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=120) as client:
            yield client
