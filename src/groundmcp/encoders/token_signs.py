"""Token signs: a prose chunk's token vectors kept at ingest in one bit a dimension, so search can
order prose by late interaction without encoding any candidate again.

The late-interaction reranker (rerank/late_interaction.py) encodes each candidate's tokens at search
time, about 20 ms a candidate on a CPU: on the public docs set it lifts nDCG@10 from 0.572 to 0.601
but costs 0.4 s a query, so it is off by default. The same token vectors come out of the forward
pass that makes a chunk's dense vector at ingest, and their signs keep almost all of what MaxSim
needs once the text's own mean token vector is taken off (the mean is shared by every token of a
text, so its signs say little about any one of them): replayed over the same candidates, MaxSim
over these signs scored 0.6016 against 0.6013 in float32 (bench/token_signs_replay.py).

A signature is 1 bit for each of the model's dimensions for each token, special tokens left out:
48 bytes a token for a 384-d model, about 9 KB for a 200-token chunk, kept in the chunk's
payload as base64. The query side stays in float: its token vectors, each of unit length.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence

import numpy as np


def pack(tokens: np.ndarray) -> str:
    """The signature of one text: `tokens` (its tokens' vectors from the model's last layer,
    special tokens left out; rows of any scale) centred on their mean, one bit a dimension."""
    if tokens.ndim != 2 or len(tokens) == 0:
        return ""
    centred = tokens.astype(np.float32) - tokens.astype(np.float32).mean(axis=0)
    return base64.b64encode(np.packbits(centred > 0, axis=1).tobytes()).decode("ascii")


def unpack(signature: str, dim: int) -> np.ndarray:
    """The signature's token rows as ±1/sqrt(dim) (unit length), shape (tokens, dim); (0, dim)
    for an empty or malformed one."""
    row_bytes = (dim + 7) // 8
    raw = np.frombuffer(_raw(signature, row_bytes), dtype=np.uint8)
    if not len(raw):
        return np.zeros((0, dim), dtype=np.float32)
    bits = np.unpackbits(raw.reshape(-1, row_bytes), axis=1, count=dim)
    return (bits.astype(np.float32) * 2.0 - 1.0) / np.sqrt(dim)


def query_rows(tokens: np.ndarray) -> np.ndarray:
    """A query's token vectors as unit rows (float32), the side MaxSim averages over."""
    rows = np.asarray(tokens, dtype=np.float32)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def late_scores(query: np.ndarray, cosines: Sequence[float], signatures: Sequence[str]) -> list[float]:
    """For each candidate, the late-interaction reranker's score with its tokens taken from the
    signature: the mean of MaxSim (each query token's best match among the candidate's tokens,
    averaged over the query's) and the candidate's dense cosine. `query`: unit rows (query_rows).
    All candidates' bits go through one matrix product: +-1 rows as 2 * bits - 1."""
    dim = query.shape[1] if query.ndim == 2 else 0
    row_bytes = (dim + 7) // 8
    blocks = [_raw(signature, row_bytes) if dim and len(query) else _EMPTY for signature in signatures]
    lengths = [len(b) // row_bytes if row_bytes else 0 for b in blocks]
    late = np.full(len(blocks), -1.0)
    if sum(lengths):
        bits = np.unpackbits(np.frombuffer(b"".join(blocks), dtype=np.uint8).reshape(-1, row_bytes), axis=1, count=dim)
        q = np.ascontiguousarray(query.T, dtype=np.float32)
        sims = (2.0 * (bits.astype(np.float32) @ q) - q.sum(axis=0)) / np.sqrt(dim)  # (all rows, query tokens)
        starts = np.cumsum([0, *lengths[:-1]])
        has = np.asarray(lengths) > 0
        best = np.maximum.reduceat(sims, starts[has], axis=0)  # each candidate's best row per query token
        late[has] = best.mean(axis=1)
    return [(float(m) + float(c)) / 2.0 for m, c in zip(late, cosines, strict=True)]


_EMPTY = b""


def _raw(signature: str, row_bytes: int) -> bytes:
    """The signature's bytes, or nothing where it is malformed or not whole rows."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return _EMPTY
    return raw if row_bytes and len(raw) % row_bytes == 0 else _EMPTY
