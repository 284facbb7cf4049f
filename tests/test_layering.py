"""The layering, held by the import graph (grimp builds it from the source, without running it).

Data flows one way: files -> chunks -> vectors -> store -> hits -> tool results. The core (encoders,
chunking, sparse, store, ingest, search, rerank, the Engine and the request policy) knows no front
end; tools know the core but not the server that registers them; nothing outside the Engine opens
or reaches into the store.
"""

from __future__ import annotations

import ast
from pathlib import Path

import grimp
import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "groundmcp"

PACKAGE = "groundmcp"
FRONT_ENDS = ("server", "tools", "cli", "integrations", "doctor", "eval", "prompts")
CORE = ("encoders", "chunking", "sparse", "store", "ingest", "search", "rerank", "engine", "access", "roots", "symbols")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(PACKAGE, cache_dir=None)


def _chains(graph: grimp.ImportGraph, importer: str, imported: str) -> list[tuple[str, ...]]:
    importer, imported = f"{PACKAGE}.{importer}", f"{PACKAGE}.{imported}"
    if importer not in graph.modules or imported not in graph.modules:
        return []
    return sorted(graph.find_shortest_chains(importer=importer, imported=imported, as_packages=True))


def forbidden(graph: grimp.ImportGraph) -> list[str]:
    """Every import that breaks a rule, as 'rule: a -> b -> c'."""
    broken = []
    for core in CORE:
        for front in FRONT_ENDS:
            broken += [f"core imports a front end: {' -> '.join(c)}" for c in _chains(graph, core, front)]
    broken += [f"tools import the server: {' -> '.join(c)}" for c in _chains(graph, "tools", "server")]
    for front in FRONT_ENDS:
        for chain in _chains(graph, front, "store"):
            if len(chain) == 2:  # a direct import; the Engine may import the store, front ends may not
                broken.append(f"a front end imports the store: {' -> '.join(chain)}")
    return broken


def test_the_core_knows_no_front_end_and_tools_know_no_server(graph):
    assert forbidden(graph) == []


def test_the_check_fails_on_a_bad_import(graph):
    """The rule is live: add the import a careless change would make and it is reported."""
    graph.add_import(importer=f"{PACKAGE}.search.hybrid", imported=f"{PACKAGE}.server.app", line_number=1,
                     line_contents="from ..server.app import build_server")
    graph.add_import(importer=f"{PACKAGE}.tools.search", imported=f"{PACKAGE}.server.transports", line_number=1,
                     line_contents="from ..server.transports import http_app")
    found = forbidden(graph)
    assert any(f.startswith("core imports a front end: groundmcp.search") for f in found), found
    assert any(f.startswith("tools import the server") for f in found), found


def test_no_front_end_reaches_through_the_engine_into_its_store():
    """`engine.store` is the Engine's own: front ends use the Engine's methods (collections, chunks,
    file_lines, optimize_if_large, ...), so a rule lives in one place."""
    reached = []
    for front in FRONT_ENDS:
        base = SRC / front
        files = sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
        for path in files:
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Attribute) and node.attr == "store":
                    reached.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert reached == []
