"""Callers from symbol_neighbours against `jedi`'s references (issue 17), on sampled definitions.

For each package (copied from this virtualenv's site-packages), the tree is ingested with the
hashing encoder (vectors do not matter here), and SAMPLE functions, methods and classes that `ast`
finds are drawn with a fixed seed. For each, `jedi.Script.get_references` on the definition's name
gives the reference answer; its references are kept where they are call sites (the name followed
by `(`, a decorator, or a base class in a `class` line), as (path, line), the definition's own
line left out. symbol_neighbours' callers of the same definition (every rank, limit 10,000) are
the answer compared, three ways: `by name` (every call of the name, as the index listed them before
references were resolved: its callers and those it resolved elsewhere), `listed` (its callers:
resolved ones and candidates), and `top` (the resolved ones and the candidates that no other
definition of the name outranks). Precision and recall are micro-averaged; each side's misses
(for `listed`) are bucketed by what the source line shows, and precision is given per resolution
and per rank. jedi is a benchmark dependency only: `pip install jedi`.

    .venv/bin/python bench/symbols_refs_eval.py [--packages httpx jinja2] [--sample 150] [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path

import jedi
from benchutil import copy_package

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.settings import Settings


def definitions(root: Path) -> list[tuple[str, str, str, int, int]]:
    """(path, qualified, name, line, column of the name) of every function and class."""
    out = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        text = f.read_text(encoding="utf-8")
        lines = text.splitlines()
        tree = ast.parse(text)

        def visit(node, scope, rel=rel, lines=lines):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    line = lines[child.lineno - 1]
                    col = re.search(r"\b(?:def|class)\s+(" + re.escape(child.name) + r")\b", line).start(1)
                    out.append((rel, ".".join([*scope, child.name]), child.name, child.lineno, col))
                    visit(child, [*scope, child.name])
                else:
                    visit(child, scope)

        visit(tree, [])
    return out


def is_call_site(line: str, col: int, name: str) -> bool:
    after = line[col + len(name):].lstrip()
    before = line[:col].rstrip()
    return after.startswith("(") or before.endswith("@") or bool(re.match(r"\s*class\s+\w+\s*\(", line))


def bucket(line: str, col: int, name: str) -> str:
    """What a missed reference looks like in its source line."""
    before = line[:col]
    if re.search(r"\bsuper\(\)\.$", before):
        return "super().name()"
    if re.search(r"\bself\.$|\bcls\.$", before):
        return "self./cls. call"
    if before.rstrip().endswith("."):
        return "call through an object or module (x.name())"
    if "class " in line:
        return "base class"
    if before.rstrip().endswith("@"):
        return "decorator"
    return "bare call name()"


def evaluate(engine: Engine, tree: Path, sample: int, seed: int) -> dict:
    defs = definitions(tree)
    random.Random(seed).shuffle(defs)
    project = jedi.Project(tree, added_sys_path=[str(tree)], smart_sys_path=False)
    counts = {view: [0, 0, 0] for view in ("by name", "listed", "top")}  # tp, fp, fn
    ours_only: Counter[str] = Counter()
    jedi_only: Counter[str] = Counter()
    ours_ranks: Counter[str] = Counter()
    ours_ranks_tp: Counter[str] = Counter()
    resolutions: Counter[str] = Counter()
    resolutions_tp: Counter[str] = Counter()
    examples: dict[str, list[str]] = {"ours only": [], "jedi only": [], "resolved elsewhere, jedi has it": []}
    jedi_s = ours_s = 0.0
    used = 0
    cache: dict[str, list[str]] = {}

    def source(path: str) -> list[str]:
        if path not in cache:
            cache[path] = (tree / path).read_text(encoding="utf-8").splitlines()
        return cache[path]

    for path, qualified, name, line, col in defs:
        if used >= sample:
            break
        found = [x for x in engine.find_symbol(qualified, limit=50) if x.path == path and x.definition.qualified == qualified]
        if not found:
            continue
        used += 1
        t0 = time.perf_counter()
        script = jedi.Script(path=str(tree / path), project=project)
        refs = script.get_references(line, col, scope="project")
        jedi_s += time.perf_counter() - t0
        want = set()
        for r in refs:
            if r.module_path is None or r.line is None:
                continue
            try:
                rpath = Path(r.module_path).resolve().relative_to(tree.resolve()).as_posix()
            except ValueError:
                continue  # outside the package (typeshed's stubs, the standard library)
            if (rpath, r.line) == (path, line):
                continue
            text = source(rpath)[r.line - 1]
            if is_call_site(text, r.column, name):
                want.add((rpath, r.line))
        t0 = time.perf_counter()
        n = engine.symbol_neighbours(qualified, path=path, limit=10_000)
        ours_s += time.perf_counter() - t0
        assert n.definition.path == path and n.definition.definition.qualified == qualified, (path, qualified)
        got = {(s.path, s.reference.line): s.rank for s in n.callers}
        views = {"by name": got.keys() | {(s.path, s.reference.line) for s in n.elsewhere}, "listed": got.keys(),
                 "top": {(s.path, s.reference.line) for s in n.callers if s.top}}
        for view, keys in views.items():
            c = counts[view]
            c[0] += len(want & keys)
            c[1] += len(keys - want)
            c[2] += len(want - keys)
        for s in n.callers:
            resolutions[s.resolution] += 1
            resolutions_tp[s.resolution] += (s.path, s.reference.line) in want
        for s in n.elsewhere:
            resolutions["elsewhere"] += 1
            resolutions_tp["elsewhere"] += (s.path, s.reference.line) in want
            if (s.path, s.reference.line) in want and len(examples["resolved elsewhere, jedi has it"]) < 12:
                examples["resolved elsewhere, jedi has it"].append(
                    f"{qualified} <- {s.path}:{s.reference.line} {source(s.path)[s.reference.line - 1].strip()[:90]}")
        for key, rank in got.items():
            ours_ranks[rank] += 1
            ours_ranks_tp[rank] += key in want
        for p, ln in sorted(got.keys() - want):
            text = source(p)[ln - 1]
            kind = "name collision (another definition's call)" if name in text else "not a call of the name on that line"
            ours_only[kind] += 1
            if len(examples["ours only"]) < 12:
                examples["ours only"].append(f"{qualified} <- {p}:{ln} [{got[(p, ln)]}] {text.strip()[:90]}")
        for p, ln in sorted(want - got.keys()):
            text = source(p)[ln - 1]
            col_at = text.find(name)
            jedi_only[bucket(text, max(col_at, 0), name)] += 1
            if len(examples["jedi only"]) < 12:
                examples["jedi only"].append(f"{qualified} <- {p}:{ln} {text.strip()[:90]}")
    def score(view: str) -> dict:
        tp, fp, fn = counts[view]
        return {"ours": tp + fp, "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
                "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0}

    tp, fp, fn = counts["listed"]
    return {
        "definitions": used, "jedi_call_sites": tp + fn, "our_callers": tp + fp,
        "precision": score("listed")["precision"], "recall": score("listed")["recall"],
        "views": {view: score(view) for view in counts},
        "precision_by_resolution": {r: f"{resolutions_tp[r]}/{resolutions[r]}" for r in resolutions},
        "precision_by_rank": {r: round(ours_ranks_tp[r] / ours_ranks[r], 4) for r in ours_ranks},
        "callers_by_rank": dict(ours_ranks),
        "ours_only": dict(ours_only.most_common()), "jedi_only": dict(jedi_only.most_common()),
        "examples": examples,
        "ms_per_definition": {"jedi": round(1000 * jedi_s / max(1, used), 1),
                              "symbol_neighbours": round(1000 * ours_s / max(1, used), 1)},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", default=["httpx", "jinja2"])
    parser.add_argument("--sample", type=int, default=150)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package in args.packages:
            tree = Path(tmp) / "trees" / package
            copy_package(package, tree / package)
            engine = Engine(Settings(data_dir=Path(tmp) / f"data-{package}"), encoder=HashingEncoder(dim=64))
            try:
                engine.ingest(str(tree))
                results[package] = r = evaluate(engine, tree, args.sample, args.seed)
            finally:
                engine.close()
            print(json.dumps({package: r}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
