"""Builds the reranker a setting names.

    "late-interaction"           offline default: MaxSim + pooled cosine over the loaded encoder's
                                 token embeddings, fused (RRF) with the order the texts come in, which
                                 must be the first-stage order, best first; a list of chunks that is
                                 mostly prose is ordered by those scores alone, and a search's list
                                 that is mostly code keeps its first-stage order (fusion.py)
    "late-interaction:unfused"   the same scores alone, for texts in no meaningful order
    "cross-encoder"              sentence-transformers CrossEncoder, cross-encoder/ms-marco-MiniLM-L6-v2
    "cross-encoder:<name|path>"  any Hugging Face cross-encoder name or local directory
    "none"                       no reranking: load_reranker returns None; keep the first-stage order

The part before ":" is case-insensitive. Cross-encoders load on first use and need the network once
(no cross-encoder weights ship offline). Numbers behind the default: bench/rerank_eval.py.
"""

from __future__ import annotations

from ..encoders.base import Encoder
from ..errors import InputError
from .base import Reranker
from .spec import NAMES, parse_reranker

__all__ = ["DEFAULT_RERANKER", "NAMES", "load_reranker"]

DEFAULT_RERANKER = "late-interaction"
# Equal weights, untuned. On the public eval (bench/rerank_eval.py, hybrid top 50) the fused default
# ties plain hybrid on code (nDCG@10 0.5021 vs 0.5023) and beats it on docs (0.5357 vs 0.4676);
# late-interaction alone loses on code (0.4742) and wins more on docs (0.5875). Weight 2 gave
# docs 0.5601 and code 0.4980 (the code change is inside run-to-run noise).
FIRST_STAGE_WEIGHT = 1.0
LATE_INTERACTION_WEIGHT = 1.0


def load_reranker(name: str, encoder: Encoder | None = None) -> Reranker | None:
    """The reranker `name` selects (parsed by spec.parse_reranker, as doctor parses it), or None
    for "none". `encoder` is needed by late-interaction only."""
    spec = parse_reranker(name)
    if spec.kind == "none":
        return None
    if spec.kind == "late-interaction":
        return _late_interaction(encoder, fused=spec.fused)
    from .cross_encoder import CrossEncoderReranker

    return CrossEncoderReranker(spec.model)


def _late_interaction(encoder: Encoder | None, *, fused: bool) -> Reranker:
    from ..encoders.sentence_transformers import SentenceTransformerEncoder
    from .fusion import RankFusionReranker
    from .late_interaction import LateInteractionReranker

    if not isinstance(encoder, SentenceTransformerEncoder):
        raise InputError(
            "the late-interaction reranker reuses a sentence-transformers encoder's token embeddings; "
            f"the encoder in use is {getattr(encoder, 'name', None)!r}. Use a sentence-transformers "
            "model, a cross-encoder reranker, or reranker 'none'."
        )
    inner = LateInteractionReranker(encoder)
    if not fused:
        return inner
    return RankFusionReranker(
        inner, inner_weight=LATE_INTERACTION_WEIGHT, first_weight=FIRST_STAGE_WEIGHT, by_kind=True
    )
