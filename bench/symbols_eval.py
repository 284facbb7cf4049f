"""find_symbol against Python's own `ast`, and what symbols cost an ingest (issue 17).

For each package (copied from this virtualenv's site-packages, so nothing is downloaded) the tree
is ingested through the Engine with the deterministic hashing encoder (no model weights; vectors
do not matter here), then for every bare name that `ast` says is defined (function, async
function, class, nested ones too) `find_symbol(name)` is asked, and its exact matches of those
kinds are compared with `ast`'s definitions of that name, as (path, qualified name, first line:
the first decorator's, else the `def`/`class` line). Precision and recall are micro-averaged
over all names. The cost is the same tree ingested twice in one run, with symbols and with the
extractor switched off: wall time, points and bytes on disk (embedded store). With the hashing
encoder the encoder costs almost nothing, so the time share is an upper bound: with the real
model, encoding dominates an ingest and the parse is a far smaller part.

    .venv/bin/python bench/symbols_eval.py [--packages httpx jinja2] [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.ingest import pipeline
from groundmcp.settings import Settings

SITE = Path(sys.prefix) / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
KINDS = ("function", "method", "class")


def reference(root: Path) -> dict[str, set[tuple[str, str, int]]]:
    """name -> {(path, qualified, first line)} of every function and class `ast` finds."""
    out: dict[str, set[tuple[str, str, int]]] = {}
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root).as_posix()
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue

        def visit(node: ast.AST, scope: list[str], rel: str = rel) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                    out.setdefault(child.name, set()).add((rel, ".".join([*scope, child.name]), first))
                    visit(child, [*scope, child.name])
                else:
                    visit(child, scope)

        visit(tree, [])
    return out


def evaluate(engine: Engine, truth: dict[str, set[tuple[str, str, int]]]) -> dict:
    tp = fp = fn = 0
    misses: list[str] = []
    extras: list[str] = []
    started = time.perf_counter()
    for name, want in sorted(truth.items()):
        found = engine.find_symbol(name, limit=10_000)
        got = {(x.path, x.definition.qualified, x.definition.start_line) for x in found
               if x.match == "exact" and x.definition.name == name and x.definition.kind in KINDS}
        tp += len(got & want)
        fp += len(got - want)
        fn += len(want - got)
        misses += [f"{p}:{line} {q}" for p, q, line in sorted(want - got)][:3]
        extras += [f"{p}:{line} {q}" for p, q, line in sorted(got - want)][:3]
    seconds = time.perf_counter() - started
    return {
        "names": len(truth), "definitions": sum(map(len, truth.values())),
        "precision": round(tp / (tp + fp), 4) if tp + fp else 0.0,
        "recall": round(tp / (tp + fn), 4) if tp + fn else 0.0,
        "true_positives": tp, "false_positives": fp, "false_negatives": fn,
        "ms_per_query": round(1000 * seconds / max(1, len(truth)), 2),
        "misses_sample": misses[:10], "extras_sample": extras[:10],
    }


def ingest(tree: Path, data: Path, symbols: bool) -> tuple[Engine, dict]:
    engine = Engine(Settings(data_dir=data), encoder=HashingEncoder(dim=384))
    real = pipeline.file_symbols
    if not symbols:
        pipeline.file_symbols = lambda *a, **k: None
    try:
        started = time.perf_counter()
        report = engine.ingest(str(tree))
        seconds = time.perf_counter() - started
    finally:
        pipeline.file_symbols = real
    name = engine.settings.collection
    stats = engine.stats(name)
    return engine, {
        "seconds": round(seconds, 2), "files": report.files_seen, "chunks": report.chunks,
        "points": engine.store.info(name).points, "disk_bytes": stats.disk_bytes,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", default=["httpx", "jinja2"])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package in args.packages:
            tree = Path(tmp) / "trees" / package
            shutil.copytree(SITE / package, tree / package, ignore=shutil.ignore_patterns("__pycache__", "*.so"))
            off, cost_off = ingest(tree, Path(tmp) / f"off-{package}", symbols=False)
            off.close()
            on, cost_on = ingest(tree, Path(tmp) / f"on-{package}", symbols=True)
            try:
                quality = evaluate(on, reference(tree))
            finally:
                on.close()
            results[package] = {"find_symbol_vs_ast": quality, "without_symbols": cost_off, "with_symbols": cost_on}
            print(f"{package}: {quality['names']} names, {quality['definitions']} definitions; precision "
                  f"{quality['precision']}, recall {quality['recall']}, {quality['ms_per_query']} ms/query; "
                  f"ingest {cost_off['seconds']} s -> {cost_on['seconds']} s, points {cost_off['points']} -> "
                  f"{cost_on['points']}, disk {cost_off['disk_bytes']} -> {cost_on['disk_bytes']} bytes")
            for line in quality["misses_sample"][:5]:
                print("  missed:", line)
            for line in quality["extras_sample"][:5]:
                print("  extra: ", line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
