"""Filters that match nothing say so (issue 15, point 4): an unknown language or kind is an error that
lists what the collection holds, aliases resolve, and a path glob that matches no file says so."""

from __future__ import annotations

import pytest

from groundmcp.engine import Engine
from groundmcp.errors import InputError
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings


@pytest.fixture
def engine(tmp_path, project, hashing_encoder):
    e = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    e.ingest(str(project))
    yield e
    e.close()


def find(engine, **kw):
    return engine.search(SearchRequest(query=kw.pop("query", "billing invoice retry"), top_k=10, **kw))


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
@pytest.mark.parametrize(
    ("languages", "expected"),
    [(("py",), {"python"}), (("Python",), {"python"}), (("PY", "js"), {"python", "javascript"}),
     ((".md",), {"markdown"}), (("JavaScript",), {"javascript"})],
)
def test_language_aliases_and_case_resolve(engine, mode, languages, expected):
    hits = find(engine, languages=languages, mode=mode)
    assert hits and {h.language for h in hits} <= expected


def test_kind_alias_resolves(engine):
    hits = find(engine, kinds=("docs",))
    assert hits and {h.kind for h in hits} == {"doc"}
    assert {h.kind for h in find(engine, kinds=("CODE",))} == {"code"}


def test_unknown_language_is_an_error_listing_what_the_collection_holds(engine):
    with pytest.raises(InputError) as err:
        find(engine, languages=("klingon",))
    msg = str(err.value)
    assert "language filter 'klingon'" in msg and "collection 'default'" in msg
    for held in ("python (1 file)", "javascript (1 file)", "markdown (1 file)"):
        assert held in msg
    assert "leave the language filter out" in msg
    # A real language the collection does not hold is refused the same way.
    with pytest.raises(InputError, match="language filter 'golang'"):
        find(engine, languages=("python", "golang"))


def test_unknown_kind_is_an_error(engine):
    with pytest.raises(InputError, match=r"kind filter 'binary' .* it holds: code \(2 files\), doc \(1 file\)"):
        find(engine, kinds=("binary",))


def test_a_path_glob_that_matches_no_file_says_so(engine):
    with pytest.raises(InputError, match=r"path filter 'lib/\*\*/\*.py' matches no indexed file"):
        find(engine, path_glob="lib/**/*.py")
    with pytest.raises(InputError, match="path filter 'src/missing.py'"):
        find(engine, path_glob="src/missing.py")
    with pytest.raises(InputError, match=r"path filter 'src/\*\*/nothing\*.py'"):
        find(engine, path_glob="src/**/nothing*.py")  # folder and extension exist; no name matches
    # A glob that matches files but not the query's words still just finds nothing.
    assert find(engine, path_glob="src/**/*.py", query="zzzqqqxxx", mode="sparse") == []
    assert find(engine, path_glob="src/**/*.py")


def test_the_language_list_is_cached_and_refreshed_after_an_ingest(engine, project):
    find(engine, languages=("python",))
    reads = []
    original = engine.store.scroll
    engine.store.scroll = lambda *a, **k: reads.append(a) or original(*a, **k)
    find(engine, languages=("python",))
    assert reads == []  # the fast path reads no facets
    (project / "main.go").write_text("package main\n\nfunc main() { println(\"billing\") }\n")
    engine.ingest(str(project))
    assert {h.language for h in find(engine, languages=("golang",))} == {"go"}


def test_the_langchain_retriever_gets_the_same_error(engine):
    """The rule is in the engine, so every front end gets it (the MCP tool as an isError result)."""
    from groundmcp.integrations.langchain import GroundRetriever

    retriever = GroundRetriever(engine=engine, languages=["cobol"])
    with pytest.raises(InputError, match="language filter 'cobol'"):
        retriever.invoke("billing")


@pytest.mark.anyio
async def test_over_mcp_a_bad_filter_is_a_tool_error_and_stats_and_delete_give_figures(tmp_path, project, hashing_encoder):
    from mcp import Client

    from groundmcp.server.app import build_server

    settings = Settings(data_dir=tmp_path / "data", model="hashing-64", roots=[project])
    engine = Engine(settings, encoder=hashing_encoder)
    try:
        report = engine.ingest(str(project))
        async with Client(build_server(settings, engine=engine)) as client:
            bad = await client.call_tool("search", {"query": "billing", "languages": ["klingon"]})
            assert bad.is_error and "language filter 'klingon'" in bad.content[0].text
            bad = await client.call_tool("search", {"query": "billing", "path": "lib/**"})
            assert bad.is_error and "matches no indexed file" in bad.content[0].text
            ok = await client.call_tool("search", {"query": "billing", "languages": ["py"]})
            assert not ok.is_error and ok.structured_content["hits"][0]["path"] == "src/billing.py"
            stats = (await client.call_tool("collection_stats", {})).structured_content
            assert stats["files_by_language"] == {"python": 1, "javascript": 1, "markdown": 1}
            assert stats["chunks"] == report.chunks and stats["disk_bytes"] > 0
            listed = (await client.call_tool("list_collections", {})).structured_content["collections"]
            assert listed[0]["chunks"] == report.chunks
            deleted = (await client.call_tool("delete_collection", {"collection": "default"})).structured_content
            assert deleted == {"collection": "default", "deleted_chunks": report.chunks}
    finally:
        engine.close()
