"""A stdio bridge's tool calls sent to the owner as they came (owner/lane.py), on a Unix owner's lane
socket (owner/lane_server.py) or a loopback owner's JSON route: which calls take the lane, what
they answer, and the normal path answering whenever the lane cannot; and the lane socket as a
hostile or careless client meets it. Real owner processes and a real `groundmcp serve` spoken to
over stdio by the SDK's client in the handshake mode IDE clients use; the route each call took is
read from the owner's request counts."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters

from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.endpoint import JSON_PATH, MCP_PATH
from groundmcp.owner.lane import PROTOCOL, OwnerLane
from groundmcp.owner.paths import OwnerPaths

from .mcp_helpers import server_env
from .test_owner_json import note, owner_get

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket by default"),
    pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning"),  # detached owners
]

ENV = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120"}


def handshake_client(data: Path, root: Path, **env: str) -> Client:
    params = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)],
                                   env=server_env(data, **ENV, **env))
    return Client(params, mode="legacy", read_timeout_seconds=120)


def routes(paths: OwnerPaths) -> dict[str, int]:
    """The owner's requests so far on each route: its JSON path, its SSE path, its lane socket."""
    status, _, body = owner_get(paths, "/owner")
    assert status == 200, body
    return json.loads(body)["requests"]


@pytest.mark.anyio
@pytest.mark.parametrize(("transport", "route", "handshake"), [("unix", "lane", 1), ("loopback", JSON_PATH, 2)])
async def test_tool_calls_take_the_lane_and_the_bridge_answers_when_it_cannot(tmp_path, transport, route, handshake):
    """A Unix owner's lane is its lane socket (the handshake one request there: the initialize);
    a loopback owner's is its JSON route (the handshake two posts: initialize and initialized)."""
    data = tmp_path / "d"
    paths = OwnerPaths(data)

    def taken() -> int:
        return routes(paths).get(route, 0)

    try:
        async with handshake_client(data, tmp_path, GROUNDMCP_OWNER_TRANSPORT=transport) as client:
            first = await client.call_tool("ingest", note(0))  # no owner yet: the bridge starts it and answers
            assert not first.is_error, first.content[0].text
            before = taken()
            second = await client.call_tool("ingest", note(1))  # the lane's handshake, then the call
            assert not second.is_error and second.structured_content["added"] == 1
            after = taken()
            assert after - before == handshake + 1
            for i in (2, 3):
                got = await client.call_tool("ingest", note(i))
                assert not got.is_error and got.structured_content["added"] == 1
            assert taken() - after == 2  # one request a call

            bad = await client.call_tool("search", {"query": "x", "collection": "missing"})
            assert bad.is_error and "does not exist" in bad.content[0].text  # the owner's answer, as it came
            found = await client.call_tool("search", {"query": "refunds retried with backoff", "collection": "notes"})
            assert found.structured_content["hits"][0]["text"].startswith("Note ")

            seen: list[float] = []

            async def progress(done: float, total: float | None, message: str | None) -> None:
                seen.append(done)

            lane_before, sse_before = taken(), routes(paths).get(MCP_PATH, 0)
            tracked = await client.call_tool("ingest", note(4), progress_callback=progress)
            assert not tracked.is_error and seen  # progress wanted: the bridge, on the SSE route
            assert (taken(), routes(paths).get(MCP_PATH, 0)) == (lane_before, sse_before + 3)  # handshake, call

            assert stop_owner(data) is not None  # the owner goes: the lane's session with it
            again = await client.call_tool("ingest", note(5))  # the lane fails; the bridge starts a new owner
            assert not again.is_error and again.structured_content["added"] == 1
            restarted = taken()
            last = await client.call_tool("ingest", note(6))  # the lane again, on a new session
            assert not last.is_error and taken() - restarted == handshake + 1
    finally:
        stop_owner(data)


def test_what_takes_the_lane(tmp_path):
    lane = OwnerLane(owner=None, grant="{}")  # type: ignore[arg-type] - takes() never reaches the owner
    call = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "search", "arguments": {}}}
    assert not lane.takes(call)  # before the handshake ends
    assert not lane.takes({"jsonrpc": "2.0", "id": 0, "method": "initialize",
                           "params": {"protocolVersion": "2025-06-18", "capabilities": {}}})
    assert lane.protocol == "2025-06-18"  # the lane's own session asks for the client's revision
    assert not lane.takes({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert lane.takes(call)
    with_progress = {**call, "params": {**call["params"], "_meta": {"progressToken": 1}}}
    assert not lane.takes(with_progress)
    assert lane.takes({**call, "params": {**call["params"], "_meta": {"progressToken": None}}})
    for other in ({**call, "method": "tools/list"}, {k: v for k, v in call.items() if k != "id"}, [call], "x", None):
        assert not lane.takes(other)
    lane.takes({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "1999-01-01"}})
    assert lane.protocol == PROTOCOL
