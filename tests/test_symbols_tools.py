"""find_symbol and symbol_neighbours through the SDK's real client, in-process, on a real index."""

from __future__ import annotations

import shutil

import pytest
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import STDLIB_JSON
from .test_symbols_index import write

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


@pytest.fixture
def served_small(tmp_path, hashing_encoder):
    """Two Python functions named measure (pkg/models.py's, called in its file and through an
    aliased import; other/measure.py's, called nowhere) and a JavaScript one."""
    root = write(tmp_path / "work" / "proj")
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


async def test_callers_say_how_they_are_resolved_and_calls_of_other_definitions_are_counted(served_small):
    async with Client(served_small) as client:
        tool = {t.name: t for t in (await client.list_tools()).tools}["symbol_neighbours"]
        assert "resolved" in tool.description and "elsewhere" in tool.description
        assert "every candidate" not in tool.description  # calls resolved elsewhere are not listed
        caller = tool.output_schema["$defs"]["Place"]["properties"]
        assert {"resolution", "top"} <= set(caller) and "elsewhere" in tool.output_schema["properties"]

        near = await client.call_tool("symbol_neighbours", {"symbol": "measure", "path": "pkg/models.py"})
        data = near.structured_content
        assert {(c["path"], c["scope"], c["resolution"], c["top"]) for c in data["callers"]} == {
            ("pkg/models.py", "Row.width", "resolved", True),  # same file
            ("pkg/view.py", "render", "resolved", True),  # `from .models import measure as m`; m(r)
        }
        assert data["elsewhere"] == 1  # web/util.js's measure(s): JavaScript's own measure, not this one
        callees = {c["name"]: c for c in data["callees"]}
        assert callees["len"]["resolution"] == callees["str"]["resolution"] == "outside"  # builtins
        text = next(c.text for c in near.content if c.type == "text")
        assert "(call, resolved, same file)" in text and "not listed: 1" in text

        # The other measure: both Python calls of the name resolve to pkg/models.py's, so none is listed.
        other = await client.call_tool("symbol_neighbours", {"symbol": "measure", "path": "other/measure.py"})
        assert other.structured_content["callers"] == [] and other.structured_content["elsewhere"] == 2
        assert {o["path"] for o in other.structured_content["others"]} == {"pkg/models.py", "web/util.js"}

        # A call on a call's result (`Row().width()`) is one the syntax cannot settle: a candidate.
        width = (await client.call_tool("symbol_neighbours", {"symbol": "Row.width"})).structured_content
        assert [(c["path"], c["resolution"], c["top"], c["rank"]) for c in width["callers"]] == [
            ("pkg/view.py", "candidate", True, "same package")]
        assert {c["name"]: c["resolution"] for c in width["callees"]} == {"measure": "resolved"}


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
    assert {"citation": data["callers"][0]["citation"], "scope": "JSONDecoder.decode", "rank": "same file",
            "resolution": "resolved", "top": True} in data["callers"]  # self.raw_decode(...)
    assert isinstance(data["elsewhere"], int) and {c["resolution"] for c in data["callees"]} <= {
        "resolved", "outside", "candidate"}
    text = runner.invoke(cli.app, ["refs", "JSONDecoder.raw_decode"], env=env).output
    assert "resolved, same file)" in text and "callers (" in text and " resolved, " in text


def test_lists_past_their_limit_are_counted_not_dropped_silently(tmp_path, hashing_encoder):
    """A function called from 60 places: 50 callers are listed, the 10 others are counted in
    `omitted` and the note says how to narrow the question."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings
    from groundmcp.tools.symbols import neighbours_result

    root = tmp_path / "proj"
    root.mkdir()
    (root / "core.py").write_text("def target():\n    return 1\n")
    for i in range(60):
        (root / f"use_{i}.py").write_text(f"from core import target\n\n\ndef caller_{i}():\n    return target()\n")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        engine.ingest(str(root))
        n = engine.symbol_neighbours("target")
        result = neighbours_result(engine.settings.collection, n, None)
    finally:
        engine.close()
    assert len(result.callers) == 50 and n.beyond == 10 + 10  # callers and importers, each 60 of 50
    assert result.omitted == 20 and "past a list's limit (50)" in result.note


def test_a_name_called_twice_on_one_line_is_one_callee(tmp_path, hashing_encoder):
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    root = tmp_path / "proj"
    root.mkdir()
    (root / "a.js").write_text("class A {\n  cmp(o) { return 0 }\n}\n"
                               "const f = (x, y) => new A(x).cmp(new A(y))\nmodule.exports = { f, A }\n")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        engine.ingest(str(root))
        callees = [(c.reference.line, c.reference.name) for c in engine.symbol_neighbours("f").callees]
    finally:
        engine.close()
    assert sorted(callees) == [(4, "A"), (4, "cmp")]
