"""Late-interaction (MaxSim) reranking over the loaded encoder's own token embeddings.

Each query token is matched with its most similar document token (cosine); the document's score is
the mean of those maxima over the query tokens (ColBERT's MaxSim, divided by the query length so
scores lie in [-1, 1]: the ranking is the same as the sum's). Special tokens are dropped on both
sides, and punctuation-only tokens too by default, as ColBERT does. It needs no weights beyond the
encoder's, so it works offline, but costs one encode of the candidates per query.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from ..encoders.base import CHARS_PER_TOKEN_CAP
from ..encoders.sentence_transformers import SentenceTransformerEncoder
from .base import Reranker

Reduce = Literal["mean", "sum"]


class LateInteractionReranker(Reranker):
    def __init__(
        self,
        encoder: SentenceTransformerEncoder,
        *,
        reduce: Reduce = "mean",
        skip_query_punctuation: bool = True,
        skip_doc_punctuation: bool = True,
        batch_size: int | None = None,
    ) -> None:
        self._model: Any = encoder._model  # shared with the encoder: no second load
        self.name = "late-interaction" if reduce == "mean" else f"late-interaction-{reduce}"
        self.reduce = reduce
        self.batch_size = batch_size or encoder.batch_size
        self._max_chars = encoder.max_tokens * CHARS_PER_TOKEN_CAP
        self._special, punct = _token_classes(self._model.tokenizer)
        none = np.zeros_like(punct)
        self._punct_query = punct if skip_query_punctuation else none
        self._punct_doc = punct if skip_doc_punctuation else none

    def tokens(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(token ids, unit-length float32 vectors) of each text, special and padding tokens left out.
        The vectors can be kept and scored later with `select` and `maxsim`."""
        if not texts:
            return []
        feats = self._model.encode(
            [t[: self._max_chars] for t in texts],
            output_value=None,
            batch_size=self.batch_size,
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        out = []
        for f in feats:
            ids = np.minimum(f["input_ids"].cpu().numpy(), len(self._special) - 1)
            mask = f["attention_mask"].cpu().numpy()[: len(ids)].astype(bool) & ~self._special[ids]
            vecs = f["token_embeddings"].float().cpu().numpy()[: len(ids)][mask]
            norms = np.linalg.norm(vecs, axis=1, keepdims=True)
            out.append((ids[mask], np.divide(vecs, norms, out=np.zeros_like(vecs), where=norms > 0)))
        return out

    def select(self, ids: np.ndarray, vecs: np.ndarray, *, is_query: bool) -> np.ndarray:
        """The vectors MaxSim uses: punctuation dropped where configured. A query of punctuation
        only keeps all its tokens."""
        keep = ~(self._punct_query if is_query else self._punct_doc)[ids]
        if is_query and not keep.any():
            return vecs
        return vecs[keep]

    def maxsim(self, query: np.ndarray, docs: Sequence[np.ndarray]) -> list[float]:
        """MaxSim of query token vectors against each document's token vectors."""
        n_q = max(len(query), 1)
        floor = -1.0 if self.reduce == "mean" else -float(n_q)  # a document with no kept token
        scores = []
        for doc in docs:
            if len(doc) == 0 or len(query) == 0:
                scores.append(floor)
                continue
            best = (np.asarray(doc, dtype=np.float32) @ query.T).max(axis=0)
            total = float(best.sum())
            scores.append(total / n_q if self.reduce == "mean" else total)
        return scores

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        (q_ids, q_vecs), *docs = self.tokens([query, *texts])
        query_vecs = self.select(q_ids, q_vecs, is_query=True)
        return self.maxsim(query_vecs, [self.select(ids, vecs, is_query=False) for ids, vecs in docs])


def _token_classes(tokenizer: Any) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over the vocabulary: special tokens, and tokens with no letter or digit."""
    size = max(len(tokenizer), max(tokenizer.all_special_ids, default=0) + 1)
    special = np.zeros(size, dtype=bool)
    special[list(tokenizer.all_special_ids)] = True
    punct = np.zeros(size, dtype=bool)
    for tok, idx in tokenizer.get_vocab().items():
        if idx < size and not any(c.isalnum() for c in tok.removeprefix("##").removeprefix("▁").removeprefix("Ġ")):
            punct[idx] = True
    return special, punct & ~special
