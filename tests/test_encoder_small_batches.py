"""Document batches of a few texts (a memory-style client's one note an ingest) run on the
one-thread query workers, as a single query does; larger batches keep torch's thread team. Either
way the vectors are the same: only the thread count differs."""

from __future__ import annotations

import threading

import numpy as np
import torch

from groundmcp.encoders.base import Encoder
from groundmcp.encoders.sentence_transformers import SMALL_BATCH

NOTES = [
    "The user prefers dark mode in every editor.",
    "def parse_amount(text):\n    return Decimal(text.replace(',', ''))",
    "Meeting notes: the billing service retries failed refunds with exponential backoff.",
    "Remember that the staging database is reset every Sunday night.",
    "class RetryPolicy:\n    max_attempts = 5",
]


def where_it_ran(encoder, texts: list[str]) -> tuple[str, int]:
    """The thread that encoded `texts` (its name) and its torch thread count."""
    seen: list[tuple[str, int]] = []
    encoder.encode_documents(texts, on_batch=lambda _n: seen.append(
        (threading.current_thread().name, torch.get_num_threads())))
    assert len({s for s in seen}) == 1
    return seen[0]


def test_a_few_texts_run_on_a_one_thread_worker_and_a_batch_keeps_the_team(real_encoder):
    for n in range(1, SMALL_BATCH):
        name, threads = where_it_ran(real_encoder, NOTES[:n])
        assert name.startswith("query-encode") and threads == 1
    name, threads = where_it_ran(real_encoder, NOTES[:SMALL_BATCH])
    assert name == threading.current_thread().name
    assert threads == torch.get_num_threads()


def test_a_few_texts_get_the_vectors_the_thread_team_gives(real_encoder):
    for n in range(1, SMALL_BATCH):
        small = real_encoder.encode_documents(NOTES[:n])
        team = Encoder.encode_documents(real_encoder, NOTES[:n])  # the base path: the caller's threads
        np.testing.assert_allclose(small, team, atol=1e-6)
    batch = real_encoder.encode_documents(NOTES)  # a batch of its own, padded together, on the team
    one_by_one = np.stack([real_encoder.encode_documents([t])[0] for t in NOTES])
    assert np.min(np.sum(batch * one_by_one, axis=1)) > 1 - 1e-5
