"""find_symbol and symbol_neighbours through the SDK's real client, in-process, on a real index."""

from __future__ import annotations

import shutil

import pytest
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import STDLIB_JSON

pytestmark = pytest.mark.anyio


@pytest.fixture
def served(tmp_path, hashing_encoder):
    root = tmp_path / "work" / "proj"
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"])
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(root))
    yield build_server(settings, engine=engine)
    engine.close()


async def test_tools_are_read_only_and_typed(served):
    async with Client(served) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    for name in ("find_symbol", "symbol_neighbours"):
        assert tools[name].annotations.read_only_hint is True and tools[name].output_schema["type"] == "object"
        assert "description" in next(iter(tools[name].input_schema["properties"].values()))


async def test_find_symbol_then_its_neighbours_as_citations_and_links(served):
    async with Client(served) as client:
        found = await client.call_tool("find_symbol", {"name": "JSONDecoder.raw_decode"})
        assert not found.is_error
        match = found.structured_content["matches"][0]
        assert (match["path"], match["kind"], match["match"]) == ("json/decoder.py", "method", "exact")
        assert match["signature"].startswith("def raw_decode(self, s")
        assert match["uri"] == f"groundmcp://file/default/{match['start_line']}/{match['end_line']}/json/decoder.py"
        read = await client.read_resource(match["uri"])
        assert "def raw_decode" in read.contents[0].text

        near = await client.call_tool("symbol_neighbours", {"symbol": "JSONDecoder.raw_decode"})
        assert not near.is_error
        data = near.structured_content
        callers = {(c["path"], c["scope"], c["rank"]) for c in data["callers"]}
        assert ("json/decoder.py", "JSONDecoder.decode", "same file") in callers
        links = [c for c in near.content if c.type == "resource_link"]
        assert links and links[0].uri == data["definition"]["uri"]
        assert {c["uri"] for c in data["callers"]} <= {str(link.uri) for link in links}

        # From a search hit's chunk id to its definition, and the budget holds.
        by_chunk = await client.call_tool("symbol_neighbours", {"symbol": match["chunk_ids"][0], "max_tokens": 300})
        assert by_chunk.structured_content["definition"]["qualified"] == "JSONDecoder.raw_decode"
        assert by_chunk.structured_content["estimated_tokens"] <= 300 or by_chunk.structured_content["omitted"]

        loads = await client.call_tool("symbol_neighbours", {"symbol": "loads", "path": "json/__init__.py"})
        importers = {p["path"] for p in loads.structured_content["importers"]}
        assert "json/tool.py" in importers  # `import json` there names json/__init__.py
        callees = {c["name"]: c for c in loads.structured_content["callees"]}
        assert callees["decode"]["candidates"][0]["qualified"] == "JSONDecoder.decode"


async def test_misses_are_tool_errors_or_close_spellings(served):
    async with Client(served) as client:
        fuzzy = await client.call_tool("find_symbol", {"name": "raw_decod"})
        assert fuzzy.structured_content["matches"] and "close spellings" in fuzzy.structured_content["note"]
        missing = await client.call_tool("symbol_neighbours", {"symbol": "no_such_thing_anywhere"})
        assert missing.is_error and "find_symbol" in missing.content[0].text
        unknown = await client.call_tool("find_symbol", {"name": "x", "collection": "nope"})
        assert unknown.is_error and "nope" in unknown.content[0].text


def test_cli_symbol_and_refs(tmp_path, hashing_encoder):
    """`groundmcp symbol` and `groundmcp refs` print what the tools return, from the same engine."""
    from typer.testing import CliRunner

    from groundmcp import cli

    root = tmp_path / "proj"
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    engine.ingest(str(root))
    engine.close()
    env = {"GROUNDMCP_DATA_DIR": str(tmp_path / "data"), "GROUNDMCP_OWNER": "0"}
    runner = CliRunner()
    found = runner.invoke(cli.app, ["symbol", "JSONDecoder.raw_decode"], env=env)
    assert found.exit_code == 0, found.output
    assert "json/decoder.py:" in found.output and "method JSONDecoder.raw_decode: def raw_decode(self, s" in found.output
    refs = runner.invoke(cli.app, ["refs", "JSONDecoder.raw_decode", "--json"], env=env)
    assert refs.exit_code == 0, refs.output
    data = __import__("json").loads(refs.output)
    assert {"citation": data["callers"][0]["citation"], "scope": "JSONDecoder.decode", "rank": "same file"} in data["callers"]
