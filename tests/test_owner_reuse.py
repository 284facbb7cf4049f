"""A bridge keeps its session with the owner open across requests (owner/sessions.py), with real
owner processes: calls share one session; an owner killed, or replaced by one another client
started, between calls is left behind and the next call succeeds through the new owner; a kept
session does not keep an idle owner from exiting; and a stdio bridge writes nothing but JSON-RPC to
its stdout through all of it."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import anyio
import pytest

from groundmcp.encoders.sentence_transformers import BUNDLED_MODEL
from groundmcp.owner.bridge import OwnerLink, local_grant
from groundmcp.owner.client import owner_client
from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.paths import OwnerPaths, is_held, read_pid

from .mcp_helpers import server_env

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="the tests kill owners with signals"),
]

NOTES = [
    "The user prefers dark mode in every editor.",
    "Refunds are retried with exponential backoff by the billing service.",
    "The staging database is reset every Sunday night.",
    "Deploys are frozen during the last week of the quarter.",
    "The on-call rotation changes every Monday at nine.",
    "Backups run nightly at two and are kept for thirty days.",
]


def wait_until_free(paths: OwnerPaths, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while is_held(paths.lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not is_held(paths.lock), "the owner did not exit"


def kill_owner(paths: OwnerPaths) -> int:
    pid = read_pid(paths.lock)
    os.kill(pid, signal.SIGKILL)
    wait_until_free(paths)
    return pid


async def store(link: OwnerLink, grant: str | None, i: int) -> None:
    args = {"texts": [{"id": f"note-{i}", "text": NOTES[i]}], "collection": "notes"}
    result = await link.call(lambda c: c.call_tool("ingest", args), grant)
    assert not result.is_error, result.content[0].text
    assert result.structured_content["added"] == 1


@pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning")  # detached owners
@pytest.mark.parametrize("transport", ["unix", "loopback"])
async def test_calls_share_a_kept_session_that_a_killed_or_replaced_owner_leaves_behind(
    tmp_path, monkeypatch, transport
):
    for key, value in {"GROUNDMCP_OWNER_TRANSPORT": transport, "GROUNDMCP_WATCH": "0",
                       "GROUNDMCP_OWNER_IDLE_S": "120"}.items():
        monkeypatch.setenv(key, value)  # the owners the link starts inherit them
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    link = OwnerLink(owner_client(data, BUNDLED_MODEL, "auto"))
    grant = local_grant([tmp_path])(None)
    try:
        async with link.running():
            await store(link, grant, 0)
            kept = link.kept.held(grant)
            assert kept is not None and kept.endpoint.kind == transport
            await store(link, grant, 1)
            assert link.kept.held(grant) is kept and kept.usable  # one session for both calls

            first = await anyio.to_thread.run_sync(kill_owner, paths)
            await store(link, grant, 2)  # the next call starts a new owner, in a new session
            assert link.kept.held(grant) is not kept and read_pid(paths.lock) != first
            assert not kept.usable

            kept = link.kept.held(grant)
            second = await anyio.to_thread.run_sync(kill_owner, paths)
            other = owner_client(data, BUNDLED_MODEL, "auto")  # another client starts the next owner
            await anyio.to_thread.run_sync(other.ensure)
            await store(link, grant, 3)
            assert link.kept.held(grant) is not kept and read_pid(paths.lock) not in (first, second)
            if transport == "unix":  # the new owner, on the same socket, did not know the old session
                assert kept.transport.unknown_session
            # loopback: the new owner's port and token replaced the old before any byte was sent

            found = await link.call(lambda c: c.call_tool(
                "search", {"query": "exponential backoff for refunds", "collection": "notes", "top_k": 5}), grant)
            assert not found.is_error, found.content[0].text
            assert {h["path"] for h in found.structured_content["hits"]} >= {"note-1"}
            listed = await link.call(lambda c: c.call_tool("collection_stats", {"collection": "notes"}), grant)
            assert listed.structured_content["chunks"] == 4  # every note reached the store
        assert kept.ended.is_set() and link.kept.held(grant) is None  # closed with the lifespan
    finally:
        stop_owner(data)


class StdioBridge:
    """`groundmcp serve` over stdio, spoken to line by line, so that every line it writes to its
    stdout is seen (an SDK client would skip what it cannot parse)."""

    def __init__(self, process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.progress: list[dict] = []  # the params of the progress notifications received
        self.pending = b""
        self._next = 1

    async def send(self, message: dict) -> None:
        await self.process.stdin.send((json.dumps(message) + "\n").encode())

    async def request(self, method: str, params: dict) -> dict:
        rid, self._next = self._next, self._next + 1
        await self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        with anyio.fail_after(300):
            while True:
                while b"\n" not in self.pending:
                    self.pending += await self.process.stdout.receive()
                line, self.pending = self.pending.split(b"\n", 1)
                self.lines.append(line.decode())
                message = json.loads(line)  # a line that is not JSON fails the test here
                assert message.get("jsonrpc") == "2.0", line
                if message.get("method") == "notifications/progress":
                    self.progress.append(message["params"])
                if message.get("id") == rid:
                    assert "error" not in message, message
                    return message["result"]

    async def store(self, i: int, progress_token: str | None = None) -> None:
        params = {"name": "ingest", "arguments": {"texts": [{"id": f"note-{i}", "text": NOTES[i]}], "collection": "notes"}}
        if progress_token is not None:
            params["_meta"] = {"progressToken": progress_token}
        result = await self.request("tools/call", params)
        assert not result.get("isError"), result
        assert result["structuredContent"]["added"] == 1


async def test_a_stdio_bridge_outlives_idle_exits_and_kills_and_writes_only_json_rpc(tmp_path):
    """The kept session holds no request open in the owner (no GET stream), nor does the lane's
    session on the lane socket, so the owner still exits when idle; the next call starts a new one,
    as does the call after a kill -9. Progress is
    forwarded for the call that asked for it, and only for that one."""
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    env = server_env(data, GROUNDMCP_OWNER="1", GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="3")
    command = [sys.executable, "-m", "groundmcp", "serve", "--root", str(tmp_path)]
    with open(tmp_path / "bridge.err", "wb") as err:
        try:
            async with await anyio.open_process(command, env=env, stderr=err) as process:
                bridge = StdioBridge(process)
                await bridge.request("initialize", {
                    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}})
                await bridge.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
                await bridge.store(0)
                await bridge.store(1, progress_token="p1")
                assert bridge.progress and {p["progressToken"] for p in bridge.progress} == {"p1"}  # asked once
                await bridge.store(4)  # by the lane (owner/lane.py): its session on the lane socket stays open
                first = read_pid(paths.lock)

                await anyio.to_thread.run_sync(wait_until_free, paths)  # idle for 3 s with the session kept
                assert "idle for 3 s; exiting" in paths.log.read_text()
                await bridge.store(2)
                second = read_pid(paths.lock)
                assert second != first
                await bridge.store(5)  # the lane again, on a new session: open when the owner is killed

                await anyio.to_thread.run_sync(kill_owner, paths)
                await bridge.store(3)
                assert read_pid(paths.lock) not in (first, second)
                assert paths.log.read_text().count(" serving ") == 3
                await process.stdin.aclose()  # the client goes: the bridge exits
                rest = bridge.pending
                with anyio.fail_after(30):
                    async for chunk in process.stdout:
                        rest += chunk
                    await process.wait()
                assert not rest.strip(), rest  # nothing after the last answer either
            log = (tmp_path / "bridge.err").read_text()
            assert "Traceback" not in log and "WARNING" not in log, log  # each loss was resent at once
        finally:
            stop_owner(data)
