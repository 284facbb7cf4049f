"""Operating figures (server/metrics.py) as clients and scrapers see them: `GET /metrics` on the
in-process HTTP server behind its token, the `groundmcp://stats` resource with the same counts, a
limited token that sees only its own collections, and the owner's figures through an HTTP bridge
and `groundmcp stats`."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import httpx2
import pytest

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.owner.endpoint import live
from groundmcp.owner.paths import OwnerPaths
from groundmcp.settings import Settings

from .conftest import write_project
from .inproc_http import serve_in_thread
from .mcp_helpers import http_client, http_server, server_env

pytestmark = pytest.mark.anyio

SECRET_QUERY = "zebra-quokka-secret retry"


def series(text: str, name: str) -> dict[frozenset, float]:
    """{labels: value} of one metric in Prometheus text."""
    out = {}
    for line in text.splitlines():
        m = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(1) or ""))
            out[labels] = float(m.group(2))
    return out


def labels(**kw: str) -> frozenset:
    return frozenset(kw.items())


async def test_metrics_and_stats_over_http(tmp_path):
    work = tmp_path / "work"
    write_project(work / "mine")
    write_project(work / "theirs")
    settings = Settings(
        data_dir=tmp_path / "data", http_token="s3cret", roots=[work], watch=False,
        http_tokens={"t-mine": {"collections": ["mine"]}},
    )
    engine = Engine(settings, encoder=HashingEncoder(64))
    engine.ingest(str(work / "mine"), collection="mine")
    engine.ingest(str(work / "theirs"), collection="theirs")
    with serve_in_thread(settings, engine) as url:
        metrics_url = url.removesuffix("/mcp") + "/metrics"
        async with http_client(url, token="s3cret") as client:
            for query in ("retry with backoff", "retry  with   backoff ", SECRET_QUERY):
                assert not (await client.call_tool("search", {"query": query, "collection": "mine"})).is_error
            assert not (await client.call_tool("search", {"query": "refunds", "collection": "mine", "mode": "sparse"})).is_error
            bad = await client.call_tool("search", {"query": "x", "collection": "missing"})
            assert bad.is_error
            assert (await client.call_tool("no_such_tool_" + SECRET_QUERY.replace(" ", "_"), {})).is_error
            stats = json.loads((await client.read_resource("groundmcp://stats")).contents[0].text)

        async with httpx2.AsyncClient(timeout=60) as raw:
            assert (await raw.get(metrics_url)).status_code == 401
            assert (await raw.get(metrics_url, headers={"Authorization": "Bearer nope"})).status_code == 401
            full = await raw.get(metrics_url, headers={"Authorization": "Bearer s3cret"})
            limited = await raw.get(metrics_url, headers={"Authorization": "Bearer t-mine"})
    engine.close()

    assert full.status_code == 200 and full.headers["content-type"].startswith("text/plain")
    text = full.text
    requests = series(text, "groundmcp_requests_total")
    assert requests[labels(method="tools/call", tool="search", mode="hybrid", outcome="ok")] == 3
    assert requests[labels(method="tools/call", tool="search", mode="sparse", outcome="ok")] == 1
    assert requests[labels(method="tools/call", tool="search", mode="hybrid", outcome="tool_error")] == 1
    assert requests[labels(method="tools/call", tool="unknown", mode="", outcome="tool_error")] == 1
    assert requests[labels(method="resources/read", tool="", mode="", outcome="ok")] == 1
    timed = series(text, "groundmcp_request_seconds_count")
    assert timed[labels(method="tools/call", tool="search", mode="hybrid")] == 4
    assert series(text, "groundmcp_query_cache_hits_total")[frozenset()] == 1  # the spacing variant
    assert series(text, "groundmcp_query_cache_misses_total")[frozenset()] == 2  # sparse encodes nothing
    for name in ("groundmcp_collection_chunks", "groundmcp_collection_files", "groundmcp_collection_disk_bytes"):
        found = series(text, name)
        assert set(found) == {labels(collection="mine"), labels(collection="theirs")} and all(found.values()), name
    assert series(text, "groundmcp_collection_files")[labels(collection="mine")] == 3
    # The encoder's work: two ingests encoded documents (both projects' chunks), searches queries.
    chunks = series(text, "groundmcp_ingest_chunks_total")[frozenset()]
    assert chunks == sum(series(text, "groundmcp_collection_chunks").values())
    assert series(text, "groundmcp_encoder_texts_total")[labels(kind="document")] == chunks
    assert series(text, "groundmcp_encoder_batches_total")[labels(kind="document")] >= 2
    assert series(text, "groundmcp_ingest_tokens_total")[frozenset()] > chunks
    assert series(text, "groundmcp_encoder_texts_total")[labels(kind="query")] >= 2  # the cache misses (and its probe)
    assert series(text, "process_resident_memory_bytes")[frozenset()] > 10_000_000
    assert "zebra" not in text and "quokka" not in text and "s3cret" not in text  # no query text, tool name or token

    # A limited token: the same request counts, only its own collection's sizes.
    assert limited.status_code == 200
    assert set(series(limited.text, "groundmcp_collection_chunks")) == {labels(collection="mine")}
    assert "theirs" not in limited.text

    # The stats resource holds the same figures (as they were when it was read: before itself).
    rows = {(r["method"], r["tool"], r["mode"]): r for r in stats["requests"]}
    hybrid = rows[("tools/call", "search", "hybrid")]
    assert hybrid["count"] == 4 and hybrid["errors"] == 1 and 0 < hybrid["p50_ms"] <= hybrid["p95_ms"]
    assert stats["query_cache"]["hits"] == 1 and stats["query_cache"]["folds"] == "space"
    by_name = {c["name"]: c for c in stats["collections"]}
    assert by_name["mine"]["files"] == 3 and by_name["mine"]["chunks"] == series(text, "groundmcp_collection_chunks")[
        labels(collection="mine")]
    assert stats["rss_bytes"] > 10_000_000


OWNED = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120"}


@pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket")
async def test_owner_figures_through_the_http_bridge_and_the_cli(index):
    """`serve --http` as a bridge serves its owner's /metrics behind its own token; with no owner
    running a scrape says so and starts none; `groundmcp stats` reads the owner's figures."""
    data, work, _root = index
    env = server_env(data, **OWNED)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "groundmcp", *args], env=env, capture_output=True, text=True,
                              timeout=300)

    try:
        with http_server(data, work, token="s3cret", **OWNED) as url:
            metrics_url = url.removesuffix("/mcp") + "/metrics"
            async with http_client(url, token="s3cret") as client:
                for query in ("retry with exponential backoff", "RETRY with exponential backoff"):
                    assert not (await client.call_tool("search", {"query": query, "top_k": 2})).is_error
            async with httpx2.AsyncClient(timeout=60) as raw:
                assert (await raw.get(metrics_url)).status_code == 401
                got = await raw.get(metrics_url, headers={"Authorization": "Bearer s3cret"})
            assert got.status_code == 200
            assert series(got.text, "groundmcp_owner_up")[frozenset()] == 1
            requests = series(got.text, "groundmcp_requests_total")
            assert requests[labels(method="tools/call", tool="search", mode="hybrid", outcome="ok")] == 2
            assert series(got.text, "groundmcp_query_cache_hits_total")[frozenset()] == 1  # the real model folds case
            assert series(got.text, "groundmcp_collection_files")[labels(collection="default")] == 3

            shown = cli("stats", "--json")
            assert shown.returncode == 0, shown.stderr
            snap = json.loads(shown.stdout)
            assert snap["served_by"].startswith("owner")
            assert any(r["tool"] == "search" and r["count"] == 2 for r in snap["requests"])
            assert snap["query_cache"]["folds"] == "case+space"

            assert cli("owner", "--stop").returncode == 0
            async with httpx2.AsyncClient(timeout=60) as raw:
                down = await raw.get(metrics_url, headers={"Authorization": "Bearer s3cret"})
            assert down.status_code == 200 and series(down.text, "groundmcp_owner_up")[frozenset()] == 0
            assert live(OwnerPaths(data)) is None  # the scrape started none
    finally:
        cli("owner", "--stop")
