"""The server as clients run it: a subprocess over stdio and over Streamable HTTP (with a token)."""

from __future__ import annotations

import subprocess
import sys

import httpx2
import pytest

from .mcp_helpers import http_client, http_server, server_env, stdio_client

pytestmark = pytest.mark.anyio


async def round_trip(client, root) -> None:
    """What every transport must carry: tools, a search with citations, progress, resources,
    an error result, and serving on after it."""
    names = {t.name for t in (await client.list_tools()).tools}
    assert {"search", "ingest", "embed", "list_collections"} <= names
    found = await client.call_tool("search", {"query": "retry with exponential backoff", "top_k": 2})
    hit = found.structured_content["hits"][0]
    assert hit["path"] == "src/retry.js" and "src/retry.js:" in found.content[0].text

    (root / "src" / "shipping.py").write_text("def ship_parcel(weight_kg):\n    return weight_kg * 3\n")
    progress = []

    async def on_progress(done, total, message):
        progress.append((done, total))

    ingested = await client.call_tool("ingest", {"path": str(root)}, progress_callback=on_progress)
    assert ingested.structured_content["added"] == 1 and progress and progress[-1] == (1, 1)

    chunk = await client.read_resource(f"groundmcp://chunk/default/{hit['id']}")
    assert "retryWithBackoff" in chunk.contents[0].text

    bad = await client.call_tool("search", {"query": "x", "collection": "missing"})
    assert bad.is_error and "does not exist" in bad.content[0].text
    after = await client.call_tool("search", {"query": "ship a parcel by weight", "top_k": 1})
    assert after.structured_content["hits"][0]["path"] == "src/shipping.py"


async def test_stdio(index):
    data, work, root = index
    async with stdio_client(data, work) as client:
        await round_trip(client, root)


async def test_streamable_http_with_token(index):
    data, work, root = index
    with http_server(data, work, token="s3cret") as url:
        async with http_client(url, token="s3cret") as client:
            await round_trip(client, root)
        async with httpx2.AsyncClient() as raw:
            body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
            headers = {"Accept": "application/json, text/event-stream"}
            assert (await raw.post(url, json=body, headers=headers)).status_code == 401
            wrong = {**headers, "Authorization": "Bearer nope"}
            assert (await raw.post(url, json=body, headers=wrong)).status_code == 401
            evil = {**headers, "Authorization": "Bearer s3cret", "Host": "evil.example:80"}
            assert (await raw.post(url, json=body, headers=evil)).status_code == 421


def test_http_beyond_loopback_needs_a_token(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "groundmcp", "serve", "--http", "--host", "0.0.0.0", "--port", "1"],
        env=server_env(tmp_path / "data"), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 1
    assert "without a token" in proc.stderr and "GROUNDMCP_HTTP_TOKEN" in proc.stderr


async def test_second_server_on_the_same_index_says_what_to_do(shared_http_server):
    data = shared_http_server.data  # a running server (the shared HTTP one) owns this index
    async with http_client(shared_http_server.url, token=shared_http_server.token) as client:
        await client.list_tools()
        proc = subprocess.run(
            [sys.executable, "-m", "groundmcp", "serve"], env=server_env(data),
            capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )
    assert proc.returncode == 1 and proc.stdout == ""
    assert "in use" in proc.stderr and "GROUNDMCP_OWNER=1" in proc.stderr
