"""Prose ordered by late interaction from the token signatures kept at ingest, on every hybrid search.

Where the fused top LATE_DEPTH hits are mostly prose, the prose hits among them are put in the
order of the late-interaction reranker's score (MaxSim over the query's tokens and the chunk's,
averaged with the dense cosine), with each chunk's tokens read from its signature
(encoders/token_signs.py) instead of encoded again. Only the prose hits move, among the places
prose hits held: code keeps its places, and the scores stay the first stage's, still best first
(a place keeps its score; the late score only decides which prose hit takes it).

Measured on the public docs set (`groundmcp eval`, 310 queries): nDCG@10 0.5719 -> 0.6016, what
the reranker gives (0.6013), for about 8 ms a search in process (bench/late_latency.py: p50 28.4
against 20.1 ms; the query's tokens come from the pass that makes its vector, see `query_inputs`)
against ~0.4 s for the reranker. Code-led lists are left as they are: late interaction does not
beat the fused order on code (docs/benchmarks.md, "Reranking, round two").

Chunks without a signature (ingested before signatures existed, by an encoder that cannot give its
tokens, or of code) keep their places; with fewer than two signed prose hits nothing moves.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..chunking.languages import DOC
from ..encoders.base import Encoder
from ..encoders.token_signs import late_scores
from ..rerank.fusion import prose_led
from ..store.base import Store

LATE_DEPTH = 20  # the fused top that is re-ordered: what the reranker takes (search/query.py)


def late_ordered(
    store: Store,
    encoder: Encoder,
    collection: str,
    query: str,
    query_vector: Sequence[float],
    hits: list,
    tokens: np.ndarray | None = None,
) -> list:
    """`hits` (fused order, best first) with the prose among their top LATE_DEPTH re-ordered.
    `tokens`: the query's token rows where the caller has them (`query_inputs`); else the encoder
    is asked (a search of several collections, whose vector came with the request)."""
    head = hits[:LATE_DEPTH]
    if len(head) < 2 or not encoder.gives_tokens or not prose_led([h.kind for h in head]):
        return hits
    prose = [i for i, h in enumerate(head) if h.kind == DOC]
    inputs = store.late_inputs(collection, [head[i].id for i in prose])
    def usable(i: int) -> bool:  # has a signature, and a vector of the query's size
        vector, signature = inputs.get(head[i].id, ([], ""))
        return bool(signature) and len(vector) == len(query_vector)

    signed = [i for i in prose if usable(i)]
    if len(signed) < 2:
        return hits
    if tokens is None:
        tokens = encoder.query_tokens(query)
    if tokens is None or not len(tokens):
        return hits
    q = np.asarray(query_vector, dtype=np.float32)
    cosines = [float(np.asarray(inputs[head[i].id][0], dtype=np.float32) @ q) for i in signed]
    scores = late_scores(tokens, cosines, [inputs[head[i].id][1] for i in signed])
    order = sorted(range(len(signed)), key=lambda k: (-scores[k], k))
    placed = list(head)
    for slot, k in zip(signed, order, strict=True):
        placed[slot] = dataclasses.replace(head[signed[k]], score=head[slot].score)
    return placed + hits[LATE_DEPTH:]


def query_inputs(encoder: Encoder, query: str) -> tuple[np.ndarray, np.ndarray | None]:
    """The query's dense vector for a hybrid search and, from the same pass of the model, its token
    rows for `late_ordered` (None where the encoder gives none): one pass instead of two when the
    hits turn out prose-led, about 2 ms more than the traced query path when they do not. The
    engine's encoder keeps both (search/query_cache.py)."""
    if not encoder.gives_tokens:
        return encoder.encode_query(query), None
    return encoder.encode_query_with_tokens(query)
