"""find_symbol against Python's own `ast`, and what symbols cost an ingest (issue 17).

For each package (copied from this virtualenv's site-packages, so nothing is downloaded) the tree
is ingested through the Engine with the deterministic hashing encoder (no model weights; vectors
do not matter here), then for every bare name that `ast` says is defined (function, async
function, class, nested ones too) `find_symbol(name)` is asked, and its exact matches of those
kinds are compared with `ast`'s definitions of that name, as (path, qualified name, first line:
the first decorator's, else the `def`/`class` line). Precision and recall are micro-averaged
over all names. The cost is the same tree ingested ROUNDS times each way in one run, alternating
with symbols and with the extractor switched off (with, without, with, without, ...: each a fresh
data folder), so that a shared, noisy machine's drift falls on both sides alike: wall time (the
median of each side, and the median of each round's with/without ratio), points and bytes on disk
(embedded store). With the hashing encoder the encoder costs almost nothing, so the time share is
an upper bound: with the real model, encoding dominates an ingest and the parse is a far smaller
part.

    .venv/bin/python bench/symbols_eval.py [--packages httpx jinja2] [--rounds 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import ast
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchutil import copy_package

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.ingest import pipeline
from groundmcp.settings import Settings

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
        "seconds": round(seconds, 3), "files": report.files_seen, "chunks": report.chunks,
        "points": engine.store.info(name).points, "disk_bytes": stats.disk_bytes,
    }


def cost(tree: Path, data: Path, rounds: int) -> dict:
    """Ingests of `tree` alternating with and without symbols, each into a fresh folder."""
    runs: dict[str, list[dict]] = {"with": [], "without": []}
    for i in range(rounds):
        for side in ("with", "without"):
            engine, measured = ingest(tree, data / f"{side}-{i}", symbols=side == "with")
            engine.close()
            shutil.rmtree(data / f"{side}-{i}", ignore_errors=True)
            runs[side].append(measured)
    ratios = [w["seconds"] / o["seconds"] for w, o in zip(runs["with"], runs["without"], strict=True) if o["seconds"]]

    def side(rows: list[dict]) -> dict:
        return {"seconds_median": round(statistics.median(r["seconds"] for r in rows), 3),
                "seconds": [r["seconds"] for r in rows], "files": rows[0]["files"], "chunks": rows[0]["chunks"],
                "points": rows[0]["points"], "disk_bytes_median": int(statistics.median(r["disk_bytes"] for r in rows))}

    with_, without = side(runs["with"]), side(runs["without"])
    return {
        "rounds": rounds, "with_symbols": with_, "without_symbols": without,
        "time_ratio_median": round(statistics.median(ratios), 3),
        "time_ratios": [round(r, 3) for r in ratios],
        "points_ratio": round(with_["points"] / without["points"], 3),
        "disk_ratio": round(with_["disk_bytes_median"] / without["disk_bytes_median"], 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", default=["httpx", "jinja2"])
    parser.add_argument("--rounds", type=int, default=5, help="ingests each way, alternating")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for package in args.packages:
            tree = Path(tmp) / "trees" / package
            copy_package(package, tree / package)
            on, _ = ingest(tree, Path(tmp) / f"quality-{package}", symbols=True)
            try:
                quality = evaluate(on, reference(tree))
            finally:
                on.close()
            c = cost(tree, Path(tmp) / f"cost-{package}", args.rounds)
            results[package] = {"find_symbol_vs_ast": quality, "cost": c}
            w, o = c["with_symbols"], c["without_symbols"]
            print(f"{package}: {quality['names']} names, {quality['definitions']} definitions; precision "
                  f"{quality['precision']}, recall {quality['recall']}, {quality['ms_per_query']} ms/query; "
                  f"ingest median {o['seconds_median']} s without -> {w['seconds_median']} s with "
                  f"(median ratio {c['time_ratio_median']} over {c['rounds']} alternating rounds: "
                  f"{c['time_ratios']}); points {o['points']} -> {w['points']}; disk {o['disk_bytes_median']} -> "
                  f"{w['disk_bytes_median']} bytes (x{c['disk_ratio']})", flush=True)
            for line in quality["misses_sample"][:5]:
                print("  missed:", line)
            for line in quality["extras_sample"][:5]:
                print("  extra: ", line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
