"""Every example in examples/ runs here, offline, as a user would run it.

The client SDKs (anthropic, openai, openai-agents, langchain-core, langchain-mcp-adapters), their
MCP helpers and groundmcp are all real; only the model is scripted (tests/scripted_models.py),
through the SDK's own HTTP transport hook (`http_client=`), or, for an example's main(), through
the SDK's base-URL variable. Each test checks that a search result (its `path:start-end` citation
and its text) reached the model and that the final answer cites it.

The examples that take --url share one `groundmcp serve --http --token` (conftest's
`shared_http_server`): every server process loads the model, and that is most of this module's time.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from groundmcp.engine import Engine
from groundmcp.settings import Settings

from .conftest import write_project
from .scripted_models import CITATION, ScriptedChatModel, ScriptedModel

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
GROUNDMCP = str(Path(sys.executable).with_name("groundmcp"))  # the console script a user runs
ADAPTERS_PYTHON = REPO / ".venv-adapters" / "bin" / "python"
QUESTION = "retry with exponential backoff"
TOP = "src/retry.js"  # the file that answers QUESTION in the sample project

pytestmark = pytest.mark.anyio

# Each example and the test that runs it; test_every_example_is_run fails on an example left out.
RUN_BY = {
    "claude_tool_loop.py": "test_claude_tool_loop_over_http",
    "openai_tool_loop.py": "test_openai_tool_loop_over_http",
    "openai_agents.py": "test_openai_agents_over_http",
    "langchain_retriever.py": "test_langchain_retriever_example",
    "langchain_adapters_client.py": "test_langchain_mcp_adapters_from_their_own_venv",
}


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{Path(name).stem}", EXAMPLES / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module", autouse=True)
def no_agent_traces():
    """The Agents SDK uploads traces to OpenAI unless told not to; nothing here may leave the machine.
    (Its switch is process-wide and has no "unset": it stays off for the rest of the session.)"""
    from agents import set_tracing_disabled

    set_tracing_disabled(True)


@pytest.fixture(scope="module")
def served(shared_http_server):
    """One `groundmcp serve --http --token` (conftest's, shared with other read-only tests), for
    the --url examples."""
    return shared_http_server


def check_conversation(model: ScriptedModel) -> None:
    """The model was offered the read-only tools with the server's schema, got the search hits
    with their citations, and answered citing one of them."""
    tools = model.offered_tools
    assert {"search", "list_collections"} <= set(tools) and "delete_collection" not in tools
    assert {"query", "top_k", "path"} <= set(tools["search"]["properties"])
    assert len(model.tool_results) == 1
    sent = model.tool_results[0]
    assert f"{TOP}:" in sent and "retryWithBackoff" in sent
    cited = CITATION.search(model.answer).group(0)
    assert cited.startswith(f"{TOP}:") and cited in sent


async def test_claude_tool_loop_over_http(served):
    from anthropic import AsyncAnthropic

    example = load("claude_tool_loop.py")
    model = ScriptedModel("anthropic", QUESTION)
    claude = AsyncAnthropic(api_key="offline", http_client=model.http_client())
    async with example.connect(served.url, served.token) as mcp:
        answer = await example.ask("How are failed calls retried?", mcp=mcp, claude=claude)
    assert answer == model.answer
    check_conversation(model)
    assert model.requests[0]["system"] == example.SYSTEM


async def test_openai_tool_loop_over_http(served):
    from openai import AsyncOpenAI

    example = load("openai_tool_loop.py")
    model = ScriptedModel("chat", QUESTION)
    openai = AsyncOpenAI(api_key="offline", http_client=model.http_client())
    async with example.connect(served.url, served.token) as mcp:
        answer = await example.ask("How are failed calls retried?", mcp=mcp, openai=openai)
        bad = example.result_text(await mcp.call_tool("search", {"query": "x", "collection": "missing"}))
    assert answer == model.answer
    check_conversation(model)
    last = model.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["system", "user", "assistant", "tool"]
    assert bad.startswith("Error: ") and "does not exist" in bad  # a failed call is marked for the model


async def test_openai_agents_over_http(served):
    from agents.models.openai_responses import OpenAIResponsesModel
    from openai import AsyncOpenAI

    example = load("openai_agents.py")
    model = ScriptedModel("responses", QUESTION)
    client = AsyncOpenAI(api_key="offline", http_client=model.http_client())
    async with example.groundmcp_server(served.url, served.token) as server:
        answer = await example.ask("How are failed calls retried?", server=server,
                                   model=OpenAIResponsesModel("scripted", client))
    assert answer == model.answer
    check_conversation(model)


@pytest.mark.parametrize(
    ("name", "api", "variable", "path"),
    [
        ("claude_tool_loop.py", "anthropic", "ANTHROPIC_BASE_URL", ""),
        ("openai_tool_loop.py", "chat", "OPENAI_BASE_URL", "/v1"),
        ("openai_agents.py", "responses", "OPENAI_BASE_URL", "/v1"),
    ],
)
def test_examples_run_from_their_command_line(served, monkeypatch, capsys, name, api, variable, path):
    """Each example's main(), as `python examples/NAME --url ... --token ... QUESTION` runs it: the
    SDK builds its own client from the environment, pointed at the scripted model by base URL."""
    example = load(name)
    model = ScriptedModel(api, QUESTION)
    with model.serve() as base:
        monkeypatch.setenv(variable, base + path)
        monkeypatch.setenv(variable.replace("BASE_URL", "API_KEY"), "offline")
        monkeypatch.setattr(sys, "argv", [name, "--url", served.url, "--token", served.token, "How?"])
        asyncio.run(example.main())
    assert capsys.readouterr().out.strip() == model.answer
    check_conversation(model)


def test_langchain_retriever_example(tmp_path, real_encoder):
    example = load("langchain_retriever.py")
    root = write_project(tmp_path / "project")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    model = ScriptedChatModel(query=QUESTION)
    try:
        result = example.run(engine, str(root), "How are failed calls retried?", collection="lc", model=model)
        again = example.run(engine, str(root), "How are failed calls retried?", collection="lc")
    finally:
        engine.close()
    docs = result["documents"]
    assert docs and all(CITATION.fullmatch(d.metadata["citation"]) for d in docs)
    assert docs[0].metadata["path"] == TOP and docs[0].metadata["collection"] == "lc"
    assert f"[{docs[0].metadata['citation']}]" in result["search_tool"]
    # The chain put the retrieved sources in the prompt, and the answer cites the top one.
    chain_prompt = model.prompts[0][-1].content
    assert f"[{docs[0].metadata['citation']}]" in chain_prompt and "retryWithBackoff" in chain_prompt
    assert f"[{docs[0].metadata['citation']}]" in result["chain_answer"]
    # The tool loop: the model called search, read the hits, and answered citing one.
    assert model.bound_tools[:3] == ["search", "list_collections", "collection_stats"]
    tool_message = model.prompts[-1][-1]
    assert tool_message.type == "tool" and tool_message.artifact[0].metadata["path"] == TOP
    assert f"[{tool_message.artifact[0].metadata['citation']}]" in result["agent_answer"]
    assert again["chain_answer"] is None and again["documents"] == docs  # nothing re-encoded, same hits


def test_langchain_mcp_adapters_from_their_own_venv(demo_index):
    """langchain-mcp-adapters needs mcp<2: its own virtualenv (`make adapters`) runs the example,
    which starts this venv's `groundmcp serve` over stdio. The command line is the README's, run as
    written from the clone's root after the quick start (the index `make demo` builds)."""
    from .test_readme_configs import BLOCKS

    if not ADAPTERS_PYTHON.exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the adapters example: `make test` builds .venv-adapters")
        pytest.skip("no .venv-adapters: run `make adapters`")
    versions = subprocess.run(
        [ADAPTERS_PYTHON, "-c", "import importlib.metadata as m; print(m.version('mcp'))"],
        capture_output=True, text=True, check=True,
    )
    assert versions.stdout.startswith("1.")  # the clash this example exists for
    lang, line = BLOCKS["snippet: adapters"]
    assert lang == "sh" and line.startswith(".venv-adapters/bin/python examples/langchain_adapters_client.py ")
    if Path(GROUNDMCP) != REPO / ".venv" / "bin" / "groundmcp":  # tests run from another venv
        line = line.replace(".venv/bin/groundmcp", GROUNDMCP)
    proc = subprocess.run(["bash", "-ec", line], cwd=REPO, capture_output=True, text=True, timeout=240,
                          env=demo_index.env, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr[-3000:]
    tools_line, _, hits = proc.stdout.partition("\n")
    assert {"search", "ingest", "list_collections"} <= set(tools_line.removeprefix("tools: ").split(", "))
    assert f"{TOP}:" in hits and "retryWithBackoff" in hits


def test_every_example_is_run():
    names = {p.name for p in EXAMPLES.glob("*.py")}
    assert names == set(RUN_BY), f"examples without a test (add them to RUN_BY): {names - set(RUN_BY)}"
    module = sys.modules[__name__]
    assert all(callable(getattr(module, test, None)) for test in RUN_BY.values())
