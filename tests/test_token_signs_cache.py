"""The engine's query cache keeps a query's token rows beside its vector (search/query_cache.py), so
a hybrid search repeated, or asked again in another case, encodes nothing and scores the same."""

from __future__ import annotations

import numpy as np

from groundmcp.search.query_cache import TOKENS, CachedQueryEncoder, QueryCache


class Counting:
    """Counts the model passes behind the cache; the encoder itself is the real one."""

    def __init__(self, inner):
        self.inner, self.passes = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def encode_query(self, text):
        self.passes += 1
        return self.inner.encode_query(text)

    def encode_query_with_tokens(self, text):
        self.passes += 1
        return self.inner.encode_query_with_tokens(text)

    def query_tokens(self, text):
        self.passes += 1
        return self.inner.query_tokens(text)


def test_a_query_is_encoded_once_for_its_vector_and_tokens_and_a_case_variant_reuses_both(real_encoder):
    counting = Counting(real_encoder)
    cached = CachedQueryEncoder(counting, QueryCache(max_entries=100, max_bytes=10_000_000))
    cached.encode_query("warm the fold probes")  # the cache probes case and spacing folds once
    counting.passes = 0
    vector, tokens = cached.encode_query_with_tokens("How are failed calls retried?")
    assert counting.passes == 1 and tokens.shape[1] == real_encoder.dim
    again_vector, again_tokens = cached.encode_query_with_tokens("HOW are failed calls retried?")
    assert counting.passes == 1  # the model folds case: both came from the cache
    assert np.array_equal(vector, again_vector) and np.array_equal(tokens, again_tokens)
    assert np.array_equal(cached.query_tokens("How are failed calls retried?"), tokens) and counting.passes == 1
    stats = cached.cache.stats()
    assert (stats.hits, stats.misses) == (1, 2)  # the vectors' lookups (the warm-up's miss too); tokens uncounted


def test_a_vector_cached_first_by_a_dense_search_is_the_one_a_hybrid_search_gets(real_encoder):
    cached = CachedQueryEncoder(real_encoder, QueryCache(max_entries=100, max_bytes=10_000_000))
    first = cached.encode_query("where is the retry delay computed")
    vector, tokens = cached.encode_query_with_tokens("where is the retry delay computed")
    assert np.array_equal(vector, first)  # not a second encode by another path
    assert tokens is not None and len(tokens) > 3
    key = [k for k in cached.cache._map if k[1] == TOKENS]  # noqa: SLF001 - the entry the late step reads
    assert len(key) == 1
