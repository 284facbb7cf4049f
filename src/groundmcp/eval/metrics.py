"""Ranking metrics over passage ids: nDCG@10, Recall@10, Recall@100, MRR@10 (the BEIR definitions)."""

from __future__ import annotations

import math
from collections.abc import Sequence

METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr@10")


def score_query(ranked: Sequence[str], relevant: dict[str, int]) -> dict[str, float]:
    """Metrics for one query: `ranked` passage ids best first (unique), `relevant` id -> grade > 0."""
    if not relevant:
        raise ValueError("a query needs at least one relevant passage to be scored")
    dcg = sum(relevant.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted(relevant.values(), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    first = next((i for i, d in enumerate(ranked[:10]) if d in relevant), None)
    return {
        "ndcg@10": dcg / idcg,
        "recall@10": len(relevant.keys() & set(ranked[:10])) / len(relevant),
        "recall@100": len(relevant.keys() & set(ranked[:100])) / len(relevant),
        "mrr@10": 0.0 if first is None else 1.0 / (first + 1),
    }


def mean(rows: Sequence[dict[str, float]]) -> dict[str, float]:
    return {m: sum(r[m] for r in rows) / len(rows) for m in METRICS} if rows else {m: 0.0 for m in METRICS}
