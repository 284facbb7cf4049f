"""One search over several collections (issue 14): names, globs and lists; token limits over real
HTTP; one ranked list merged by score; collections of another model; filters; the budget."""

from __future__ import annotations

import json

import pytest
from mcp import Client

from groundmcp.access import Access, AppState
from groundmcp.engine import Engine
from groundmcp.errors import IncompatibleCollection, InputError
from groundmcp.integrations.langchain import GroundRetriever
from groundmcp.search.multi import MAX_COLLECTIONS, Target, search_many, select
from groundmcp.search.query import NoMatch, SearchRequest
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import write_project
from .inproc_http import serve_in_thread
from .mcp_helpers import http_client

A_TEXT = "def alpha_payroll():\n    return 'alpha team computes the monthly payroll with overtime'\n"
A_DOC = "# Alpha handbook\n\nThe alpha team pays overtime at one and a half times the hourly rate.\n"
B_TEXT = "def bravo_launch():\n    return 'bravo team keeps its zebra-quartz launch plan and payroll here'\n"
B_MARK = "zebra-quartz"


@pytest.fixture
def served_tenants(tmp_path, real_encoder):
    """team-a and team-a-docs (A's), team-b (B's) in one server over real HTTP, with tokens."""
    work = tmp_path / "work"
    for folder, name, text in (("a/src", "pay.py", A_TEXT), ("a/docs", "handbook.md", A_DOC), ("b/src", "b.py", B_TEXT)):
        (work / folder).mkdir(parents=True)
        (work / folder / name).write_text(text)
    tokens = {
        "tok-a": {"collections": ["team-a", "team-a-*"], "roots": [str(work / "a")]},
        "tok-b": {"collections": ["team-b*"], "roots": [str(work / "b")]},
    }
    settings = Settings(data_dir=tmp_path / "data", roots=[work], http_token="admin-tok", http_tokens=tokens, watch=False)
    engine = Engine(settings, encoder=real_encoder)
    engine.ingest(str(work / "a" / "src"), collection="team-a")
    engine.ingest(str(work / "a" / "docs"), collection="team-a-docs")
    engine.ingest(str(work / "b"), collection="team-b")
    with serve_in_thread(settings, engine) as url:
        yield url
    engine.close()


def error_text(result) -> str:
    assert result.is_error, result.structured_content
    return result.content[0].text


@pytest.mark.anyio
async def test_a_glob_or_list_stays_inside_the_tokens_collections_over_http(served_tenants):
    url = served_tenants
    async with http_client(url, "tok-a") as a:
        found = (await a.call_tool("search", {"query": "payroll overtime", "collection": "team-*"})).structured_content
        # The glob reached A's two collections only, and the hits say where each came from.
        assert found["collections"] == ["team-a", "team-a-docs"]
        assert {h["collection"] for h in found["hits"]} == {"team-a", "team-a-docs"}
        assert B_MARK not in json.dumps(found)
        # Naming a forbidden or unknown collection in a list fails exactly as naming it alone does.
        for bad in ("team-b", "team-a-nope", "other"):
            alone = error_text(await a.call_tool("search", {"query": "payroll", "collection": bad}))
            listed = error_text(await a.call_tool("search", {"query": "payroll", "collection": ["team-a", bad]}))
            assert listed == alone and B_MARK not in listed, bad
        assert "'team-b' is not available to this token" in error_text(
            await a.call_tool("search", {"query": "payroll", "collection": ["team-b"]}))
        # A glob matching only B's collections reads like one matching nothing at all: no leak.
        hidden = error_text(await a.call_tool("search", {"query": "payroll", "collection": "team-b*"}))
        nothing = error_text(await a.call_tool("search", {"query": "payroll", "collection": "zz*"}))
        assert hidden.replace("'team-b*'", "'zz*'") == nothing
        assert "this token's" in nothing and "'team-a', 'team-a-docs'" in nothing and "team-b" not in nothing
    async with http_client(url, "tok-b") as b:
        found = (await b.call_tool("search", {"query": "payroll", "collection": "*"})).structured_content
        assert found["collections"] == ["team-b"] and {h["collection"] for h in found["hits"]} == {"team-b"}
    async with http_client(url, "admin-tok") as admin:
        found = (await admin.call_tool("search", {"query": "payroll", "collection": "team-*", "top_k": 10})).structured_content
        assert found["collections"] == ["team-a", "team-a-docs", "team-b"]
        assert {h["collection"] for h in found["hits"]} == {"team-a", "team-a-docs", "team-b"}
        nothing = error_text(await admin.call_tool("search", {"query": "payroll", "collection": "zz*"}))
        assert "matches none of the collections ('team-a', 'team-a-docs', 'team-b')" in nothing


@pytest.fixture
def engine(tmp_path, real_encoder):
    eng = Engine(Settings(data_dir=tmp_path / "data", roots=[tmp_path], watch=False), encoder=real_encoder)
    yield eng
    eng.close()


def two_projects(tmp_path, engine) -> None:
    """proj-a holds the sample project's src/ (billing.py, retry.js), proj-b its docs/ (guide.md),
    and "all" both folders."""
    root = write_project(tmp_path / "project")
    engine.ingest(str(root / "src"), collection="proj-a")
    engine.ingest(str(root / "docs"), collection="proj-b")
    engine.ingest(str(root / "src"), collection="all")
    engine.ingest(str(root / "docs"), collection="all")


def test_dense_scores_merge_into_the_ranking_one_collection_of_both_gives(tmp_path, engine):
    two_projects(tmp_path, engine)
    request = SearchRequest(query="refund policy and invoice totals", top_k=6, mode="dense")
    merged = search_many(engine, request, select("proj-*", default=lambda: "x", name=str, listed=engine.collection_names))
    together = engine.search(request, collection="all")
    assert merged.collections == ["proj-a", "proj-b"] and merged.skipped == []
    assert [(h.path, h.start_line) for h in merged.hits] == [(h.path, h.start_line) for h in together]
    assert [h.score for h in merged.hits] == pytest.approx([h.score for h in together], abs=1e-5)
    assert {h.collection for h in merged.hits} == {"proj-a", "proj-b"}
    assert all(h.collection == ("proj-b" if h.path == "guide.md" else "proj-a") for h in merged.hits)
    # Hybrid and rerank give one list best first too, the reranker run once over the merged candidates.
    for req in (SearchRequest(query="refund policy", top_k=4), SearchRequest(query="refund policy", top_k=3, rerank=True)):
        hits = search_many(engine, req, [Target("proj-a", True), Target("proj-b", True)]).hits
        assert 2 <= len(hits) <= req.top_k and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
        assert hits[0].path == "guide.md" and hits[0].collection == "proj-b"


def test_the_same_chunk_in_two_collections_is_listed_once(tmp_path, engine):
    two_projects(tmp_path, engine)
    hits = search_many(engine, SearchRequest(query="parse currency", top_k=10),
                       [Target("proj-a", False), Target("all", False)]).hits
    assert len({h.id for h in hits}) == len(hits)
    assert any(h.path == "billing.py" for h in hits)


def test_a_collection_of_another_model_is_an_error_when_named_and_skipped_by_a_glob(tmp_path, engine, hashing_encoder):
    two_projects(tmp_path, engine)
    other = Engine(engine.settings, encoder=hashing_encoder, store=engine.store)  # the same store, another model
    other.ingest(str(tmp_path / "project" / "docs"), collection="proj-old")
    alone = SearchRequest(query="refund policy", top_k=3)
    with pytest.raises(IncompatibleCollection) as single:
        engine.search(alone, collection="proj-old")
    with pytest.raises(IncompatibleCollection) as named:
        search_many(engine, alone, [Target("proj-a", False), Target("proj-old", False)])
    assert str(named.value) == str(single.value) and "was built with hashing" in str(named.value)
    found = search_many(engine, alone, select("proj-*", default=str, name=str, listed=engine.collection_names))
    assert found.collections == ["proj-a", "proj-b"]
    assert [s.collection for s in found.skipped] == ["proj-old"] and "was built with" in found.skipped[0].reason
    assert found.hits and {h.collection for h in found.hits} <= {"proj-a", "proj-b"}
    with pytest.raises(InputError, match="none of the collections matched could be searched: proj-old: "):
        search_many(engine, alone, select("proj-o*", default=str, name=str, listed=engine.collection_names))


def test_a_filter_matching_one_collection_only_narrows_the_search(tmp_path, engine):
    two_projects(tmp_path, engine)
    targets = [Target("proj-a", True), Target("proj-b", True)]
    hits = search_many(engine, SearchRequest(query="refunds", top_k=5, path_glob="*.md"), targets).hits
    assert hits and {h.collection for h in hits} == {"proj-b"}
    hits = search_many(engine, SearchRequest(query="retry", top_k=5, languages=("javascript",)), targets).hits
    assert hits and {(h.collection, h.language) for h in hits} == {("proj-a", "javascript")}
    with pytest.raises(NoMatch, match="in any collection searched: the path filter 'nope/' .* 'proj-a'.*'proj-b'"):
        search_many(engine, SearchRequest(query="refunds", path_glob="nope/"), targets)


def test_select_names_globs_lists_and_says_what_is_wrong(tmp_path, engine):
    two_projects(tmp_path, engine)
    allowed = Access(("proj-*",), AppState(settings=engine.settings, engine=engine, roots=(tmp_path,)))
    assert [t.name for t in allowed.collections(["proj-b", "proj-*"])] == ["proj-b", "proj-a"]
    assert [t.globbed for t in allowed.collections(["proj-b", "proj-*"])] == [False, True]
    assert allowed.collections("proj-a") == [Target("proj-a", False)]
    for bad in ([], [""], ["  "]):
        with pytest.raises(InputError, match="non-empty list"):
            allowed.collections(bad)
    with pytest.raises(InputError, match=r"'\[x\]\*' matches none of this token's collections \('proj-a', 'proj-b'\)"):
        allowed.collections("[x]*")
    many = [f"c{i}" for i in range(MAX_COLLECTIONS + 1)]
    with pytest.raises(InputError, match=f"at most {MAX_COLLECTIONS}"):
        select("c*", default=str, name=str, listed=lambda: many)


@pytest.mark.anyio
async def test_the_tool_merges_inside_the_token_budget_and_names_each_hits_collection(tmp_path, engine):
    root = write_project(tmp_path / "project")
    long = "\n".join(f"    step_{i} = compute_invoice_line({i}, tax=0.2)  # invoice line {i}" for i in range(300))
    (root / "src" / "big_invoice.py").write_text(f"def render_big_invoice():\n{long}\n    return step_0\n")
    engine.ingest(str(root / "src"), collection="proj-a")
    engine.ingest(str(root / "docs"), collection="proj-b")
    async with Client(build_server(engine.settings, engine=engine)) as client:
        # One name: the response keeps its shape (the collection said once, not per hit).
        one = (await client.call_tool("search", {"query": "refund policy", "collection": "proj-b"})).structured_content
        assert one["collection"] == "proj-b" and "collections" not in one and "skipped" not in one
        assert one["hits"] and not any("collection" in h for h in one["hits"])
        # A glob, even one matching a single collection, lists what it searched and names it per hit.
        glob = (await client.call_tool("search", {"query": "refund policy", "collection": "proj-b*"})).structured_content
        assert glob["collections"] == ["proj-b"] and {h["collection"] for h in glob["hits"]} == {"proj-b"}
        small = await client.call_tool("search", {"query": "invoice line tax refunds", "collection": ["proj-a", "proj-b"],
                                                  "top_k": 20, "max_tokens": 600})
        data = small.structured_content
        assert data["collection"] == "proj-a, proj-b" and data["collections"] == ["proj-a", "proj-b"]
        assert len(json.dumps(data)) / 4 <= 600 and len(small.content[0].text) / 4 <= 600
        assert data["trimmed"] + data["omitted"] > 0
        if data["trimmed"]:
            assert "groundmcp://chunk/{collection}/{id}" in data["note"]
        text = small.content[0].text
        assert "in 2 collection(s) ('proj-a', 'proj-b')" in text and "(collection proj-" in text


def test_the_langchain_retriever_searches_several_collections(tmp_path, engine):
    two_projects(tmp_path, engine)
    docs = GroundRetriever(engine=engine, collection=["proj-a", "proj-b"], top_k=6).invoke("refunds and invoices")
    assert {d.metadata["collection"] for d in docs} == {"proj-a", "proj-b"}
    assert all(d.metadata["disk_state"] == "unchanged" and d.metadata["indexed_at"] for d in docs)
    assert {d.metadata["collection"] for d in GroundRetriever(engine=engine, collection="proj-b").invoke("refunds")} == {"proj-b"}
