"""A stdio bridge's tool calls sent to the owner as they came (owner/lane.py), on a Unix owner's lane
socket (owner/lane_server.py) or a loopback owner's JSON route: which calls take the lane, what
they answer, and the normal path answering whenever the lane cannot; and the lane socket as a
hostile or careless client meets it. Real owner processes and a real `groundmcp serve` spoken to
over stdio by the SDK's client in the handshake mode IDE clients use; the route each call took is
read from the owner's request counts."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import CLIENT_CAPABILITIES_META_KEY, LOG_LEVEL_META_KEY, PROTOCOL_VERSION_META_KEY
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from groundmcp.claims import forwarded_grant
from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.endpoint import JSON_PATH, MCP_PATH, live
from groundmcp.owner.lane import PROTOCOL, OwnerLane
from groundmcp.owner.lane_server import HELLO_KEY, LANE_VERSION
from groundmcp.owner.paths import OwnerPaths

from .mcp_helpers import server_env
from .test_owner_json import note, owner_get
from .test_owner_reuse import StdioBridge

pytestmark = [
    pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket by default"),
    pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning"),  # detached owners
]

ENV = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120",
       "GROUNDMCP_HTTP_MAX_BODY_BYTES": "65536"}


# A 2026-revision request's envelope: its protocol version and the client's capabilities, in `_meta`.
ENVELOPE = {PROTOCOL_VERSION_META_KEY: MODERN_PROTOCOL_VERSIONS[-1], CLIENT_CAPABILITIES_META_KEY: {}}


def handshake_client(data: Path, root: Path, **env: str) -> Client:
    params = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)],
                                   env=server_env(data, **ENV, **env))
    return Client(params, mode="legacy", read_timeout_seconds=120)


def owner_status(paths: OwnerPaths) -> dict:
    status, _, body = owner_get(paths, "/owner")
    assert status == 200, body
    return json.loads(body)


def routes(paths: OwnerPaths) -> dict[str, int]:
    """The owner's requests so far on each route: its JSON path, its SSE path, its lane socket."""
    return owner_status(paths)["requests"]


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

            if route == "lane":  # the JSON route's channel lost its owner in round four's test
                assert stop_owner(data) is not None  # the owner goes: the lane's session with it
                again = await client.call_tool("ingest", note(5))  # the lane fails; the bridge starts a new owner
                assert not again.is_error and again.structured_content["added"] == 1
                restarted = taken()
                last = await client.call_tool("ingest", note(6))  # the lane again, on a new session
                assert not last.is_error and taken() - restarted == handshake + 1

            lane_before, sse_before = taken(), routes(paths).get(MCP_PATH, 0)
            huge = {"texts": [{"id": "huge", "text": "word " * 20_000}], "collection": "notes"}
            with pytest.raises(MCPError, match="GROUNDMCP_HTTP_MAX_BODY_BYTES"):  # over the owner's limit:
                await client.call_tool("ingest", huge)  # the bridge's way, whose 413 says what to do
            after_it = await client.call_tool("ingest", note(7))  # and the lane goes on
            assert not after_it.is_error
            if route == "lane":  # the socket session knew the owner's limit: the call never took it
                assert taken() == lane_before + 1
    finally:
        stop_owner(data)


@pytest.mark.anyio
@pytest.mark.parametrize("transport", ["unix", "loopback"])
async def test_calls_of_the_2026_revision_take_the_lane_socket(tmp_path, transport):
    """The SDK's client in its default mode speaks the 2026 revision (no handshake; each request
    carries its envelope): a Unix owner's lane socket takes its calls too, in a session of that era
    opened without a handshake. A loopback owner's JSON route keeps handshake-era sessions only, so
    there the bridge answers them, as before the lane."""
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    params = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(tmp_path)],
                                   env=server_env(data, **ENV, GROUNDMCP_OWNER_TRANSPORT=transport))
    try:
        async with Client(params, read_timeout_seconds=120) as client:
            assert not (await client.call_tool("ingest", note(0))).is_error  # the bridge starts the owner
            before = routes(paths)
            for i in (1, 2, 3):
                got = await client.call_tool("ingest", note(i))
                assert not got.is_error and got.structured_content["added"] == 1
            bad = await client.call_tool("search", {"query": "x", "collection": "missing"})
            assert bad.is_error and "does not exist" in bad.content[0].text
            found = await client.call_tool("search", {"query": "refunds retried with backoff", "collection": "notes"})
            assert found.structured_content["hits"][0]["text"].startswith("Note ")
            after = routes(paths)
            if transport == "unix":
                assert after.get("lane", 0) - before.get("lane", 0) == 5  # one request a call, no handshake
            else:  # the bridge's own path: its kept session's posts, one a call (a lane's session
                # would have posted its handshake first)
                assert "lane" not in after and after[JSON_PATH] - before[JSON_PATH] == 5
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
    for other in ({**call, "method": "tools/list"}, {k: v for k, v in call.items() if k != "id"}, [call], "x", None,
                  {**call, "id": None}, {**call, "id": True}, {**call, "id": [1]}):
        assert not lane.takes(other)
    assert not lane.takes({**call, "params": {**call["params"], "_meta": {LOG_LEVEL_META_KEY: "info"}}})
    assert not lane.takes({**call, "params": {**call["params"], "_meta": ENVELOPE}})  # of the other era
    fresh = OwnerLane(owner=None, grant="{}")  # type: ignore[arg-type]
    enveloped = {**call, "params": {**call["params"], "_meta": ENVELOPE}}
    assert fresh.takes(enveloped) and not fresh.takes(call)  # a 2026-revision client: no handshake needed
    assert not fresh.takes({**enveloped, "params": {**enveloped["params"], "_meta": {**ENVELOPE, "progressToken": 7}}})
    fresh.modern_lane = False  # the owner had no lane socket for them
    assert not fresh.takes(enveloped)
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}
    assert not lane.takes(cancel)  # no call of the lane's runs: the bridge's server hears it
    lane.takes({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {"protocolVersion": "1999-01-01"}})
    assert lane.protocol == PROTOCOL


class LaneSession:
    """A raw client of the owner's lane socket: lines out, lines in."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, paths: OwnerPaths, first: bytes) -> LaneSession:
        reader, writer = await asyncio.open_unix_connection(os.fspath(paths.lane_socket), limit=1 << 22)
        writer.write(first)
        await writer.drain()
        return cls(reader, writer)

    async def line(self) -> dict | None:
        with anyio.fail_after(60):
            raw = await self.reader.readline()
        return json.loads(raw) if raw else None

    async def send(self, message: dict | bytes) -> None:
        self.writer.write(message if isinstance(message, bytes) else json.dumps(message).encode() + b"\n")
        await self.writer.drain()

    async def answer(self, request_id) -> dict:
        while (message := await self.line()) is not None:
            if message.get("id") == request_id and "method" not in message:
                return message
        raise AssertionError(f"the lane closed before answering {request_id!r}")

    async def handshake(self) -> None:
        await self.send({"jsonrpc": "2.0", "id": "hi", "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        assert (await self.answer("hi"))["result"]["serverInfo"]["name"] == "groundmcp"
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    async def call(self, request_id, name: str, arguments: dict, *, modern: bool = False) -> dict:
        """A tools/call's result; `modern`: enveloped as the 2026 revision sends it (no handshake)."""
        params = {"name": name, "arguments": arguments} | ({"_meta": ENVELOPE} if modern else {})
        await self.send({"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params})
        return (await self.answer(request_id))["result"]

    def close(self) -> None:
        self.writer.close()


def hello(collections=None, roots=None, front_roots=()) -> bytes:
    grant = forwarded_grant(collections, roots, list(front_roots))
    return json.dumps({HELLO_KEY: LANE_VERSION, "grant": grant}).encode() + b"\n"


@pytest.mark.anyio
async def test_the_lane_socket_against_a_hostile_or_careless_client(tmp_path):
    """The socket is the user's alone; a bad hello is told why and closed; a grant's limits hold on
    every request of its session; an over-long line or an invalid request costs the session nothing;
    concurrent calls are answered by their ids; a client that goes with a call in flight costs the
    owner nothing."""
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    env = server_env(data, **ENV)
    with open(tmp_path / "owner.err", "wb") as err:
        owner = subprocess.Popen([sys.executable, "-m", "groundmcp", "owner"], env=env, stdout=subprocess.DEVNULL,
                                 stderr=err)
    try:
        with anyio.fail_after(120):
            while live(paths) is None:
                assert owner.poll() is None, "the owner exited"
                await anyio.sleep(0.1)
        assert stat.S_ISSOCK(os.stat(paths.lane_socket).st_mode)
        assert stat.S_IMODE(os.stat(paths.lane_socket).st_mode) == 0o600

        for first in (b"GET / HTTP/1.1\r\n\r\n", b'{"groundmcp_lane": 2, "grant": "{}"}\n',
                      hello(roots=["relative/dir"]), b'{"groundmcp_lane": 1, "grant": {"a": 1}}\n'):
            bad = await LaneSession.open(paths, first)
            refused = await bad.line()
            assert refused["error"] == "bad_hello" and "lane socket" in refused["message"], refused
            assert await bad.line() is None  # and closed
            bad.close()

        full = await LaneSession.open(paths, hello(front_roots=[str(tmp_path)]))
        assert await full.line() == {HELLO_KEY: LANE_VERSION, "max_line_bytes": 65536}  # the longest line read
        await full.handshake()
        stored = await full.call(1, "ingest", note(0))
        assert not stored.get("isError") and stored["structuredContent"]["added"] == 1

        limited = await LaneSession.open(paths, hello(collections=["other"], roots=[], front_roots=[str(tmp_path)]))
        await limited.handshake()
        denied = await limited.call(1, "search", {"query": "refunds", "collection": "notes"})
        assert denied["isError"] and "other" in denied["content"][0]["text"], denied
        written = await limited.call(2, "ingest", note(1))
        assert written["isError"], written
        listed = await limited.call(3, "list_collections", {})
        assert "notes" not in json.dumps(listed["structuredContent"]), listed
        limited.close()
        # A session of the 2026 revision (no handshake: each request carries its envelope) is held
        # to its hello's grant alike.
        modern = await LaneSession.open(paths, hello(collections=["other"], roots=[], front_roots=[str(tmp_path)]))
        assert (await modern.line())[HELLO_KEY] == LANE_VERSION
        denied = await modern.call(1, "search", {"query": "refunds", "collection": "notes"}, modern=True)
        assert denied["isError"] and "other" in denied["content"][0]["text"], denied
        assert (await modern.call(2, "ingest", note(1), modern=True))["isError"]
        listed = await modern.call(3, "list_collections", {}, modern=True)
        assert "notes" not in json.dumps(listed["structuredContent"]), listed
        await modern.send({"jsonrpc": "2.0", "id": 4, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL, "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        assert "error" in await modern.answer(4)  # no handshake on a session of the 2026 revision
        modern.close()
        modern = await LaneSession.open(paths, hello(front_roots=[str(tmp_path)]))
        found = await modern.call(1, "search", {"query": "refunds", "collection": "notes"}, modern=True)
        assert found["structuredContent"]["hits"][0]["path"] == "note-0", found
        modern.close()

        await full.send(b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": "' + b"x" * 100_000 + b'"}\n')
        await full.send({"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": "not an object"})
        invalid = await full.answer(10)
        assert invalid["error"]["code"] == -32600, invalid
        await full.send({"jsonrpc": "2.0", "id": 11, "method": "tools/call",
                         "params": {"name": "search", "arguments": {"query": "refunds", "collection": "notes"}}})
        await full.send({"jsonrpc": "2.0", "id": "twelve", "method": "tools/call", "params": {
            "name": "ingest", "arguments": note(2)}})
        answers = {(m := await full.line())["id"]: m for _ in range(2)}
        assert set(answers) == {11, "twelve"}  # the over-long line was dropped unanswered, the session kept
        assert answers[11]["result"]["structuredContent"]["hits"][0]["path"] == "note-0"
        assert answers["twelve"]["result"]["structuredContent"]["added"] == 1
        gone = await LaneSession.open(paths, hello(front_roots=[str(tmp_path)]))
        await gone.handshake()
        await gone.send({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                         "params": {"name": "search", "arguments": {"query": "refunds", "collection": "notes"}}})
        gone.close()  # the client goes with its call in flight: the owner carries on
        again = await full.call(13, "search", {"query": "refunds", "collection": "notes"})
        assert again["structuredContent"]["hits"] and owner.poll() is None
        full.close()
        assert routes(paths)["lane"] >= 9
    finally:
        owner.terminate()
        owner.wait(60)
    log = (tmp_path / "owner.err").read_text()
    assert "Traceback" not in log and "stopped; store closed" in log, log


@pytest.mark.anyio
async def test_a_cancelled_call_on_the_lane_is_passed_on_and_gets_no_answer(tmp_path):
    """The client's cancellation of a call the lane's socket session runs reaches the owner (its
    count of requests in flight drops at once, where the ingest would have held it for seconds)
    and no answer to the call is written (one would be, had the ingest ended meanwhile)."""
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    project = tmp_path / "project"
    project.mkdir()
    for i in range(150):  # enough to keep the owner's encoder busy for a while
        (project / f"m{i}.py").write_text(f'def handler_{i}(event):\n    """Handle event {i}."""\n    return {i}\n')
    command = [sys.executable, "-m", "groundmcp", "serve", "--root", str(tmp_path)]
    try:
        async with await anyio.open_process(command, env=server_env(data, **ENV), stderr=subprocess.DEVNULL) as process:
            bridge = StdioBridge(process)
            await bridge.request("initialize", {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}})
            await bridge.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            await bridge.store(0)  # starts the owner
            await bridge.store(1)  # opens the lane's session
            before = routes(paths).get("lane", 0)
            await bridge.send({"jsonrpc": "2.0", "id": "slow", "method": "tools/call", "params": {
                "name": "ingest", "arguments": {"path": str(project), "collection": "code"}}})
            await anyio.sleep(0.5)
            await bridge.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                               "params": {"requestId": "slow", "reason": "the user gave up"}})
            assert routes(paths)["lane"] == before + 1  # the slow call went by the lane
            with anyio.fail_after(10):  # the owner heard: nothing of this client's is in flight there
                while owner_status(paths)["active"]:
                    await anyio.sleep(0.05)
            await bridge.store(2)
            found = await bridge.request("tools/call", {"name": "search", "arguments": {
                "query": "dark mode", "collection": "notes"}})
            assert found["structuredContent"]["hits"]
            assert not [line for line in bridge.lines if json.loads(line).get("id") == "slow"]
    finally:
        stop_owner(data)
