"""The identifier lift (search/lift.py) on queries that name an identifier, with the shipped model.

    .venv/bin/python bench/lift_identifiers.py [--package httpx] [--sample 100] [--seed 7]

The public code eval's queries are docstrings, where the lift has nothing to do (bench/search_lift.py
shows it moves none of them). This asks what an agent or a person types when they want a
definition: for definitions sampled with a fixed seed from a real package (copied from this
virtualenv's site-packages), found by Python's `ast`, three queries each: the bare name
(`build_request`), the qualified name (`Client.build_request`) and a question ("where is
build_request defined"). A query is answered at rank r when the r-th hit covers the `def`/`class`
line. Prints, with the lift off and on, in one engine: the share answered at rank 1, within the top
5, and MRR@10, per query form; and how many queries moved up or down.
"""

from __future__ import annotations

import argparse
import ast
import random
import tempfile
from pathlib import Path

from benchutil import copy_package

from groundmcp.engine import Engine
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings

FORMS = ("name", "qualified", "question")


def definitions(root: Path) -> list[tuple[str, str, str, int]]:
    """(path, name, qualified name, def line) of top-level functions, classes and their methods
    whose bare name is defined once in the package (an ambiguous name has no one right answer)."""
    found: list[tuple[str, str, str, int]] = []
    for f in sorted(root.rglob("*.py")):
        rel = f.relative_to(root.parent).as_posix()
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in tree.body:
            kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
            if isinstance(node, kinds):
                found.append((rel, node.name, node.name, node.lineno))
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) and not sub.name.startswith("__"):
                        found.append((rel, sub.name, f"{node.name}.{sub.name}", sub.lineno))
    counts: dict[str, int] = {}
    for _, name, _, _ in found:
        counts[name] = counts.get(name, 0) + 1
    return [d for d in found if counts[d[1]] == 1]


def rank(hits, path: str, line: int) -> int | None:
    for i, h in enumerate(hits, 1):
        if h.path == path and h.start_line <= line <= h.end_line:
            return i
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default="httpx")
    ap.add_argument("--sample", type=int, default=100)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "src" / args.package
        copy_package(args.package, root)
        defs = definitions(root)
        sample = random.Random(args.seed).sample(defs, min(args.sample, len(defs)))
        engine = Engine(Settings(data_dir=Path(tmp) / "data"))
        try:
            engine.ingest(str(root.parent))
            scores: dict[str, dict[str, list[int | None]]] = {}
            for variant in ("off", "on"):
                engine.lift_definitions = variant == "on"
                for path, name, qualified, line in sample:
                    queries = {"name": name, "qualified": qualified, "question": f"where is {name} defined"}
                    for form, query in queries.items():
                        hits = engine.search(SearchRequest(query=query, top_k=10))
                        scores.setdefault(variant, {}).setdefault(form, []).append(rank(hits, path, line))
        finally:
            engine.close()
    print(f"{args.package}: {len(sample)} definitions (of {len(defs)} with a unique name), hybrid, top 10\n")
    print("| query form | lift | answered at 1 | in top 5 | MRR@10 | moved up / down |")
    print("|---|---|---:|---:|---:|---:|")
    for form in FORMS:
        for variant in ("off", "on"):
            ranks = scores[variant][form]
            at1 = sum(r == 1 for r in ranks) / len(ranks)
            top5 = sum(r is not None and r <= 5 for r in ranks) / len(ranks)
            mrr = sum(1 / r for r in ranks if r) / len(ranks)
            moved = ""
            if variant == "on":
                off = scores["off"][form]
                key = [(10 ** 6 if r is None else r) for r in ranks], [(10 ** 6 if r is None else r) for r in off]
                up = sum(a < b for a, b in zip(*key, strict=True))
                down = sum(a > b for a, b in zip(*key, strict=True))
                moved = f"{up} / {down}"
            print(f"| {form} | {variant} | {at1:.2f} | {top5:.2f} | {mrr:.3f} | {moved} |")


if __name__ == "__main__":
    main()
