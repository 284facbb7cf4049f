"""Query vectors remembered: an LRU of the encoder's query embeddings, one per process.

Clients of one server ask the same things again (an agent re-runs its searches, people paste the
same question with other spacing or capitals), and on a CPU the encode is most of a search. So the
engine keeps the unit vector of each query it encoded, keyed by (model, kind, normalised text), in
a least-recently-used map bounded by entries and bytes, shared by every client of the process.

Normalisation never changes a vector. It folds case and runs of spaces, tabs and newlines only when
the model itself ignores them, and that is checked, not assumed: the first time a model is used,
pairs of probe texts that differ only in case (or only in spacing) are encoded, and the fold is
kept only if each pair gives the same vector. An uncased BERT (the bundled MiniLM) passes both; a
cased or byte-level model keys on the exact text.

The cache is emptied when the model changes (another encoder behind the same cache), so no
vector of one model is ever returned for another. Thread-safe: searches run on worker threads.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..encoders.base import Encoder

TOKENS = "query tokens"  # the kind a query's token rows are kept under (search/late.py reads them)
ENTRY_OVERHEAD_BYTES = 200  # the key tuple, the map's node and the array header, roughly
FOLD_GAP = 1e-5  # a probe pair closer than this is one vector (the query fast path is held to the same)
CASE_PROBES = (("Where Are Retries Backed Off?", "where are retries backed off?"),
               ("parseHTTPHeaders ValueError", "parsehttpheaders valueerror"))
SPACE_PROBES = (("  how are\tretries \n backed   off ", "how are retries backed off"),
                ("def  total(self)\n\n  return 1", "def total(self) return 1"))
_SPACES = re.compile(r"[ \t\r\n]+")


@dataclass(frozen=True, slots=True)
class CacheStats:
    hits: int
    misses: int
    entries: int
    bytes: int
    evictions: int
    max_entries: int
    max_bytes: int
    encodes: int  # queries encoded (the misses that reached the model)
    encode_seconds: float  # time those encodes took, in total
    model: str  # the model whose vectors the cache holds ("" before the first)
    folds: str  # what keys ignore: "case+space", "case", "space" or "none" ("" before the first)

    @property
    def hit_rate(self) -> float:
        asked = self.hits + self.misses
        return self.hits / asked if asked else 0.0

    def to_dict(self) -> dict:
        return {
            "hits": self.hits, "misses": self.misses, "hit_rate": round(self.hit_rate, 4),
            "entries": self.entries, "bytes": self.bytes, "evictions": self.evictions,
            "max_entries": self.max_entries, "max_bytes": self.max_bytes, "encodes": self.encodes,
            "encode_seconds": round(self.encode_seconds, 6), "model": self.model, "folds": self.folds,
        }


class QueryCache:
    """Vectors by (model, kind, normalised text), least recently used out first when either bound
    is passed. `max_entries` 0 turns it off (every lookup misses and nothing is kept)."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max(0, max_entries)
        self.max_bytes = max(0, max_bytes)
        self._map: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self._bytes = 0
        self._model = ""
        self._folds: tuple[bool, bool] | None = None
        self.hits = self.misses = self.evictions = self.encodes = 0
        self.encode_seconds = 0.0

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def vector(self, encoder: Encoder, text: str, kind: str = "query",
               encode: Callable[[str], np.ndarray] | None = None, *, counted: bool = True) -> np.ndarray:
        """The unit vector of `text` from `encoder` (`encode`, default `encoder.encode_query`),
        from the cache when it was encoded before. The array is read-only: copy it to change it.
        `counted`: whether the lookup counts as a hit or a miss (a query's token rows, looked up
        beside its vector, do not). Case and spacing folds are probed with `encode_query`."""
        encode = encode or encoder.encode_query
        if not self.enabled:
            return self._encoded(encode, text)
        key = (encoder.name, kind, self._normalised(encoder, encoder.encode_query, text))
        with self._lock:
            found = self._map.get(key)
            if found is not None:
                self._map.move_to_end(key)
                self.hits += counted
                return found
            self.misses += counted
        vec = self._encoded(encode, text)
        self._put(key, vec)
        return vec

    def keep(self, encoder: Encoder, text: str, kind: str, value: np.ndarray) -> None:
        """Keep `value` for `text` under `kind`, as `vector` would have after encoding it."""
        if not self.enabled:
            return
        key = (encoder.name, kind, self._normalised(encoder, encoder.encode_query, text))
        kept = np.array(value, dtype=np.float32)
        kept.setflags(write=False)
        self._put(key, kept)

    def _encoded(self, encode: Callable[[str], np.ndarray], text: str) -> np.ndarray:
        started = time.perf_counter()
        vec = np.array(encode(text), dtype=np.float32)  # a copy: the caller's array stays its own
        vec.setflags(write=False)
        with self._lock:
            self.encodes += 1
            self.encode_seconds += time.perf_counter() - started
        return vec

    def _put(self, key: tuple[str, str, str], vec: np.ndarray) -> None:
        size = _size(key, vec)
        if size > self.max_bytes:
            return
        with self._lock:
            if key[0] != self._model:
                return  # the model changed while this was encoded: the vector is not kept
            old = self._map.pop(key, None)
            if old is not None:
                self._bytes -= _size(key, old)
            self._map[key] = vec
            self._bytes += size
            while len(self._map) > self.max_entries or self._bytes > self.max_bytes:
                gone_key, gone = self._map.popitem(last=False)
                self._bytes -= _size(gone_key, gone)
                self.evictions += 1

    def _normalised(self, encoder: Encoder, encode: Callable[[str], np.ndarray], text: str) -> str:
        with self._lock:
            fresh = encoder.name != self._model
        if fresh:
            folds = _probe(encode)  # outside the lock: a few encodes
            with self._lock:
                if encoder.name != self._model:  # another thread may have switched it meanwhile
                    self._clear_locked()
                    self._model, self._folds = encoder.name, folds
        with self._lock:
            case, space = self._folds or (False, False)
        if space:
            text = _SPACES.sub(" ", text).strip()
        return text.lower() if case else text

    def clear(self) -> None:
        with self._lock:
            self._clear_locked()

    def _clear_locked(self) -> None:
        self._map.clear()
        self._bytes = 0

    def stats(self) -> CacheStats:
        with self._lock:
            case, space = self._folds or (False, False)
            folds = "" if self._folds is None else "+".join(n for n, on in (("case", case), ("space", space)) if on) or "none"
            return CacheStats(
                hits=self.hits, misses=self.misses, entries=len(self._map), bytes=self._bytes,
                evictions=self.evictions, max_entries=self.max_entries, max_bytes=self.max_bytes,
                encodes=self.encodes, encode_seconds=self.encode_seconds, model=self._model, folds=folds,
            )


def _size(key: tuple[str, str, str], vec: np.ndarray) -> int:
    return vec.nbytes + len(key[2].encode()) + ENTRY_OVERHEAD_BYTES


def _probe(encode: Callable[[str], np.ndarray]) -> tuple[bool, bool]:
    """(case folds, spacing folds): whether the model gives the same vector to each probe pair."""

    def same(pairs: Sequence[tuple[str, str]]) -> bool:
        for a, b in pairs:
            va, vb = (np.asarray(encode(t), dtype=np.float64) for t in (a, b))
            cos = float(va @ vb / (np.linalg.norm(va) * np.linalg.norm(vb) or 1.0))
            if not 1.0 - cos < FOLD_GAP:
                return False
        return True

    return same(CASE_PROBES), same(SPACE_PROBES)


class CachedQueryEncoder(Encoder):
    """`inner` with its single-query encodes answered from `cache`; everything else (documents,
    batches of queries, token counts) is passed straight through. The search path uses this
    (Engine.query_encoder); ingest keeps the plain encoder."""

    def __init__(self, inner: Encoder, cache: QueryCache) -> None:
        self.inner, self.cache = inner, cache
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.special_tokens, self.batch_size = inner.special_tokens, inner.batch_size
        self.release_memory = inner.release_memory

    def encode_query(self, text: str) -> np.ndarray:
        return self.cache.vector(self.inner, text)

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.inner.encode_queries(texts)

    def encode_documents(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray:
        return self.inner.encode_documents(texts, on_batch)

    def encode_documents_signed(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        return self.inner.encode_documents_signed(texts, on_batch)

    @property
    def gives_tokens(self) -> bool:  # type: ignore[override] - the wrapped encoder's answer
        return self.inner.gives_tokens

    def query_tokens(self, text: str) -> np.ndarray | None:
        if not self.inner.gives_tokens:
            return None
        return self.cache.vector(self.inner, text, TOKENS, self.inner.query_tokens, counted=False)

    def encode_query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """The query's vector and token rows, both kept: a vector already in the cache is the one
        returned (so a query's scores never change with the path that encoded it first), and a
        miss encodes both in one pass."""
        if not self.inner.gives_tokens:
            return self.encode_query(text), None
        fresh: dict[str, np.ndarray | None] = {}

        def both(t: str) -> np.ndarray:
            vector, fresh["tokens"] = self.inner.encode_query_with_tokens(t)
            return vector

        vector = self.cache.vector(self.inner, text, encode=both)
        if "tokens" not in fresh:
            return vector, self.query_tokens(text)
        if fresh["tokens"] is not None:
            self.cache.keep(self.inner, text, TOKENS, fresh["tokens"])
        return vector, fresh["tokens"]

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def warm_up(self) -> None:
        self.inner.warm_up()

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        return self.inner._embed(texts, is_query=is_query)  # noqa: SLF001 - the wrapped encoder's own
