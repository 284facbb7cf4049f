"""The LangChain retriever and tools (groundmcp.integrations.langchain) over a real index."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage

from groundmcp.engine import Engine
from groundmcp.errors import CollectionNotFound
from groundmcp.integrations.langchain import GroundRetriever, groundmcp_tools
from groundmcp.settings import Settings

from .conftest import write_project

pytestmark = pytest.mark.anyio

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def indexed(tmp_path_factory, real_encoder):
    base = tmp_path_factory.mktemp("lc")
    root = write_project(base / "project")
    engine = Engine(Settings(data_dir=base / "data"), encoder=real_encoder)
    engine.ingest(str(root))
    yield engine, root
    engine.close()


def test_retriever_returns_documents_with_citations(indexed):
    engine, root = indexed
    docs = GroundRetriever(engine=engine, top_k=3).invoke("retry with exponential backoff")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    meta = top.metadata
    assert meta["path"] == "src/retry.js" and meta["symbol"] == "retryWithBackoff"
    assert meta["citation"] == f"src/retry.js:{meta['start_line']}-{meta['end_line']}"
    assert meta["language"] == "javascript" and meta["kind"] == "code" and meta["collection"] == "default"
    assert meta["root"] == str(root) and top.id == meta["id"]
    assert "retryWithBackoff" in top.page_content
    scores = [d.metadata["score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    # The lines cited are the lines of the file the text came from.
    lines = (root / meta["path"]).read_text().splitlines()[meta["start_line"] - 1 : meta["end_line"]]
    assert top.page_content == "\n".join(lines)


@pytest.mark.parametrize(
    ("options", "check"),
    [
        ({"kind": "doc"}, lambda d: d.metadata["kind"] == "doc"),
        ({"path": "src/*.py"}, lambda d: d.metadata["path"] == "src/billing.py"),
        ({"languages": ["javascript"]}, lambda d: d.metadata["language"] == "javascript"),
    ],
)
def test_retriever_filters(indexed, options, check):
    docs = GroundRetriever(engine=indexed[0], top_k=5, **options).invoke("invoice refunds retries")
    assert docs and all(check(d) for d in docs)


async def test_retriever_async_matches_sync(indexed):
    retriever = GroundRetriever(engine=indexed[0], top_k=2, mode="sparse")
    assert await retriever.ainvoke("parse_currency") == retriever.invoke("parse_currency")


def test_retriever_unknown_collection_says_what_exists(indexed):
    with pytest.raises(CollectionNotFound, match="does not exist.*'default'"):
        GroundRetriever(engine=indexed[0], collection="missing").invoke("x")


def test_search_tool_gives_the_model_citations_and_documents(indexed):
    tools = {t.name: t for t in groundmcp_tools(indexed[0])}
    assert list(tools) == ["search", "list_collections", "collection_stats", "find_symbol",
                           "symbol_neighbours"]  # no ingest without roots
    schema = tools["search"].tool_call_schema.model_json_schema()
    assert {"query", "top_k", "path", "languages", "kind", "mode", "max_tokens"} == set(schema["properties"])
    call = {"type": "tool_call", "id": "c1", "name": "search", "args": {"query": "refund policy", "top_k": 2}}
    message = tools["search"].invoke(call)
    assert isinstance(message, ToolMessage) and message.status == "success"
    docs = message.artifact
    assert docs[0].metadata["path"] == "docs/guide.md"
    for doc in docs:  # what the model reads: each hit under its citation
        assert f"[{doc.metadata['citation']}]" in message.content and doc.page_content in message.content
    assert "14 days" in message.content


def test_search_tool_keeps_within_its_token_budget(indexed):
    search = groundmcp_tools(indexed[0])[0]
    text = search.invoke({"query": "invoice tax total retry refund", "top_k": 7, "max_tokens": 800})
    assert len(text) // 4 <= 800 and "more hit(s) left out to stay within max_tokens=800" in text
    assert text.startswith("[") and re.search(r"^\[[\w/]+\.\w+:\d+-\d+\]", text, flags=re.M)
    tiny = search.invoke({"query": "invoice tax total retry refund", "top_k": 7, "max_tokens": 200})
    # A small budget still returns the best hit, trimmed to fit, and says what was left out.
    assert tiny.startswith("[") and "6 more hit(s) left out" in tiny and len(tiny) // 4 <= 200


async def test_tools_report_errors_to_the_model_and_run_async(indexed):
    tools = {t.name: t for t in groundmcp_tools(indexed[0], collection="missing")}
    message = await tools["search"].ainvoke(
        {"type": "tool_call", "id": "c2", "name": "search", "args": {"query": "x"}}
    )
    assert message.status == "error" and "does not exist" in message.content and "'default'" in message.content
    listed = json.loads(await tools["list_collections"].ainvoke({}))
    assert listed["default"] == "missing" and listed["collections"][0]["name"] == "default"
    stats = json.loads(tools["collection_stats"].invoke({"collection": "default"}))
    assert stats["files"] == 3 and stats["languages"]["python"] > 0


def test_ingest_tool_only_within_its_roots(indexed, tmp_path):
    engine, root = indexed
    tools = {t.name: t for t in groundmcp_tools(engine, ingest_roots=[root])}
    outside = tools["ingest"].invoke({"path": str(tmp_path)})
    assert "outside the allowed roots" in outside and "ingest_roots" in outside and "restart" not in outside
    (root / "src" / "shipping.py").write_text("def ship_parcel(weight_kg):\n    return weight_kg * 3\n")
    report = json.loads(tools["ingest"].invoke({"path": "."}))  # relative to the one root
    assert report["added"] == 1 and report["chunks"] >= 1
    hits = tools["search"].invoke({"query": "ship a parcel by weight", "top_k": 1})
    assert hits.startswith("[src/shipping.py:1-2]")


def test_readme_langchain_snippet_runs(indexed, tmp_path, monkeypatch):
    """The README's LangChain block, run as written against an index of the sample project in the
    collection `make demo` builds ("groundmcp")."""
    code = re.search(r"### LangChain.*?```python\n(.*?)```", README, flags=re.S).group(1)
    data = tmp_path / "data"
    engine = Engine(Settings(data_dir=data), encoder=indexed[0].encoder)
    engine.ingest(str(write_project(tmp_path / "project")), collection="groundmcp")
    engine.close()
    monkeypatch.setenv("GROUNDMCP_DATA_DIR", str(data))
    printed: list[tuple] = []
    scope = {"print": lambda *args: printed.append(args)}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own snippet
    assert printed[0][0].startswith("src/retry.js:") and printed[0][1] == "retryWithBackoff"
    assert [t.name for t in scope["tools"]] == [
        "search", "list_collections", "collection_stats", "find_symbol", "symbol_neighbours",
    ]


def test_missing_extra_names_the_install_command(monkeypatch):
    for name in [m for m in sys.modules if m == "langchain_core" or m.startswith("langchain_core.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "langchain_core", None)
    monkeypatch.delitem(sys.modules, "groundmcp.integrations.langchain")
    with pytest.raises(ImportError, match=re.escape("pip install 'groundmcp[langchain]'")):
        importlib.import_module("groundmcp.integrations.langchain")


def test_the_server_and_cli_import_no_integration():
    """The base install stays lean: the engine, server and CLI import no LangChain or client SDK."""
    probe = (
        "import sys, groundmcp.engine, groundmcp.server.app, groundmcp.cli, groundmcp.doctor\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'langchain_core', 'anthropic', 'openai', 'agents'}), 'groundmcp.integrations' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[] False"


def test_from_settings_takes_the_store_over_from_a_running_owner(tmp_path):
    """A LangChain script run while CLI commands share an owner: the retriever opens the store in
    its process, asking the owner to stop as an in-process CLI command does."""
    import os
    import subprocess
    import sys

    from groundmcp.owner.paths import OwnerPaths, is_held

    data = tmp_path / "d"
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data), "GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0"}
    started = subprocess.run([sys.executable, "-m", "groundmcp", "collections"], env=env,
                             capture_output=True, text=True, timeout=300)
    assert started.returncode == 0 and is_held(OwnerPaths(data).lock), started.stderr
    retriever = GroundRetriever.from_settings(Settings(data_dir=data, watch=False))
    try:
        assert not is_held(OwnerPaths(data).lock)
        assert retriever.engine.collection_names() == []
    finally:
        retriever.engine.close()
