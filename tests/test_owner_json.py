"""A bridge sends the requests that want no progress to the owner's JSON path (owner/endpoint.py
JSON_PATH: one JSON body an answer, cheaper than an SSE stream) and a tool call that asked for
progress to its SSE path, so the progress still reaches the bridge's client. Real owner processes,
a real `groundmcp serve` spoken to over stdio by the SDK's client; which path each call took is
read from the owner's own request counts (GET /owner, owner/daemon.py Activity)."""

from __future__ import annotations

import json
import sys

import pytest

from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.endpoint import JSON_PATH, MCP_PATH, live
from groundmcp.owner.paths import OwnerPaths

from .mcp_helpers import stdio_client

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket by default"),
    pytest.mark.filterwarnings("ignore:subprocess .* is still running:ResourceWarning"),  # detached owners
]


def owner_get(paths: OwnerPaths, path: str, body: dict | None = None):
    """(status, content type, body) of a request to the running owner: GET, or POST of `body`."""
    endpoint = live(paths)
    assert endpoint is not None, "no owner runs"
    conn = endpoint.connection(10)
    try:
        headers = {**endpoint.headers(), "Accept": "application/json, text/event-stream",
                   "Content-Type": "application/json"}
        conn.request("GET" if body is None else "POST", path, body=None if body is None else json.dumps(body),
                     headers=headers)
        got = conn.getresponse()
        return got.status, got.getheader("content-type", ""), got.read()
    finally:
        conn.close()


def counts(paths: OwnerPaths) -> tuple[int, int]:
    """The owner's requests so far that wanted no progress and those that took its SSE path. The
    first are on its JSON path, or, for the tool calls of a Unix owner's bridge, on its lane socket
    (owner/lane.py; tests/test_owner_lane.py tells the two apart)."""
    status, _, body = owner_get(paths, "/owner")
    assert status == 200, body
    requests = json.loads(body)["requests"]
    return requests.get(JSON_PATH, 0) + requests.get("lane", 0), requests.get(MCP_PATH, 0)


def note(i: int) -> dict:
    return {"texts": [{"id": f"note-{i}", "text": f"Note {i}: refunds are retried with backoff."}], "collection": "notes"}


@pytest.mark.parametrize("transport", ["unix", "loopback"])
async def test_calls_without_progress_take_the_json_path_and_progress_still_arrives(tmp_path, transport):
    data = tmp_path / "d"
    paths = OwnerPaths(data)
    env = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120",
           "GROUNDMCP_OWNER_TRANSPORT": transport}
    try:
        async with stdio_client(data, tmp_path, **env) as client:
            first = await client.call_tool("ingest", note(0))  # starts the owner, opens the JSON session
            assert not first.is_error, first.content[0].text
            json_before, sse_before = counts(paths)
            assert json_before >= 1

            plain = await client.call_tool("ingest", note(1))
            assert not plain.is_error and plain.structured_content["added"] == 1
            json_after, sse_after = counts(paths)
            assert (json_after - json_before, sse_after - sse_before) == (1, 0)  # one request, not on SSE

            seen: list[tuple[float, float | None]] = []

            async def progress(done: float, total: float | None, message: str | None) -> None:
                seen.append((done, total))

            tracked = await client.call_tool("ingest", note(2), progress_callback=progress)
            assert not tracked.is_error and tracked.structured_content["added"] == 1
            assert seen, "no progress reached the bridge's client"
            json_now, sse_now = counts(paths)
            assert json_now == json_after and sse_now > sse_after  # the progress call took the SSE path

            failed = await client.call_tool("search", {"query": "refunds", "collection": "no-such-collection"})
            assert failed.is_error and "no-such-collection" in failed.content[0].text
            assert counts(paths)[0] == json_now + 1

            found = await client.call_tool("search", {"query": "refund backoff", "collection": "notes", "top_k": 5})
            assert not found.is_error
            assert {h["path"] for h in found.structured_content["hits"]} == {"note-0", "note-1", "note-2"}

        # The JSON path answers with a JSON body, not an event stream.
        status, kind, body = owner_get(paths, JSON_PATH, {
            "jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}})
        assert status == 200 and kind.startswith("application/json"), (status, kind, body)
        assert json.loads(body)["result"]["serverInfo"]["name"] == "groundmcp"
    finally:
        stop_owner(data)
