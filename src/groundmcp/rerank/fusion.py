"""Rank fusion of the first-stage order with another reranker's order (reciprocal rank fusion).

A reranker that is good on its own can still lose to the first stage on some queries; fusing the two
rankings keeps what each is sure of. It relies on `texts` arriving in first-stage order.

With `by_kind` (the shipped late-interaction reranker), the kinds of the candidates decide:
- a list that is mostly prose is ordered by the inner reranker alone. On prose the first stage is
  the dense cosine and little else (the keyword weight is 0.05), and the late-interaction score
  already holds that cosine beside MaxSim, so fusing the first-stage order back in only blunts it;
- a search's list that is mostly code keeps its first-stage order (`improves` is False). There the
  first stage holds what late interaction lacks, the keyword side at full weight and the
  definition-name nudge, and reranking lost whichever way it was mixed in.
Replayed on the public sets (bench/rerank_replay.py, hybrid top 30, docs/benchmarks.md "Reranking,
round two"): docs 0.5719 -> 0.6012 alone (fused 0.5883); code 0.5590 -> 0.5136 fused, 0.4461 alone
(267 of the 800 queries). Candidates a client passes to the `rerank` tool are still reranked (fused
where they are code, or where their kinds are unknown): that is what the client asked for."""

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
        by_kind: bool = False,
    ) -> None:
        self.inner = inner
        self.inner_weight = inner_weight
        self.first_weight = first_weight
        self.k = k
        self.by_kind = by_kind
        self.name = f"{inner.name}+first-stage"

    def improves(self, kinds: Sequence[str]) -> bool:
        return not self.by_kind or prose_led(kinds)

    def rerank(
        self, query: str, texts: Sequence[str], top_k: int | None = None, kinds: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        if self.by_kind and kinds and prose_led(kinds):
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
