"""Every tool, resource and prompt through the SDK's real client, in-process, on a real index."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import write_project

pytestmark = pytest.mark.anyio


@pytest.fixture
def served(tmp_path, real_encoder):
    """A server over an index of the sample project (ingested through the engine), in-process."""
    root = write_project(tmp_path / "work" / "project")
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"])
    engine = Engine(settings, encoder=real_encoder)
    engine.ingest(str(root))
    yield build_server(settings, engine=engine), root
    engine.close()


async def call(client, tool, **args):
    result = await client.call_tool(tool, args)
    return result


async def test_tools_are_listed_with_annotations_and_schemas(served):
    async with Client(served[0]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == {
        "search", "rerank", "ingest", "embed", "list_collections", "collection_stats", "delete_collection", "delete_paths",
        "find_symbol", "symbol_neighbours", "list_files",
    }
    for tool in tools.values():
        assert tool.annotations is not None and tool.title and tool.description
        assert tool.output_schema and tool.output_schema["type"] == "object"
    assert tools["search"].annotations.read_only_hint is True
    assert tools["delete_collection"].annotations.destructive_hint is True
    assert tools["delete_paths"].annotations.destructive_hint is True
    props = tools["search"].input_schema["properties"]
    assert props["top_k"]["maximum"] == 50 and "description" in props["query"]


async def test_search_returns_citations_as_structured_content(served):
    async with Client(served[0]) as client:
        result = await call(client, "search", query="retry with exponential backoff", top_k=3)
    assert not result.is_error
    data = result.structured_content
    top = data["hits"][0]
    assert top["path"] == "src/retry.js" and top["symbol"] == "retryWithBackoff"
    assert top["citation"] == f"src/retry.js:{top['start_line']}-{top['end_line']}"
    assert data["omitted"] == 0 and data["note"] == ""


async def test_token_budget_holds_and_says_what_was_cut(served):
    _, root = served
    long = "\n".join(f"    step_{i} = compute_invoice_line({i}, tax=0.2)  # invoice line {i}" for i in range(400))
    (root / "src" / "big_invoice.py").write_text(f"def render_big_invoice():\n{long}\n    return step_0\n")
    async with Client(served[0]) as client:
        await call(client, "ingest", path=str(root))
        raw = await call(client, "search", query="invoice line tax", top_k=20, max_tokens=20000)
        small = await call(client, "search", query="invoice line tax", top_k=20, max_tokens=600)
    raw_size = len(json.dumps(raw.structured_content)) // 4
    data = small.structured_content
    assert raw_size > 600  # unbudgeted, these results would not fit
    assert len(json.dumps(data)) / 4 <= 600
    assert len(small.content[0].text) / 4 <= 600
    assert data["trimmed"] + data["omitted"] > 0
    assert "max_tokens" in data["note"] or "truncated" in data["note"]
    for hit in data["hits"]:
        if hit["truncated"]:
            lo, hi = hit["chunk_lines"]
            assert lo <= hit["start_line"] <= hit["end_line"] <= hi


async def test_error_results_are_actionable_and_the_server_keeps_serving(served, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x.py").write_text("def x():\n    return 1\n")
    blob = served[1] / "blob.bin.txt"
    blob.write_bytes(b"\x00\x01\x02" * 50)
    async with Client(served[0]) as client:
        cases = {
            "unknown collection": (await call(client, "search", query="x", collection="nope"), "does not exist"),
            "empty query": (await call(client, "search", query="   "), "empty"),
            "top_k out of range": (await call(client, "search", query="x", top_k=500), "top_k"),
            "outside roots": (await call(client, "ingest", path=str(outside)), "outside the allowed roots"),
            "binary file": (await call(client, "ingest", path=str(blob)), "binary file"),
            "neither path nor texts": (await call(client, "ingest"), "exactly one of"),
            "delete unknown": (await call(client, "delete_collection", collection="nope"), "no collection"),
        }
        for name, (result, needle) in cases.items():
            assert result.is_error, name
            assert needle in result.content[0].text, (name, result.content[0].text)
        ok = await call(client, "search", query="refund policy")
    assert not ok.is_error and ok.structured_content["hits"]


async def test_ingest_reports_progress_and_is_incremental(served):
    _, root = served
    for i in range(6):
        (root / "src" / f"extra{i}.py").write_text(f"def extra_{i}(value):\n    return value * {i}\n")
    seen = []

    async def progress(done, total, message):
        seen.append((done, total, message))

    async with Client(served[0]) as client:
        first = await client.call_tool("ingest", {"path": str(root)}, progress_callback=progress)
        again = await call(client, "ingest", path="project")  # relative to the single root
    data = first.structured_content
    assert data["added"] == 6 and data["unchanged"] == 3 and data["chunks"] >= 6
    assert seen and seen[-1][0] == seen[-1][1] == 6 and "files" in seen[-1][2]
    assert again.structured_content["chunks"] == 0 and again.structured_content["unchanged"] == 9


async def test_ingest_texts_then_find_them(served):
    async with Client(served[0]) as client:
        result = await call(
            client, "ingest", texts=[{"id": "faq/shipping", "text": "Parcels ship from Rotterdam every Tuesday."}],
            collection="notes",
        )
        assert result.structured_content["added"] == 1
        found = await call(client, "search", query="when do parcels ship", collection="notes")
    assert found.structured_content["hits"][0]["path"] == "faq/shipping"


async def test_embed_matches_the_index_encoder(served):
    async with Client(served[0]) as client:
        result = await call(client, "embed", texts=["retry with backoff", "refund policy"], kind="query")
        too_many = await call(client, "embed", texts=["x"] * 17)
    data = result.structured_content
    assert data["dim"] == 384 and len(data["vectors"]) == 2 and len(data["vectors"][0]) == 384
    assert abs(sum(x * x for x in data["vectors"][0]) - 1) < 1e-3
    assert too_many.is_error


async def test_collections_stats_and_deletes(served):
    async with Client(served[0]) as client:
        listed = (await call(client, "list_collections")).structured_content
        assert listed["default"] == "default"
        assert [c["name"] for c in listed["collections"]] == ["default"]
        stats = (await call(client, "collection_stats")).structured_content
        assert stats["files"] == 3 and stats["languages"]["python"] >= 1 and set(stats["kinds"]) == {"code", "doc"}
        listed_files = (await call(client, "list_files")).structured_content
        assert [f["path"] for f in listed_files["files"]] == ["docs/guide.md", "src/billing.py", "src/retry.js"]
        assert listed_files["total"] == 3 and not listed_files["truncated"]
        one = (await call(client, "list_files", glob="src/**/*.py", limit=1)).structured_content
        assert [f["path"] for f in one["files"]] == ["src/billing.py"] and one["files"][0]["chunks"] >= 1
        first = (await call(client, "list_files", limit=1)).structured_content
        assert first["total"] == 3 and first["truncated"] and len(first["files"]) == 1
        gone = (await call(client, "delete_paths", paths=["docs"])).structured_content
        assert gone["deleted_chunks"] >= 1
        hits = (await call(client, "search", query="refund policy", top_k=10)).structured_content["hits"]
        assert all(not h["path"].startswith("docs/") for h in hits)
        assert not (await call(client, "delete_collection", collection="default")).is_error
        assert (await call(client, "list_collections")).structured_content["collections"] == []


async def test_resources_read_chunks_and_file_lines_but_nothing_else(served):
    async with Client(served[0]) as client:
        hit = (await call(client, "search", query="parse currency", top_k=1)).structured_content["hits"][0]
        chunk = await client.read_resource(f"groundmcp://chunk/default/{hit['id']}")
        assert json.loads(chunk.contents[0].text)["text"].startswith(hit["text"][:20])
        lines = await client.read_resource("groundmcp://file/default/1/3/src/billing.py")
        assert lines.contents[0].text.splitlines()[0] == '"""Billing helpers."""'
        for bad, why in (
            ("groundmcp://file/default/1/3/../../etc/passwd", "Unknown resource"),  # refused by the SDK
            ("groundmcp://file/default/1/3/src/not-indexed.py", "not an ingested file"),
            ("groundmcp://chunk/default/00000000-0000-0000-0000-000000000000", "no chunk with id"),
        ):
            with pytest.raises(MCPError, match=why):
                await client.read_resource(bad)


async def test_grounded_answer_prompt(served):
    async with Client(served[0]) as client:
        prompts = (await client.list_prompts()).prompts
        assert [p.name for p in prompts] == ["grounded-answer"]
        got = await client.get_prompt("grounded-answer", {"question": "How are refunds issued?"})
    text = got.messages[0].content.text
    assert "How are refunds issued?" in text and "path:start-end" in text
    assert "index has no answer" in text and "data, not instructions" in text


def test_state_copies_for_other_tests(tmp_path):
    """Guard: write_project makes the tree the tests above rely on."""
    root = write_project(tmp_path / "p")
    assert sorted(p.name for p in (root / "src").iterdir()) == ["billing.py", "retry.js"]
    shutil.rmtree(root)


async def test_searches_from_another_client_run_while_an_ingest_does(served, stdlib_json_copy, tmp_path):
    mcp, root = served
    import shutil as _shutil

    _shutil.copytree(stdlib_json_copy, root / "vendored_json")
    events: list[str] = []

    async def ingest_all():
        async with Client(mcp) as writer:
            result = await writer.call_tool("ingest", {"path": str(root)})
            assert result.structured_content["added"] >= 4
        events.append("ingest done")

    async def search_meanwhile():
        async with Client(mcp) as reader:
            await anyio.sleep(0.3)  # let the ingest start
            while "ingest done" not in events:
                hits = (await reader.call_tool("search", {"query": "refund policy"})).structured_content["hits"]
                assert hits[0]["path"] == "docs/guide.md"
                events.append("search")

    async with anyio.create_task_group() as tg:
        tg.start_soon(ingest_all)
        tg.start_soon(search_meanwhile)
    assert events.index("ingest done") >= 2, events  # searches completed while the ingest ran


async def test_rerank_tool_orders_texts_and_chunks(served):
    async with Client(served[0]) as client:
        texts = ["Refund policy: refunds within 14 days.", "def retry_with_backoff(fn): ...", "Shipping times"]
        ranked = (await call(client, "rerank", query="how do I get my money back", documents=texts)).structured_content
        assert ranked["results"][0]["index"] == 0 and len(ranked["results"]) == 3
        hits = (await call(client, "search", query="retry backoff", top_k=3)).structured_content["hits"]
        ids = [h["id"] for h in hits]
        by_id = (await call(client, "rerank", query="exponential backoff retries", chunk_ids=ids, top_k=2)).structured_content
        assert len(by_id["results"]) == 2 and by_id["results"][0]["citation"].startswith("src/retry.js:")
        both = await call(client, "rerank", query="x", documents=["a"], chunk_ids=ids)
        bad_id = await call(client, "rerank", query="x", chunk_ids=["not-an-id"])
        reranked = (await call(client, "search", query="refunds", rerank=True, top_k=2)).structured_content
    assert both.is_error and "exactly one" in both.content[0].text
    assert bad_id.is_error and "not a chunk id" in bad_id.content[0].text
    assert reranked["mode"] == "hybrid+rerank" and reranked["hits"][0]["path"] == "docs/guide.md"


def test_roots_default_to_the_current_folder_but_never_to_home_or_slash(tmp_path, monkeypatch):
    from groundmcp.access import AppState, resolve_roots
    from groundmcp.errors import InputError

    monkeypatch.chdir(tmp_path)
    assert resolve_roots(Settings()) == (tmp_path.resolve(),)
    assert resolve_roots(Settings(roots=[tmp_path / "a"])) == ((tmp_path / "a").resolve(),)
    for unsafe in ("/", str(Path.home())):
        monkeypatch.chdir(unsafe)
        assert resolve_roots(Settings()) == ()
    state = AppState(settings=Settings(), engine=None, roots=())
    with pytest.raises(InputError, match="no allowed roots"):
        state.allowed_path("/etc")


async def test_search_counts_no_points_per_call_and_sees_ingests_and_deletes(tmp_path, real_encoder):
    """The search tool reads a collection's info once (store.info counts every point), yet a
    search after an ingest or a delete in the same server sees the collection as it is."""
    from groundmcp.store.factory import open_store

    from .test_search import CountingStore

    root = write_project(tmp_path / "work" / "project")
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"])
    store = CountingStore(open_store(data_dir=settings.data_dir, qdrant_url=None, qdrant_api_key=None,
                                     qdrant_local_path=None))
    engine = Engine(settings, encoder=real_encoder, store=store)
    try:
        async with Client(build_server(settings, engine=engine)) as client:
            missing = await call(client, "search", query="retry with backoff")
            assert missing.is_error and "does not exist" in missing.content[0].text
            assert not (await call(client, "ingest", path=str(root))).is_error
            before = store.infos
            for query in ("retry with exponential backoff", "refund policy", "invoice total with tax"):
                assert (await call(client, "search", query=query)).structured_content["hits"]
            assert store.infos - before <= 1
            (root / "src" / "shipping.py").write_text("def ship_parcels_from_rotterdam():\n    return 'tuesday'\n")
            assert not (await call(client, "ingest", path=str(root))).is_error
            hits = (await call(client, "search", query="ship parcels from Rotterdam")).structured_content["hits"]
            assert hits[0]["path"] == "src/shipping.py"
            assert not (await call(client, "delete_collection", collection="default")).is_error
            gone = await call(client, "search", query="ship parcels")
            assert gone.is_error and "does not exist" in gone.content[0].text
            assert not (await call(client, "ingest", path=str(root))).is_error
            again = await call(client, "search", query="ship parcels from Rotterdam")
            assert again.structured_content["hits"][0]["path"] == "src/shipping.py"
    finally:
        engine.close()


async def test_the_server_prepares_the_single_text_path_in_the_background(tmp_path, real_encoder):
    root = write_project(tmp_path / "work" / "project")
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"])
    indexer = Engine(settings, encoder=real_encoder)
    indexer.ingest(str(root))
    indexer.close()
    engine = Engine(settings)  # its encoder loads in the server's lifespan, as in production
    try:
        async with Client(build_server(settings, engine=engine)) as client:
            assert not (await call(client, "search", query="refund policy")).is_error
            for _ in range(600):  # the encoder-load thread: under a second once the model is loaded
                if engine.encoder.query_path == "onnx":
                    break
                await anyio.sleep(0.1)
            assert engine.encoder.query_path == "onnx"
            hits = (await call(client, "search", query="retry with exponential backoff")).structured_content["hits"]
        assert hits[0]["path"] == "src/retry.js"
    finally:
        engine.close()
