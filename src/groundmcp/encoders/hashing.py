"""A deterministic, dependency-free encoder for fast unit tests of the layers above encoding.

It hashes code-aware tokens into a fixed number of signed buckets (the "hashing trick"), so texts
that share words get similar vectors. It has no notion of meaning: use it where a test is about
ingest bookkeeping or storage, never to judge retrieval quality.
"""

from __future__ import annotations

import zlib

import numpy as np

from ..sparse import tokenize
from .base import Encoder


class HashingEncoder(Encoder):
    def __init__(self, dim: int = 64, max_tokens: int = 256, batch_size: int = 32) -> None:
        self.name = f"hashing-{dim}"
        self.dim = dim
        self.max_tokens = max_tokens
        self.batch_size = batch_size

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text)[: self.max_tokens]:
                h = zlib.crc32(token.encode())
                out[row, h % self.dim] += 1.0 if (h >> 16) & 1 else -1.0
        return out
