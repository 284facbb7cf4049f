"""Hybrid fusion rules replayed offline over one eval collection's candidate lists.

    python bench/fusion_replay.py DATASET_DIR --data-dir DIR -c COLLECTION [--cache FILE]

Each query's dense and sparse candidates (the top PREFETCH of each, with their raw scores and chunk
kinds, as the store's hybrid query prefetches them) are fetched once from a collection `groundmcp
eval` built, and kept in --cache; every fusion rule is then scored in Python over the same lists, so
a rule costs milliseconds. The shipped rule replayed this way gives the eval's hybrid figure (checked
in the first row), which is what makes the other rows comparable. The rule that wins is then built
into search/query.py and measured with `groundmcp eval` itself.
"""

from __future__ import annotations

import argparse
import re
import statistics
from collections.abc import Callable
from pathlib import Path

from benchutil import cached

from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.metrics import score_query
from groundmcp.eval.report import paired
from groundmcp.search.query import PREFETCH
from groundmcp.settings import Settings
from groundmcp.sparse import query_vector

Cand = tuple[str, float, str, str]  # id, score, path, kind


def fetch(args) -> dict:
    engine = Engine(Settings(data_dir=args.data_dir))
    try:
        ds = open_dataset(args.dataset)
        dense = engine.query_encoder.encode_queries([q.text for q in ds.queries])
        out = {}
        for q, dv in zip(ds.queries, dense, strict=True):
            sv = query_vector(q.text)
            d = engine.store.query(args.collection, dense=dv.tolist(), sparse=None, mode="dense", limit=PREFETCH)
            s = engine.store.query(args.collection, dense=None, sparse=sv, mode="sparse", limit=PREFETCH) if sv.indices else []
            out[q.id] = (
                [(h.id, h.score, h.payload["path"], h.payload.get("kind", "")) for h in d],
                [(h.id, h.score, h.payload["path"], h.payload.get("kind", "")) for h in s],
            )
        return out
    finally:
        engine.close()


Rule = Callable[[str, list[Cand], list[Cand]], list[tuple[float, str, str]]]


def formula(lexical: Callable[[str, str, float, float], float]) -> Rule:
    """cosine + lexical(query, kind, bm25, best bm25 of the query); a point missing from a list scores 0 there."""

    def rule(query: str, dense: list[Cand], sparse: list[Cand]) -> list[tuple[float, str, str]]:
        best = max((c[1] for c in sparse), default=0.0)
        scores: dict[str, list] = {}
        for i, s, path, kind in dense:
            scores[i] = [s, 0.0, path, kind]
        for i, s, path, kind in sparse:
            scores.setdefault(i, [0.0, 0.0, path, kind])[1] = s
        fused = [(c + (lexical(query, kind, b, best) if b > 0 else 0.0), i, path) for i, (c, b, path, kind) in scores.items()]
        return sorted(fused, key=lambda x: (-x[0], x[1]))

    return rule


_IDENTIFIER = re.compile(r"`[^`]+`|\"[^\"]+\"|\b\w+_\w+\b|\b[a-z]+[A-Z]\w*\b|\b\w+\.\w+\b|\b\w+\(\)")


def names_something(query: str) -> bool:
    """An identifier (snake_case, camelCase, dotted, called), or a quoted or back-quoted phrase."""
    return bool(_IDENTIFIER.search(query))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    ds = open_dataset(args.dataset)
    cands = cached(args.cache, lambda: fetch(args))
    text = {q.id: q.text for q in ds.queries}
    groups = sorted({q.group for q in ds.queries if q.group})

    def sat(b: float, k: float = 15.0) -> float:
        return b / (b + k)

    W = {"code": 1.0, "doc": 0.05}
    rules: dict[str, Rule] = {
        "shipped: w*b/(b+15)": formula(lambda q, kind, b, best: W.get(kind, 0) * sat(b)),
        "scaled: w*s(best)*b/best": formula(lambda q, kind, b, best: W.get(kind, 0) * sat(best) * b / best),
        "normalised: w*b/best": formula(lambda q, kind, b, best: W.get(kind, 0) * b / best),
        "w*s(b)*b/best": formula(lambda q, kind, b, best: W.get(kind, 0) * sat(b) * b / best),
        "w*b/(b+best)": formula(lambda q, kind, b, best: W.get(kind, 0) * b / (b + best)),
        "w*s(b)*(b/best)^2": formula(lambda q, kind, b, best: W.get(kind, 0) * sat(b) * (b / best) ** 2),
    }
    for k in (10.0, 20.0, 30.0):
        rules[f"scaled k={k:g}"] = formula(lambda q, kind, b, best, k=k: W.get(kind, 0) * sat(best, k) * b / best)
    for wc in (0.8, 1.2, 1.5):
        rules[f"scaled w_code={wc:g}"] = formula(
            lambda q, kind, b, best, wc=wc: {"code": wc, "doc": 0.05}.get(kind, 0) * sat(best) * b / best)
    for wd in (0.02, 0.1, 0.2):
        rules[f"scaled w_doc={wd:g}"] = formula(
            lambda q, kind, b, best, wd=wd: {"code": 1.0, "doc": wd}.get(kind, 0) * sat(best) * b / best)

    for k in (5.0, 10.0, 25.0, 40.0):
        rules[f"shipped k={k:g}"] = formula(lambda q, kind, b, best, k=k: W.get(kind, 0) * sat(b, k))
    for wc in (0.7, 1.3):
        rules[f"shipped w_code={wc:g}"] = formula(
            lambda q, kind, b, best, wc=wc: {"code": wc, "doc": 0.05}.get(kind, 0) * sat(b))
    for wd in (0.0, 0.1, 0.2, 0.4):
        rules[f"shipped w_doc={wd:g}"] = formula(
            lambda q, kind, b, best, wd=wd: {"code": 1.0, "doc": wd}.get(kind, 0) * sat(b))
    for wd in (0.3, 1.0):
        for wc in (1.0, 1.5):
            rules[f"trust: identifiers/quotes -> code {wc:g}, doc {wd:g}"] = formula(
                lambda q, kind, b, best, wd=wd, wc=wc: (
                    {"code": wc, "doc": wd} if names_something(q) else W).get(kind, 0) * sat(b))
            rules[f"scaled + trust code {wc:g}, doc {wd:g}"] = formula(
                lambda q, kind, b, best, wd=wd, wc=wc: (
                    {"code": wc, "doc": wd} if names_something(q) else W).get(kind, 0) * sat(best) * b / best)

    base_scores: dict[str, float] = {}
    print(f"{ds.name}: {len(ds.queries)} queries\n")
    print("| rule | nDCG@10 | " + " | ".join(groups) + " | vs shipped |")
    print("|---|---:|" + "---:|" * (len(groups) + 1))
    for label, rule in rules.items():
        per: dict[str, float] = {}
        for q in ds.queries:
            dense, sparse = cands[q.id]
            ranked: list[str] = []
            for _, _, path in rule(text[q.id], dense, sparse)[:100]:
                pid = ds.passage_of.get(path)
                if pid is not None and pid not in ranked:
                    ranked.append(pid)
            per[q.id] = score_query(ranked, ds.qrels[q.id])["ndcg@10"]
        if not base_scores:
            base_scores = per
        by = [statistics.mean(per[q.id] for q in ds.queries if q.group == g) for g in groups]
        cmp = paired(base_scores, per, resamples=2000)
        print(f"| {label} | {statistics.mean(per.values()):.4f} | " + " | ".join(f"{x:.4f}" for x in by)
              + f" | {cmp.gain:+.4f} ({cmp.better}/{cmp.worse}, p={cmp.p_sign:.2g}) |", flush=True)


if __name__ == "__main__":
    main()
