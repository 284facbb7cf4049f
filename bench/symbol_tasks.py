"""Ten "where is Y defined / who calls X" tasks on a real package: the tokens an agent reads, and
whether it has the answer, with the symbol tools against `search` alone (issue 17).

    python bench/symbol_tasks.py [--package httpx] [--json out.json]

The package is copied from this virtualenv's site-packages and ingested with the shipped model.
Every task goes through a real MCP client to the in-process server, as an agent's tool call would:
- "where is Y defined": `find_symbol(Y)` against one `search("where is Y defined")`; answered when
  the first match (find_symbol) or any hit (search) covers Y's `def`/`class` line as Python's `ast`
  finds it;
- "who calls X": `symbol_neighbours(X)` against one `search("who calls X")`; the share of X's call
  sites (`ast`: calls whose callee is named X) that the callers (or the hits' line ranges) cover.
  Callers are resolved per definition (`self.f()` in AsyncClient is AsyncClient's `f`), so when the
  answer lists other functions or methods of the same name, the agent asks about each of those
  too (up to MAX_OTHERS), and pays for it.
Tokens are the result's JSON at 4 characters a token, the estimate the search tool's budget uses.
One search per task: an agent that misses would search again and pay again.
"""

from __future__ import annotations

import argparse
import ast
import json
import tempfile
from pathlib import Path

import anyio
from benchutil import copy_package
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

DEFINED = ["Client.send", "Response.raise_for_status", "Timeout", "create_ssl_context", "primitive_value_to_str"]
MAX_OTHERS = 4  # other definitions of a name an agent follows up
CALLED = ["_send_handling_redirects", "build_request", "encode_json", "_port_or_default", "peek_filelike_length"]


def truth(root: Path) -> tuple[dict[str, tuple[str, int]], dict[str, set[tuple[str, int]]]]:
    """qualified name -> (path, first line) of each definition; callee name -> {(path, line)}."""
    defs: dict[str, tuple[str, int]] = {}
    calls: dict[str, set[tuple[str, int]]] = {}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        tree = ast.parse(f.read_text(encoding="utf-8"))

        def visit(node: ast.AST, scope: list[str], rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    defs.setdefault(".".join([*scope, child.name]), (rel, first))
                    visit(child, [*scope, child.name])
                else:
                    if isinstance(child, ast.Call):
                        fn = child.func
                        name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", None)
                        if name:
                            calls.setdefault(name, set()).add((rel, child.lineno))
                    visit(child, scope)

        visit(tree, [])
    return defs, calls


def tokens(result) -> int:
    body = result.structured_content if result.structured_content is not None else [c.text for c in result.content]
    return (len(json.dumps(body, ensure_ascii=False)) + 3) // 4


def covers(hits: list[dict], path: str, line: int) -> bool:
    return any(h["path"] == path and h["chunk_lines"][0] <= line <= h["chunk_lines"][1] for h in hits)


async def run_tasks(server, defs, calls) -> list[dict]:
    rows = []
    async with Client(server) as client:
        for name in DEFINED:
            path, line = defs[name]
            found = await client.call_tool("find_symbol", {"name": name})
            first = (found.structured_content or {}).get("matches", [{}])[:1]
            ok_tool = bool(first) and first[0].get("path") == path and first[0].get("start_line") == line
            searched = await client.call_tool("search", {"query": f"where is {name} defined"})
            hits = (searched.structured_content or {}).get("hits", [])
            rows.append({"task": f"where is {name} defined", "tool": "find_symbol", "tool_tokens": tokens(found),
                         "tool_answer": 1.0 if ok_tool else 0.0, "search_tokens": tokens(searched),
                         "search_answer": 1.0 if covers(hits, path, line) else 0.0})
        for name in CALLED:
            sites = calls.get(name, set())
            near = await client.call_tool("symbol_neighbours", {"symbol": name})
            spent = tokens(near)
            callers = (near.structured_content or {}).get("callers", [])
            got = {(c.get("path"), c.get("line")) for c in callers}
            # Callers are resolved per definition: when the name has others (Client's and AsyncClient's
            # `_send_handling_redirects`), the agent asks about each, as the answer's `others` invite.
            asked = 1
            for other in (near.structured_content or {}).get("others", [])[:MAX_OTHERS]:
                if other.get("kind") not in ("function", "method") or other.get("name") != name:
                    continue
                more = await client.call_tool("symbol_neighbours", {"symbol": other["qualified"], "path": other["path"]})
                spent += tokens(more)
                asked += 1
                got |= {(c.get("path"), c.get("line")) for c in (more.structured_content or {}).get("callers", [])}
            searched = await client.call_tool("search", {"query": f"who calls {name}"})
            hits = (searched.structured_content or {}).get("hits", [])
            rows.append({"task": f"who calls {name} ({len(sites)} call sites)",
                         "tool": "symbol_neighbours" + (f" x{asked}" if asked > 1 else ""), "tool_tokens": spent, "tool_answer": len(sites & got) / len(sites) if sites else 0.0,
                         "search_tokens": tokens(searched),
                         "search_answer": sum(covers(hits, p, ln) for p, ln in sites) / len(sites) if sites else 0.0})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="httpx")
    ap.add_argument("--json")
    args = ap.parse_args()
    base = Path(tempfile.mkdtemp(prefix="gm-symtasks-"))
    root = base / args.package
    copy_package(args.package, root)
    defs, calls = truth(root)
    missing = [n for n in DEFINED if n not in defs] + [n for n in CALLED if n not in calls]
    if missing:
        raise SystemExit(f"not in {args.package}: {missing}")
    settings = Settings(data_dir=base / "data", roots=[base], watch=False)
    engine = Engine(settings)
    try:
        report = engine.ingest(str(root))
        print(f"{args.package}: {report.files_seen} files, {report.chunks} chunks", flush=True)
        rows = anyio.run(run_tasks, build_server(settings, engine=engine), defs, calls)
    finally:
        engine.close()
    print("\n| task | symbol tool | tokens | answered | search alone: tokens | answered |\n|---|---|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['task']} | `{r['tool']}` | {r['tool_tokens']} | {r['tool_answer']:.0%} | "
              f"{r['search_tokens']} | {r['search_answer']:.0%} |")
    tool_t, search_t = sum(r["tool_tokens"] for r in rows), sum(r["search_tokens"] for r in rows)
    tool_a = sum(r["tool_answer"] for r in rows) / len(rows)
    search_a = sum(r["search_answer"] for r in rows) / len(rows)
    print(f"| **all ten** | | **{tool_t}** | **{tool_a:.0%}** | **{search_t}** | **{search_a:.0%}** |")
    if args.json:
        Path(args.json).write_text(json.dumps({"package": args.package, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
