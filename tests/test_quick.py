"""The CLI's fast path (quick.py): with a warm owner, `groundmcp search` prints exactly what the full
CLI prints through the same owner, without importing the MCP SDK, typer or pydantic; whatever it
cannot answer exactly goes to the full CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from groundmcp.engine import Engine
from groundmcp.owner.daemon import stop_owner
from groundmcp.quick import Fallback, parse
from groundmcp.settings import Settings

from .conftest import write_project

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket")

FULL_CLI = ["-c", "import sys; sys.argv[0] = 'groundmcp'; from groundmcp.cli import main; main()"]


@pytest.fixture(scope="module")
def owned(tmp_path_factory, real_encoder):
    """A data dir holding the sample project as 'p', with its owner warm; the CLI's environment."""
    base = tmp_path_factory.mktemp("quick")
    project = write_project(base / "project")
    (project / "src" / "[red]evil.py").write_text("def evil_markup():\n    return 'markup in a file name'\n")
    other = write_project(base / "other")
    (other / "docs" / "guide.md").write_text("# Other guide\n\nRefunds here take 30 days.\n")
    engine = Engine(Settings(data_dir=base / "d", watch=False), encoder=real_encoder)
    try:
        engine.ingest(str(project), collection="p")
        engine.ingest(str(other), collection="q")
    finally:
        engine.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(base / "d"), GROUNDMCP_OWNER="1", GROUNDMCP_WATCH="0")
    warm = run(env, "search", "warm up", "-c", "p")  # the full CLI starts the owner
    assert warm.returncode == 0, warm.stderr
    yield env
    stop_owner(base / "d", timeout=30)


def run(env: dict, *args: str, full: bool = False, importtime: bool = False) -> subprocess.CompletedProcess:
    entry = FULL_CLI if full else ["-m", "groundmcp"]
    x = ["-X", "importtime"] if importtime else []
    return subprocess.run([sys.executable, *x, *entry, *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "args",
    [
        ("search", "parse a currency string", "-c", "p"),
        ("search", "backoff", "-c", "p", "-k", "2", "--mode", "sparse"),
        ("search", "refunds", "--collection=p", "--kind", "doc"),
        ("search", "total", "-c", "p", "--language", "python", "--path", "src/*"),
        ("search", "nothing like this at all", "-c", "p", "--mode", "sparse"),
        ("search", "x", "-c", "no-such-collection"),
        ("search", "x", "-c", "p", "--language", "cobol"),
        ("search", "refunds", "-c", "p", "-c", "q", "-k", "4"),
        ("search", "refunds", "-c", "*", "--kind", "doc"),
        ("search", "refunds", "-c", "z*"),
        ("search", "markup in a file name", "-c", "p", "-k", "1"),
    ],
)
def test_the_fast_path_prints_what_the_full_cli_prints(owned, args):
    fast, full = run(owned, *args), run(owned, *args, full=True)
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)


def test_the_fast_path_imports_no_sdk_no_cli_framework(owned):
    fast = run(owned, "search", "parse a currency string", "-c", "p", importtime=True)
    assert fast.returncode == 0 and "src/billing.py" in fast.stdout
    imported = {line.split("|")[-1].strip() for line in fast.stderr.splitlines() if line.startswith("import time:")}
    assert "groundmcp.quick" in imported and "rich.console" in imported
    assert not imported & {"mcp", "typer", "pydantic", "numpy", "torch", "groundmcp.cli", "groundmcp.settings"}


def test_what_the_fast_path_cannot_answer_goes_to_the_full_cli(owned, tmp_path):
    as_json = run(owned, "search", "refunds", "-c", "p", "--json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)[0]["path"] == "docs/guide.md"
    other_model = run({**owned, "GROUNDMCP_MODEL": str(tmp_path / "m")}, "search", "refunds", "-c", "p")
    assert other_model.returncode == 1 and "serves model" in other_model.stderr  # the full CLI's answer
    help_text = run(owned, "search", "--help")
    assert help_text.returncode == 0 and "--rerank" in help_text.stdout


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["search", "q"], {"query": "q", "top_k": 10, "mode": "hybrid"}),
        (["--data-dir", "/d", "search", "-k", "3", "q", "-c", "x"], {"top_k": 3, "collection": "x"}),
        (["search", "q", "--language", "py", "--language=js"], {"languages": ["py", "js"]}),
        (["search", "--kind", "code", "q"], {"kind": "code"}),
    ],
)
def test_parse_takes_what_the_search_tool_can_express(argv, expected):
    _, query, arguments = parse(argv)
    assert query == "q" and expected.items() <= arguments.items()


@pytest.mark.parametrize(
    "argv",
    [
        ["collections"], ["search"], ["search", "q", "--json"], ["search", "q", "--rerank"],
        ["search", "q", "-k", "51"], ["search", "q", "-k", "many"], ["search", "q", "--mode", "fuzzy"],
        ["search", "q", "--kind", "docs"], ["search", "q", "--kind", "code", "--kind", "doc"],
        ["--model", "m", "search", "q"], ["search", "q", "r"], ["search", "q", "-c"], ["search", "q", "--no-owner"],
    ],
)
def test_parse_leaves_the_rest_to_the_full_cli(argv):
    with pytest.raises(Fallback):
        parse(argv)


def test_several_collections_and_a_hostile_file_name(owned):
    both = run(owned, "search", "refunds", "-c", "p", "-c", "q", "-k", "4")
    assert both.returncode == 0 and "p docs/guide.md" in both.stdout and "q docs/guide.md" in both.stdout
    evil = run(owned, "search", "markup in a file name", "-c", "p", "-k", "1")
    assert "src/[red]evil.py" in evil.stdout  # printed as text, not taken as markup


def test_in_process_search_of_several_collections_matches_the_owners(owned):
    """Last in the file: --no-owner stops the owner to open the store in process."""
    args = ("search", "refunds", "-c", "*", "-k", "4")
    through_owner = run(owned, *args)
    in_process = run(owned, *args, "--no-owner")
    assert in_process.returncode == 0, in_process.stderr
    assert in_process.stdout == through_owner.stdout
