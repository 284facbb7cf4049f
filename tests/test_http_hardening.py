"""The HTTP server against slow clients (slowloris heads, trickled bodies) and bare loopback hosts,
all on one real `groundmcp serve --http` subprocess with short timeouts."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import httpx2
import pytest

from .mcp_helpers import free_port, http_client, server_env, stop, wait_for_port

pytestmark = pytest.mark.anyio

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_CONNECTIONS = 150
SLOW_SOCKETS = 300
TOKEN = "s3cret"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(url, pid) of a server with short read deadlines and a small connection cap."""
    tmp = tmp_path_factory.mktemp("hardening")
    port = free_port()
    env = server_env(
        tmp / "data",
        GROUNDMCP_HTTP_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT),
        GROUNDMCP_HTTP_BODY_TIMEOUT_S=str(BODY_TIMEOUT),
        GROUNDMCP_HTTP_MAX_CONNECTIONS=str(MAX_CONNECTIONS),
    )
    args = [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--token", TOKEN,
            "--root", str(tmp)]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port, "server")
        yield f"http://127.0.0.1:{port}/mcp", proc.pid
    finally:
        stop(proc)


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def slowloris(port: int, start: float, opened: list[float], held: list[float]) -> None:
    """Send a request head one byte every 0.2 s, never finishing it; note when the connection
    opened and how long it was held until the server hung up."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    now = time.monotonic()
    opened.append(now - start)
    head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: " + b"a" * 10_000
    try:
        for byte in head:
            writer.write(bytes([byte]))
            try:
                if await asyncio.wait_for(reader.read(1024), 0.2) == b"":
                    break
            except TimeoutError:
                continue
        held.append(time.monotonic() - now)
    except ConnectionError:
        held.append(time.monotonic() - now)
    finally:
        writer.close()


async def timed_call(url: str) -> float:
    """Seconds for a fresh MCP client to connect and call a tool."""
    start = time.monotonic()
    async with http_client(url, token=TOKEN) as client:
        assert not (await client.call_tool("list_collections", {})).is_error
    return time.monotonic() - start


async def test_slowloris_is_cut_off_and_others_are_served(server):
    url, pid = server
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    await timed_call(url)  # warm: the first call opens the store
    quiet = await timed_call(url)
    baseline = open_fds(pid)
    start = time.monotonic()
    opened: list[float] = []
    held: list[float] = []
    attack = [asyncio.create_task(slowloris(port, start, opened, held)) for _ in range(SLOW_SOCKETS)]
    try:
        while len(opened) < SLOW_SOCKETS:
            await asyncio.sleep(0.05)
        fds = []

        attacked = await timed_call(url)
        assert attacked < quiet + 2.0, f"a call took {attacked:.2f} s under the attack, {quiet:.2f} s before"

        async with http_client(url, token=TOKEN) as client:
            while len(held) < SLOW_SOCKETS and time.monotonic() - start < 3 * HEADER_TIMEOUT + 5:
                await asyncio.sleep(0.1)
                # A burst is accepted whole before the connections over the cap are closed.
                if time.monotonic() - start > 1:
                    fds.append(open_fds(pid))
            assert len(held) == SLOW_SOCKETS
            # Each held until its deadline, not longer (with slack for a busy CPU): its head alone
            # would take half an hour at this pace.
            assert max(held) <= 2 * HEADER_TIMEOUT + 1, sorted(held)[-10:]
            # Over the cap the oldest were closed at once; the rest held no more than the cap.
            assert sum(h < HEADER_TIMEOUT / 2 for h in held) >= SLOW_SOCKETS - MAX_CONNECTIONS
            assert max(fds) <= baseline + MAX_CONNECTIONS + 5, (baseline, fds)

            # The client's own connections sat idle past the head deadline; they still serve.
            await asyncio.sleep(HEADER_TIMEOUT + 0.5)
            assert not (await client.call_tool("list_collections", {})).is_error
    finally:
        for task in attack:
            task.cancel()
        await asyncio.gather(*attack, return_exceptions=True)


async def test_a_trickled_body_is_cut_off(server):
    url, _ = server
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode()
        + b"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
        b"Content-Length: 10000\r\n\r\n{"
    )
    start = time.monotonic()
    while time.monotonic() - start < 3 * BODY_TIMEOUT + 3:
        try:
            writer.write(b" ")
            if await asyncio.wait_for(reader.read(4096), 0.2) == b"":
                break
        except TimeoutError:
            continue
        except ConnectionError:
            break
    took = time.monotonic() - start
    writer.close()
    assert BODY_TIMEOUT - 0.5 <= took <= 2 * BODY_TIMEOUT + 1  # slack for a busy CPU


@pytest.mark.parametrize(
    "headers",
    [{"Host": "127.0.0.1"}, {"Host": "localhost"}, {"Origin": "http://127.0.0.1"}, {"Origin": "http://localhost"}],
)
async def test_loopback_without_a_port_is_the_same_origin(server, headers):
    url, _ = server
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}}
    base = {"Accept": "application/json, text/event-stream", "Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient() as raw:
        ok = await raw.post(url, json=body, headers={**base, **headers})
        assert ok.status_code == 200, ok.text
        evil = {**base, "Host": "evil.example"} if "Host" in headers else {**base, "Origin": "http://evil.example"}
        assert (await raw.post(url, json=body, headers=evil)).status_code in (403, 421)
