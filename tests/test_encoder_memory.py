"""Giving an encode's memory back: where it runs, when the encoder calls it, and that it changes
no vector. How much it saves is measured in bench/memory.py, not here."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from groundmcp.encoders import base, memory
from groundmcp.encoders.hashing import HashingEncoder

glibc_only = pytest.mark.skipif(not memory.allocator_tunable(), reason="needs Linux with glibc")


@glibc_only
def test_the_allocator_calls_run_on_glibc():
    assert memory.release_freed_memory() is True
    assert memory.keep_large_blocks_mapped() is True


def test_elsewhere_the_allocator_calls_are_skipped(monkeypatch):
    memory._glibc.cache_clear()
    monkeypatch.setattr(sys, "platform", "darwin")
    try:
        assert memory.allocator_tunable() is False
        assert memory.release_freed_memory() is False
        assert memory.keep_large_blocks_mapped() is False
    finally:
        memory._glibc.cache_clear()


@pytest.fixture
def releases(monkeypatch) -> list[int]:
    """Counts the encoder layer's calls to release_freed_memory (which still runs)."""
    calls: list[int] = []
    real = base.release_freed_memory

    def counted() -> bool:
        calls.append(1)
        return real()

    monkeypatch.setattr(base, "release_freed_memory", counted)
    return calls


def test_a_batch_encode_gives_memory_back_once(releases):
    encoder = HashingEncoder(batch_size=4)
    vectors = encoder.encode_documents([f"def f{i}(x): return x + {i}" for i in range(10)])
    assert vectors.shape == (10, 64)
    assert len(releases) == 1  # once per call, after all its batches


def test_single_queries_and_small_calls_do_not_pay_for_it(releases):
    encoder = HashingEncoder(batch_size=4)
    encoder.encode_query("how are retries backed off")
    encoder.encode_documents(["one", "two", "three"])
    assert releases == []


def test_it_can_be_turned_off(releases):
    encoder = HashingEncoder(batch_size=4)
    encoder.release_memory = False
    encoder.encode_documents([f"text {i}" for i in range(10)])
    assert releases == []


@glibc_only
def test_vectors_are_the_same_with_memory_given_back(real_encoder, releases):
    """Pages handed back between batches come back zeroed or reused: no vector may change."""
    texts = [f"def handler_{i}(request):\n    return respond(request, status={200 + i})\n" * (1 + i % 7)
             for i in range(40)]
    queries = ["respond to a request with a status", "handler"]
    before = real_encoder.release_memory
    try:
        real_encoder.release_memory = False
        kept = real_encoder.encode_documents(texts)
        kept_q = real_encoder.encode_queries(queries)
        real_encoder.release_memory = True
        given_back = real_encoder.encode_documents(texts)
        given_back_q = real_encoder.encode_queries(queries)
    finally:
        real_encoder.release_memory = before
    assert releases, "the real encoder's batch encode should have released memory"
    np.testing.assert_allclose(given_back, kept, atol=1e-6)
    np.testing.assert_allclose(given_back_q, kept_q, atol=1e-6)
