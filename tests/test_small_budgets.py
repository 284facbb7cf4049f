"""`search` under its smallest budgets still returns the best hit, trimmed to fit, and says so."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.search.budget import MIN_MAX_TOKENS
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import write_project

pytestmark = pytest.mark.anyio


@pytest.fixture
def server(tmp_path, hashing_encoder):
    # A root of ordinary length: every hit carries it, and pytest's own folders are long enough
    # that a hit's fields alone would not fit in 200 tokens.
    work = Path(tempfile.mkdtemp(prefix="gb"))
    root = write_project(work / "project")
    settings = Settings(data_dir=tmp_path / "data", roots=[work])
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(root))
    yield build_server(settings, engine=engine)
    engine.close()
    shutil.rmtree(work)


@pytest.mark.parametrize("max_tokens", [MIN_MAX_TOKENS, 250, 300, 400])
async def test_a_small_budget_returns_the_best_hit_trimmed_to_fit(server, max_tokens):
    async with Client(server) as client:
        whole = await client.call_tool("search", {"query": "retry with exponential backoff", "top_k": 8})
        small = await client.call_tool(
            "search", {"query": "retry with exponential backoff", "top_k": 8, "max_tokens": max_tokens}
        )
    assert not small.is_error
    data = small.structured_content
    assert data["hits"], data  # never an empty answer for want of room
    best = whole.structured_content["hits"][0]
    top = data["hits"][0]
    assert top["id"] == best["id"]  # the best hit, not a shorter one
    assert len(json.dumps(data, ensure_ascii=False)) / 4 <= max_tokens  # the whole response fits, the hit's text with it
    assert len(small.content[0].text) / 4 <= max_tokens
    assert top["text"] and (top["text"] == best["text"]) != top["truncated"]
    lo, hi = top["chunk_lines"]
    assert lo <= top["start_line"] <= top["end_line"] <= hi
    if data["trimmed"]:
        assert "trimmed" in data["note"] and f"max_tokens={max_tokens}" in data["note"]
    assert data["trimmed"] + data["omitted"] > 0 and data["note"]
