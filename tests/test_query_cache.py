"""The query-vector cache (search/query_cache.py): repeats and near-repeats are answered without
the model, with the very vector the model gives; the bounds hold; another model empties it; and
the engine's searches go through it."""

from __future__ import annotations

import numpy as np
import pytest

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.search.query import SearchRequest
from groundmcp.search.query_cache import ENTRY_OVERHEAD_BYTES, CachedQueryEncoder, QueryCache
from groundmcp.settings import Settings


class Counting(HashingEncoder):
    """The hashing encoder, counting the single queries that reach it (probes included)."""

    def __init__(self, dim: int = 64, name: str | None = None) -> None:
        super().__init__(dim)
        self.name = name or self.name
        self.calls: list[str] = []

    def encode_query(self, text: str) -> np.ndarray:
        self.calls.append(text)
        return super().encode_query(text)


def test_real_model_folds_case_and_spacing_and_returns_its_own_vectors(real_encoder):
    cache = QueryCache(100, 10_000_000)
    cached = CachedQueryEncoder(real_encoder, cache)
    first = cached.encode_query("How are retries backed off?")
    again = cached.encode_query("  how are RETRIES\tbacked   off? ")
    assert cache.stats().folds == "case+space"  # the bundled MiniLM is uncased: checked, not assumed
    assert again is first and cache.stats().hits == 1 and cache.stats().misses == 1
    direct = real_encoder.encode_query("  how are RETRIES\tbacked   off? ")
    assert float(direct @ first) > 1 - 1e-5  # the vector the model gives the variant itself
    assert not first.flags.writeable  # shared by every caller: nobody may change it


def test_a_model_that_sees_case_keys_on_the_exact_text():
    enc = Counting()  # its tokens keep case (camelCase splits), so case changes the vector
    cache = QueryCache(100, 10_000_000)
    cached = CachedQueryEncoder(enc, cache)
    a = cached.encode_query("parseHeaders")
    b = cached.encode_query("PARSEHEADERS")
    assert cache.stats().folds == "space" and cache.stats().misses == 2
    np.testing.assert_array_equal(b, enc.encode_query("PARSEHEADERS"))
    assert not np.array_equal(a, b)
    enc.calls.clear()
    cached.encode_query("parseHeaders  ")
    assert enc.calls == [] and cache.stats().hits == 1


def test_bounds_by_entries_and_bytes_evict_least_recently_used():
    enc = Counting(dim=64)
    per = 64 * 4 + ENTRY_OVERHEAD_BYTES
    cache = QueryCache(3, 10_000_000)
    cached = CachedQueryEncoder(enc, cache)
    for q in ("q1", "q2", "q3"):
        cached.encode_query(q)
    cached.encode_query("q1")  # q1 is now the most recent: q2 goes first
    cached.encode_query("q4")
    enc.calls.clear()
    cached.encode_query("q1")
    cached.encode_query("q2")
    assert enc.calls == ["q2"]
    s = cache.stats()
    assert s.entries == 3 and s.evictions == 2

    small = QueryCache(1000, 2 * (per + 2))  # room for two entries of two-character queries
    cached = CachedQueryEncoder(enc, small)
    for q in ("a1", "a2", "a3"):
        cached.encode_query(q)
    assert small.stats().entries == 2 and small.stats().bytes <= small.max_bytes


def test_zero_entries_turns_it_off():
    enc = Counting()
    cache = QueryCache(0, 10_000_000)
    cached = CachedQueryEncoder(enc, cache)
    cached.encode_query("x")
    cached.encode_query("x")
    assert enc.calls == ["x", "x"] and cache.stats().entries == 0


def test_another_model_empties_it_and_is_never_answered_with_the_old_vectors():
    cache = QueryCache(100, 10_000_000)
    one = CachedQueryEncoder(Counting(64, name="model-a"), cache)
    one.encode_query("retry")
    assert cache.stats().entries == 1 and cache.stats().model == "model-a"
    other = Counting(32, name="model-b")
    vec = CachedQueryEncoder(other, cache).encode_query("retry")
    assert vec.shape == (32,) and "retry" in other.calls
    s = cache.stats()
    assert s.model == "model-b" and s.entries == 1 and s.hits == 0


@pytest.mark.parametrize("entries", [4096, 0])
def test_engine_searches_share_the_cache(tmp_path, project, entries):
    enc = Counting()
    settings = Settings(data_dir=tmp_path / "data", query_cache_entries=entries)
    engine = Engine(settings, encoder=enc)
    try:
        engine.ingest(str(project))
        enc.calls.clear()
        first = engine.search(SearchRequest(query="retry with backoff", top_k=2))
        again = engine.search(SearchRequest(query="retry  with backoff ", top_k=2, mode="dense"))
        hybrid = engine.search(SearchRequest(query="retry with backoff", top_k=2))
        assert [h.id for h in hybrid] == [h.id for h in first] and again  # top 2: the third ties at 0
        real = [c for c in enc.calls if c.strip() in ("retry with backoff", "retry  with backoff")]
        assert len(real) == (1 if entries else 3)
        assert engine.queries.stats().hits == (2 if entries else 0)
    finally:
        engine.close()
