"""Reranking rules replayed offline over one eval collection's first-stage candidates.

    python bench/rerank_replay.py DATASET_DIR --data-dir DIR -c COLLECTION [--depth 30] [--every N] [--cache FILE]

Each query's default hybrid top `--depth` hits (the product's own search, as `search(rerank=true)`
takes them) are fetched once from a collection `groundmcp eval` built, with the late-interaction
reranker's two scores for each (MaxSim and the pooled cosine, from one encode of the hit's embedded
text, exactly what the reranker sees), and kept in --cache. Each rule is then scored in Python
over the same lists: the first stage as it is, the fused reranker (RRF of the first-stage order
and the late score, as the shipped reranker fuses code), late interaction alone (as it orders prose), and blends of the first-stage score
with the late score at several weights and depths, on every hit or on prose-led lists only, and
with the late score taken over the text the dense encoder was given (camelCase spelled) instead. Encoding the
candidates is the cost (about 20 ms each on this CPU); every rule after that costs milliseconds.
"""

from __future__ import annotations

import argparse
import statistics
from collections.abc import Callable
from pathlib import Path

from benchutil import cached, replay_ndcg

from groundmcp.chunking.words import spelled
from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.report import paired
from groundmcp.rerank.base import Reranker
from groundmcp.rerank.factory import FIRST_STAGE_WEIGHT, LATE_INTERACTION_WEIGHT
from groundmcp.rerank.fusion import RankFusionReranker
from groundmcp.rerank.late_interaction import LateInteractionReranker
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings

# per query: [(path, kind, first-stage score, maxsim, pooled cosine, the same two over the dense
# text)] in first-stage order
Cand = tuple[str, str, float, float, float, float, float]


def queries(ds, every: int) -> list:
    """Every `every`-th query (1: all), so a slow CPU can replay a fixed, spread-out sample."""
    return ds.queries[::every]


def fetch(args) -> dict[str, list[Cand]]:
    engine = Engine(Settings(data_dir=args.data_dir))
    try:
        ds = open_dataset(args.dataset)
        reranker = LateInteractionReranker(engine.encoder)
        out: dict[str, list[Cand]] = {}
        for n, q in enumerate(queries(ds, args.every), 1):
            hits = engine.search(SearchRequest(q.text, top_k=args.depth, mode="hybrid"), collection=args.collection)
            qv = reranker.vectors([q.text.strip()])[0]
            texts = list(dict.fromkeys([h.embed_text for h in hits] + [dense_text(h) for h in hits]))
            vecs = dict(zip(texts, reranker.vectors(texts), strict=True))

            def pair(text: str) -> tuple[float, float]:
                d = vecs[text]
                late = float((d.tokens @ qv.tokens.T).max(axis=0).mean()) if len(d.tokens) else -1.0
                return late, float(d.pooled @ qv.pooled)

            out[q.id] = [(h.path, h.kind, h.score, *pair(h.embed_text), *pair(dense_text(h))) for h in hits]
            if n % 50 == 0:
                print(f"  {n} queries", flush=True)
        return out
    finally:
        engine.close()


def dense_text(hit) -> str:
    """The text the dense encoder was given at ingest (Chunk.dense_text)."""
    return spelled(hit.embed_text) if hit.kind == "code" else hit.embed_text


Rule = Callable[[list[Cand]], list[int]]  # candidate indices, best first


def first_stage(cands: list[Cand]) -> list[int]:
    return list(range(len(cands)))


def late_score(c: Cand, dense: bool = False) -> float:
    """The shipped reranker's score, MaxSim and pooled cosine at weight 1: over the hit's text as
    search passes it (embed_text), or with `dense`, over the text the dense encoder was given."""
    return (c[5] + c[6]) / 2 if dense else (c[3] + c[4]) / 2


class _Cached(Reranker):
    """Stands in for the late-interaction reranker inside the shipped fusion: the scores are cached."""

    name = "late-interaction (cached)"

    def score(self, query, texts):
        raise NotImplementedError


_SHIPPED_FUSION = RankFusionReranker(_Cached(), inner_weight=LATE_INTERACTION_WEIGHT, first_weight=FIRST_STAGE_WEIGHT)


def fused(depth: int | None = None) -> Rule:
    """The shipped fusion (RRF of the first-stage order and the late score) over the top `depth`
    (all when None); the rest keep their order below."""

    def rule(cands: list[Cand]) -> list[int]:
        n = len(cands) if depth is None else min(depth, len(cands))
        scores = _SHIPPED_FUSION.fuse([late_score(c) for c in cands[:n]])
        return sorted(range(n), key=lambda i: (-scores[i], i)) + list(range(n, len(cands)))

    return rule


def late_alone(dense: bool = False, depth: int | None = None) -> Rule:
    """The late score alone over the top `depth` (all when None); the rest keep their order below."""

    def rule(cands: list[Cand]) -> list[int]:
        n = len(cands) if depth is None else min(depth, len(cands))
        return sorted(range(n), key=lambda i: (-late_score(cands[i], dense), i)) + list(range(n, len(cands)))

    return rule


def blend(weight: float, depth: int, prose_only: bool = False, dense: bool = False) -> Rule:
    """First-stage score + weight * late score over the top `depth`; the rest keep their order
    below. With `prose_only`, only when most of the top `depth` are prose."""

    def rule(cands: list[Cand]) -> list[int]:
        head = cands[:depth]
        if prose_only and sum(c[1] != "code" for c in head) * 2 <= len(head):
            return first_stage(cands)
        order = sorted(range(len(head)), key=lambda i: (-(head[i][2] + weight * late_score(head[i], dense)), i))
        return order + list(range(len(head), len(cands)))

    return rule


def score(ds, cands: dict[str, list[Cand]], rule: Rule) -> dict[str, float]:
    return replay_ndcg(ds, cands, rule)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--depth", type=int, default=30)
    ap.add_argument("--every", type=int, default=1, help="replay every N-th query only (a sample)")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    cands = cached(args.cache, lambda: fetch(args))
    ds = open_dataset(args.dataset)
    ds.queries = [q for q in ds.queries if q.id in cands]
    print(f"{len(ds.queries)} queries, first-stage top {args.depth}")
    groups = sorted({q.group for q in ds.queries if q.group})
    rules: dict[str, Rule] = {
        "first stage (hybrid, no rerank)": first_stage,
        f"RRF(first stage, late interaction), top {args.depth}": fused(),
        f"late interaction alone, top {args.depth}": late_alone(),
        f"late interaction alone over the dense text, top {args.depth}": late_alone(dense=True),
    }
    for depth in sorted({10, 20} & set(range(1, args.depth))):
        rules[f"late interaction alone, top {depth}"] = late_alone(depth=depth)
        rules[f"RRF(first stage, late interaction), top {depth}"] = fused(depth)
    for depth in sorted({10, 20, args.depth} & set(range(1, args.depth + 1))):
        for w in (0.5, 1.0, 2.0, 4.0):
            rules[f"first-stage score + {w:g} x late, top {depth}"] = blend(w, depth)
    for w in (0.5, 1.0, 2.0, 4.0):
        rules[f"first-stage score + {w:g} x late over the dense text, top 20"] = blend(w, 20, dense=True)
    for w in (1.0, 2.0, 4.0):
        rules[f"first-stage score + {w:g} x late, top 20, prose-led lists only"] = blend(w, 20, prose_only=True)
    base = score(ds, cands, first_stage)
    print("| rule | nDCG@10 | " + " | ".join(groups) + " | against first stage |")
    print("|---|---:|" + "---:|" * len(groups) + "---|")
    for name, rule in rules.items():
        s = score(ds, cands, rule)
        by_group = [statistics.fmean(s[q.id] for q in ds.queries if q.group == g) for g in groups]
        cmp = paired(base, s) if rule is not first_stage else None
        note = "" if cmp is None else f"{cmp.gain:+.4f} (CI {cmp.low:+.3f}..{cmp.high:+.3f}, {cmp.better}/{cmp.worse}, p={cmp.p_sign:.2g})"
        print(f"| {name} | {statistics.fmean(s.values()):.4f} | " + " | ".join(f"{v:.4f}" for v in by_group) + f" | {note} |")


if __name__ == "__main__":
    main()
