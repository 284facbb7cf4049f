"""Rank fusion of the first-stage order with another reranker's order (reciprocal rank fusion).

A reranker that is good on its own can still lose to the first stage on some queries; fusing the two
rankings keeps what each is sure of. It relies on `texts` arriving in first-stage order."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Reranker

RRF_K = 60


class RankFusionReranker(Reranker):
    def __init__(
        self, inner: Reranker, *, inner_weight: float = 1.0, first_weight: float = 1.0, k: int = RRF_K
    ) -> None:
        self.inner = inner
        self.inner_weight = inner_weight
        self.first_weight = first_weight
        self.k = k
        self.name = f"{inner.name}+first-stage"

    def fuse(self, inner_scores: Sequence[float]) -> list[float]:
        """Fused scores for texts in first-stage order, given the inner reranker's scores."""
        order = sorted(range(len(inner_scores)), key=lambda i: (-inner_scores[i], i))
        inner_rank = {doc: rank for rank, doc in enumerate(order)}
        return [
            self.first_weight / (self.k + i + 1) + self.inner_weight / (self.k + inner_rank[i] + 1)
            for i in range(len(inner_scores))
        ]

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        return self.fuse(self.inner.score(query, texts)) if texts else []
