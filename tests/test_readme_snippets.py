"""The README's "Use from code" snippets, run as written, after the quick start.

`demo_index` (conftest) is what `make demo` leaves: the collection "groundmcp" in the default data
dir, under a temporary HOME. The shell snippet runs in its own shell from the clone's root, the
Python one in this process; both with no GROUNDMCP_* variable but those the snippet sets. Only the model is
scripted (tests/scripted_models.py, reached by the SDK's base-URL variable). The adapters snippet
is run by tests/test_examples.py, which runs every example.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .scripted_models import ScriptedModel
from .test_examples import QUESTION, TOP, check_conversation, load
from .test_readme_configs import BLOCKS

REPO = Path(__file__).resolve().parents[1]
VENV_PYTHON = ".venv/bin/python"  # what the README runs; this test's own Python stands in if it is another


def as_here(snippet: str) -> str:
    """The snippet, with this interpreter where the README names the clone's venv."""
    if Path(sys.executable) != REPO / VENV_PYTHON:
        snippet = snippet.replace(VENV_PYTHON, sys.executable)
    return snippet


def test_every_use_from_code_block_is_marked():
    """An unmarked python or sh block in the section would be a snippet no test runs."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Use from code"):readme.index("## Doctor")]
    assert section.count("```python") + section.count("```sh") == section.count("<!-- snippet: ")
    assert {t for t in BLOCKS if t.startswith("snippet: ")} == {
        "snippet: examples", "snippet: langchain", "snippet: adapters"}


def test_langchain_snippet(demo_index, monkeypatch):
    """Run in this process (the imports are paid for once), with the environment a user's shell
    has after the quick start: HOME, and no GROUNDMCP_* variable."""
    lang, code = BLOCKS["snippet: langchain"]
    assert lang == "python"
    quick_start_env(demo_index, monkeypatch)
    printed: list[tuple] = []
    scope = {"print": lambda *args: printed.append(args)}
    exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - the README's own snippet
    assert len(printed) == 5 and printed[0][0].startswith(f"{TOP}:") and printed[0][1] == "retryWithBackoff"
    assert [t.name for t in scope["tools"]] == [
        "search", "list_collections", "collection_stats", "find_symbol", "symbol_neighbours",
    ]


def quick_start_env(demo_index, monkeypatch) -> None:
    monkeypatch.setenv("HOME", str(demo_index.home))
    for name in [n for n in os.environ if n.startswith("GROUNDMCP_") or n == "XDG_DATA_HOME"]:
        monkeypatch.delenv(name)


def test_langchain_tools_search_the_retrievers_collection(demo_index, monkeypatch):
    """`groundmcp_tools(retriever)`, and `groundmcp_tools(retriever.engine)` after from_settings,
    search the retriever's collection, not the default one (which `make demo` never built)."""
    from groundmcp.integrations.langchain import GroundRetriever, groundmcp_tools

    quick_start_env(demo_index, monkeypatch)
    retriever = GroundRetriever.from_settings(collection="groundmcp", top_k=3)
    try:
        for tools in (groundmcp_tools(retriever), groundmcp_tools(retriever.engine)):
            text, docs = tools[0].func(query=QUESTION)
            assert f"[{TOP}:" in text and docs[0].metadata["collection"] == "groundmcp"
        other = groundmcp_tools(retriever, collection="default")[0]
        assert "does not exist" in other.invoke({"query": QUESTION})  # the error reaches the model
    finally:
        retriever.engine.close()


def test_examples_snippet_over_stdio_with_only_the_venvs_python(demo_index):
    """The README's lines as written: the example starts its own server with the Python that runs
    it, although the venv's bin is not on PATH."""
    lang, snippet = BLOCKS["snippet: examples"]
    assert lang == "sh" and "export ANTHROPIC_API_KEY=..." in snippet
    model = ScriptedModel("anthropic", QUESTION)
    env = {k: v for k, v in demo_index.env.items() if not k.startswith(("ANTHROPIC_", "OPENAI_"))}
    with model.serve() as base:
        env |= {"ANTHROPIC_BASE_URL": base, "PATH": "/usr/bin:/bin"}
        ran = subprocess.run(["bash", "-ec", as_here(snippet)], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=300, stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert ran.stdout.strip() == model.answer
    check_conversation(model)


@pytest.mark.parametrize(
    ("name", "variable"),
    [("claude_tool_loop.py", "ANTHROPIC_API_KEY"), ("openai_tool_loop.py", "OPENAI_API_KEY"),
     ("openai_agents.py", "OPENAI_API_KEY")],
)
def test_examples_without_an_api_key_say_what_to_set(name, variable, monkeypatch):
    """main() stops before it starts a server, with the message Python prints for sys.exit(text)
    on stderr, and exit status 1: no traceback."""
    for key in [k for k in os.environ if k.startswith(("ANTHROPIC_", "OPENAI_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setattr(sys, "argv", [name, "How are failed requests retried?"])
    with pytest.raises(SystemExit) as stopped:
        asyncio.run(load(name).main())
    assert isinstance(stopped.value.code, str)  # printed to stderr, exit status 1
    assert stopped.value.code.startswith(f"{variable} is not set: export {variable}=")
