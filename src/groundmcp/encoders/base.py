"""The encoder interface. Batching, length-sorting, clipping and normalisation live here, once."""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence

import numpy as np

from .memory import release_freed_memory

CHARS_PER_TOKEN_CAP = 16
"""Texts longer than max_tokens * this many characters are clipped before tokenising: the model
truncates to max_tokens anyway, and tokenising megabytes only to throw them away is waste."""


class EncodeTally:
    """What an encoder has done since it loaded, by kind (document, query): batches, texts and
    seconds spent in the model. The metrics read it; encodes from several threads add to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counts: dict[str, list[float]] = {"document": [0, 0, 0.0], "query": [0, 0, 0.0]}

    def add(self, kind: str, texts: int, seconds: float) -> None:
        with self._lock:
            row = self.counts[kind]
            row[0] += 1
            row[1] += texts
            row[2] += seconds

    def snapshot(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: {"batches": int(b), "texts": int(t), "seconds": round(s, 3)} for k, (b, t, s) in self.counts.items()}


class Encoder(ABC):
    """Turns texts into unit-length float32 vectors. Queries and documents are encoded separately
    because many models prompt them differently."""

    name: str  # the model's name as recorded with a collection
    dim: int
    max_tokens: int  # the model's limit, special tokens included
    special_tokens: int = 0  # tokens the model adds to every text ([CLS], [SEP], ...)
    batch_size: int = 32
    gives_tokens: bool = False
    """Whether `_embed_signed` and `query_tokens` work (a local model whose tokens we can read)."""
    release_memory: bool = True
    """Hand the allocator's free pages back to the OS after each encode of a full batch or more
    (encoders/memory.py): a batch's activations are large, and kept they would hold the process
    at its busiest size long after an ingest. Single queries never pay for it."""

    @abstractmethod
    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        """Vectors for one batch, in order; need not be normalised."""

    @abstractmethod
    def count_tokens(self, text: str) -> int:
        """Tokens the model sees for `text` (no special tokens, no truncation)."""

    def encode_documents(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        """Vectors for `texts`; `on_batch(n)` is called after each batch of n texts."""
        return self._encode(texts, is_query=False, on_batch=on_batch)

    def encode_documents_signed(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """`encode_documents`'s vectors and each text's token signature (encoders/token_signs.py)
        from the same forward pass; "" for each where the encoder cannot give its tokens (a
        remote provider, the hashing encoder). Ingest asks for prose chunks only."""
        if not self.gives_tokens:
            return self.encode_documents(texts, on_batch), [""] * len(texts)
        signatures = [""] * len(texts)
        vectors = self._encode(texts, is_query=False, on_batch=on_batch, signatures=signatures)
        return vectors, signatures

    def _embed_signed(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        """Vectors for one batch, as `_embed` gives them, and each text's token signature."""
        raise NotImplementedError

    def query_tokens(self, text: str) -> np.ndarray | None:
        """The query's token vectors as unit rows (token_signs.query_rows), special tokens left out;
        None where the encoder cannot give them."""
        return None

    def encode_query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """`encode_query` and `query_tokens` together; an encoder that gives tokens does both in
        one pass of the model."""
        return self.encode_query(text), self.query_tokens(text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, is_query=True)

    def encode_query(self, text: str) -> np.ndarray:
        return self._encode([text], is_query=True)[0]

    @property
    def tally(self) -> EncodeTally:
        """This encoder's counts (made on first use: backends need not call a base __init__)."""
        tally = self.__dict__.get("_tally")
        if tally is None:
            tally = self.__dict__.setdefault("_tally", EncodeTally())
        return tally

    def warm_up(self) -> None:  # noqa: B027 - an optional hook: most encoders need nothing
        """Get ready to encode many single queries fast. A long-lived process (the server) calls it
        once, in the background, after loading; a one-off command need not. Default: nothing."""

    def _encode(
        self,
        texts: Sequence[str],
        *,
        is_query: bool,
        on_batch: Callable[[int], None] | None = None,
        signatures: list[str] | None = None,
    ) -> np.ndarray:
        """Unit vectors for `texts`; with `signatures` (a list as long as `texts`), each text's
        token signature is written into it too."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        cap = self.max_tokens * CHARS_PER_TOKEN_CAP
        clipped = [t[:cap] for t in texts]
        # Sorting by length keeps padding inside a batch small: on a CPU, padding is most of the
        # waste when chunk lengths vary.
        order = sorted(range(len(clipped)), key=lambda i: len(clipped[i]))
        out = np.empty((len(clipped), self.dim), dtype=np.float32)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            began = time.perf_counter()
            batch = [clipped[i] for i in idx]
            if signatures is None:
                vecs = np.asarray(self._embed(batch, is_query=is_query), dtype=np.float32)
            else:
                raw, signed = self._embed_signed(batch)
                vecs = np.asarray(raw, dtype=np.float32)
                for i, signature in zip(idx, signed, strict=True):
                    signatures[i] = signature
            self.tally.add("query" if is_query else "document", len(idx), time.perf_counter() - began)
            if vecs.shape != (len(idx), self.dim):
                raise RuntimeError(
                    f"encoder {self.name} returned shape {vecs.shape}, expected {(len(idx), self.dim)}"
                )
            out[idx] = vecs
            if on_batch is not None:
                on_batch(len(idx))
        if self.release_memory and len(clipped) >= self.batch_size:
            release_freed_memory()
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
        return out
