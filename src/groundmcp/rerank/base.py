"""The reranker interface: score (query, text) pairs; sorting and cutting live here, once."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence


class Reranker(ABC):
    """Scores candidate texts against a query; higher is better.

    `texts` arrive in first-stage order (best first). Rerankers that use that order (fusion) say so;
    the others ignore it. Scores are comparable within one call only."""

    name: str

    @abstractmethod
    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        """One score per text, in the order given."""

    def improves(self, kinds: Sequence[str]) -> bool:
        """Whether reranking a search's candidates of these kinds ("code", "doc") is measured to
        beat their first-stage order; search keeps that order where it is not. True unless a
        reranker knows better (fusion.py)."""
        return True

    def rerank(
        self, query: str, texts: Sequence[str], top_k: int | None = None, kinds: Sequence[str] | None = None
    ) -> list[tuple[int, float]]:
        """(index into texts, score), best first, at most `top_k`. Ties keep first-stage order.
        `kinds`: each text's chunk kind ("code", "doc") where the caller knows it; a reranker that
        treats code and prose differently reads it (fusion.py), the others ignore it."""
        if not texts:
            return []
        scores = self.score(query, texts)
        if len(scores) != len(texts):
            raise RuntimeError(f"reranker {self.name} returned {len(scores)} scores for {len(texts)} texts")
        order = sorted(range(len(texts)), key=lambda i: (-scores[i], i))
        if top_k is not None:
            order = order[: max(top_k, 0)]
        return [(i, float(scores[i])) for i in order]
