"""Rank fusion of the first-stage order with another reranker's order (reciprocal rank fusion).

A reranker that is good on its own can still lose to the first stage on some queries; fusing the two
rankings keeps what each is sure of. It relies on `texts` arriving in first-stage order.

With `prose_alone`, a list of candidates that is mostly prose is ordered by the inner reranker
alone. On prose the first stage is the dense cosine and little else (the keyword weight is 0.05),
and the late-interaction score already holds that cosine beside MaxSim, so fusing the first-stage
order back in only blunts it. On code the first stage carries what late interaction lacks: the
keyword side at full weight and the definition-name nudge. Replayed on the public docs set
(bench/rerank_replay.py, hybrid top 30): fused 0.5883, alone 0.6012, against 0.5719 without
reranking; see docs/benchmarks.md, "Reranking, round two", for code."""

from __future__ import annotations

from collections.abc import Sequence

from .base import Reranker

RRF_K = 60


class RankFusionReranker(Reranker):
    def __init__(
        self,
        inner: Reranker,
        *,
        inner_weight: float = 1.0,
        first_weight: float = 1.0,
        k: int = RRF_K,
        prose_alone: bool = False,
    ) -> None:
        self.inner = inner
        self.inner_weight = inner_weight
        self.first_weight = first_weight
        self.k = k
        self.prose_alone = prose_alone
        self.name = f"{inner.name}+first-stage"

    def rerank(
        self, query: str, texts: Sequence[str], top_k: int | None = None, kinds: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        if self.prose_alone and kinds and prose_led(kinds):
            return self.inner.rerank(query, texts, top_k, kinds)
        return super().rerank(query, texts, top_k, kinds)

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


def prose_led(kinds: Sequence[str]) -> bool:
    """Whether most candidates are prose (any kind but code: docs, PDF pages, texts taken for prose)."""
    return sum(kind != "code" for kind in kinds) * 2 > len(kinds)
