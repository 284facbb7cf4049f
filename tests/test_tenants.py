"""Two tenants whose folders sit side by side under one server root (issue 12, point 1).

A token limited to some collections used to be able to ingest the other tenant's folder into a
collection of its own and then read it back through search and the file resource. Each limited
token now has its own roots; one without roots cannot ingest or read files by path. Every tool and
resource is tried by each tenant against the other, through a real MCP client over HTTP.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from groundmcp.access import Access, AppState, narrow_roots
from groundmcp.engine import Engine
from groundmcp.settings import Settings, TokenGrant

from .inproc_http import serve_in_thread
from .mcp_helpers import http_client

A_TEXT = "def alpha_payroll():\n    return 'alpha team computes the payroll here'\n"
B_TEXT = "def bravo_launch_codes():\n    return 'bravo team keeps its zebra-quartz launch plan here'\n"
B_MARK = "zebra-quartz"


@pytest.fixture
def tenants(tmp_path, hashing_encoder):
    """work/a and work/b under one server root; tokens for A (its roots), B (its roots), a
    list-form token (no roots) and an admin; team B's folder already indexed by the admin."""
    work = tmp_path / "work"
    for team, text in (("a", A_TEXT), ("b", B_TEXT)):
        (work / team / "src").mkdir(parents=True)
        (work / team / "src" / f"{team}.py").write_text(text)
    tokens = {
        "tok-a": {"collections": ["team-a", "team-a-*"], "roots": [str(work / "a")]},
        "tok-b": {"collections": ["team-b*"], "roots": [str(work / "b")]},
        "tok-list": ["team-a", "team-a-*"],
    }
    settings = Settings(data_dir=tmp_path / "data", roots=[work], http_token="admin-tok", http_tokens=tokens, watch=False)
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(work / "b"), collection="team-b")
    # The admin indexes B's folder into a collection A's token may name: its files stay B's.
    engine.ingest(str(work / "b"), collection="team-a-shared")
    b_id = next(i for i, _ in engine.store.scroll("team-b", None, ["path"]))
    with serve_in_thread(settings, engine) as url:
        yield url, work, b_id
    engine.close()


client = http_client  # a real MCP client over Streamable HTTP with a bearer token


def refusal(result) -> str:
    assert result.is_error, result.structured_content
    text = result.content[0].text
    assert B_MARK not in text
    return text


async def resource_refusal(c: Client, uri: str) -> str:
    with pytest.raises(MCPError) as caught:
        await c.read_resource(uri)
    assert B_MARK not in str(caught.value)
    return str(caught.value)


@pytest.mark.anyio
async def test_a_tenant_reaches_only_its_own_folders_through_every_tool_and_resource(tenants):
    url, work, b_id = tenants
    async with client(url, "tok-a") as a:
        # Ingest by path: B's folder under any spelling, into A's own collections, is refused.
        for path in ("../b", str(work / "b"), str(work / "b" / "src" / "b.py"), "src/../../b", str(work)):
            text = refusal(await a.call_tool("ingest", {"path": path, "collection": "team-a-stolen"}))
            assert "only use paths under its own roots" in text, (path, text)
        # Its own folder, relative to its only root or absolute, works.
        own = (await a.call_tool("ingest", {"path": "src", "collection": "team-a"})).structured_content
        assert own["added"] == 1 and own["root"] == str((work / "a" / "src").resolve())
        listed = (await a.call_tool("list_collections", {})).structured_content
        names = sorted(c["name"] for c in listed["collections"])
        # Nothing of B's reached A's collections through A's token, and B's collection stays hidden.
        assert names == ["team-a", "team-a-shared"]
        hits = (await a.call_tool("search", {"query": "launch plan zebra-quartz", "collection": "team-a"}))
        assert hits.structured_content["hits"] and B_MARK not in json.dumps(hits.structured_content["hits"])
        # A's own files read back; B's files do not, even through a collection A may name.
        assert "alpha team" in (await a.read_resource("groundmcp://file/team-a/1/2/a.py")).contents[0].text
        text = await resource_refusal(a, "groundmcp://file/team-a-shared/1/2/src/b.py")
        assert f"is outside the allowed roots ({work.resolve() / 'a'})" in text
        # Every other tool and resource, on B's collection: refused before the store is read.
        denied = {
            "search": await a.call_tool("search", {"query": "launch", "collection": "team-b"}),
            "stats": await a.call_tool("collection_stats", {"collection": "team-b"}),
            "delete": await a.call_tool("delete_collection", {"collection": "team-b"}),
            "delete_paths": await a.call_tool("delete_paths", {"collection": "team-b", "paths": ["src/b.py"]}),
            "ingest_texts": await a.call_tool("ingest", {"texts": [{"id": "x", "text": "y"}], "collection": "team-b"}),
            "ingest_path": await a.call_tool("ingest", {"path": str(work / "b"), "collection": "team-b"}),
            "rerank": await a.call_tool("rerank", {"query": "launch", "chunk_ids": [b_id], "collection": "team-b"}),
            "list_files": await a.call_tool("list_files", {"collection": "team-b"}),
            "find_symbol": await a.call_tool("find_symbol", {"name": "b", "collection": "team-b"}),
            "symbol_neighbours": await a.call_tool("symbol_neighbours", {"symbol": "b", "collection": "team-b"}),
            "search_glob": await a.call_tool("search", {"query": "launch", "collection": ["team-a", "team-b"]}),
        }
        for tool, result in denied.items():
            assert "'team-b' is not available to this token" in refusal(result), tool
        for uri in (f"groundmcp://chunk/team-b/{b_id}", "groundmcp://file/team-b/1/2/src/b.py"):
            assert "not available to this token" in await resource_refusal(a, uri)
        # embed touches no collection and no file: the one tool with nothing to refuse.
        assert not (await a.call_tool("embed", {"texts": ["payroll"]})).is_error

    async with client(url, "tok-b") as b:  # and B, symmetrically, gets none of A's
        text = refusal(await b.call_tool("ingest", {"path": str(work / "a"), "collection": "team-b-stolen"}))
        assert "only use paths under its own roots" in text
        listed = (await b.call_tool("list_collections", {})).structured_content
        assert [c["name"] for c in listed["collections"]] == ["team-b"]
        assert "bravo team" in (await b.read_resource("groundmcp://file/team-b/1/2/src/b.py")).contents[0].text
        assert "not available" in await resource_refusal(b, "groundmcp://file/team-a/1/2/a.py")

    async with client(url, "tok-list") as old_form:  # a limited token with no roots
        for path in (str(work / "a"), "a", "."):
            text = refusal(await old_form.call_tool("ingest", {"path": path, "collection": "team-a-x"}))
            assert "has no roots" in text and "texts" in text
        text = await resource_refusal(old_form, "groundmcp://file/team-a/1/2/a.py")
        assert "has no roots" in text
        ok = await old_form.call_tool("ingest", {"texts": [{"id": "n", "text": "alpha notes"}], "collection": "team-a-x"})
        assert not ok.is_error and ok.structured_content["added"] == 1

    async with client(url, "admin-tok") as admin:  # the full-access token keeps the server's roots
        ok = await admin.call_tool("ingest", {"path": str(work / "a"), "collection": "admin-a"})
        assert not ok.is_error
        assert "bravo team" in (await admin.read_resource("groundmcp://file/team-a-shared/1/2/src/b.py")).contents[0].text


def test_token_roots_are_narrowed_to_the_servers_and_settings_keep_the_list_form(tmp_path):
    work = tmp_path / "work"
    (work / "a" / "deep").mkdir(parents=True)
    server = (work.resolve(),)
    assert narrow_roots(((work / "a").resolve(),), server) == ((work / "a").resolve(),)
    assert narrow_roots((tmp_path.resolve(),), server) == server  # a token root above the server's
    assert narrow_roots((Path("/elsewhere"),), server) == ()
    s = Settings(http_tokens={"old": ["c1"], "new": {"collections": ["c2"], "roots": [str(work / "a")]}})
    assert s.http_tokens["old"] == TokenGrant(collections=["c1"])
    assert s.http_tokens["new"].roots == [work / "a"]
    for bad, needle in (
        ({"t": {"collections": ["c"], "roots": ["relative/dir"]}}, "absolute"),
        ({"t": {"collections": ["c"], "folders": ["/x"]}}, "folders"),
        ({"t": {"collections": []}}, "non-empty list"),
    ):
        with pytest.raises(ValueError, match=needle):
            Settings(http_tokens=bad)
    state = AppState(settings=s, engine=None, roots=server)  # type: ignore[arg-type]
    outside = Access(("c2",), state, (Path("/elsewhere"),))
    with pytest.raises(Exception, match="none of this token's roots"):
        outside.allowed_path(str(work / "a"))
