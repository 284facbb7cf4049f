"""Builds the reranker a setting names.

    "late-interaction"                MaxSim over the loaded encoder's token embeddings (offline)
    "cross-encoder"                   sentence-transformers CrossEncoder, the default ms-marco model
    "cross-encoder:<name-or-path>"    any Hugging Face cross-encoder name or local directory
    "none"                            no reranking: load_reranker returns None, keep first-stage order

Names are case-insensitive except the model after "cross-encoder:". Cross-encoders load on first use.
"""

from __future__ import annotations

from ..encoders.base import Encoder
from ..errors import InputError
from .base import Reranker

DEFAULT_RERANKER = "late-interaction"
NAMES = ("late-interaction", "cross-encoder", "cross-encoder:<hugging-face-name-or-local-path>", "none")


def load_reranker(name: str, encoder: Encoder | None = None) -> Reranker | None:
    """The reranker `name` selects, or None for "none". `encoder` is needed by late-interaction only."""
    spec = name.strip()
    kind, _, model = spec.partition(":")
    kind = kind.strip().lower()
    if kind in ("none", "off", ""):
        return None
    if kind == "late-interaction" and not model:
        from ..encoders.sentence_transformers import SentenceTransformerEncoder
        from .late_interaction import LateInteractionReranker

        if not isinstance(encoder, SentenceTransformerEncoder):
            raise InputError(
                f"the late-interaction reranker needs a sentence-transformers encoder (it reuses its token "
                f"embeddings); the encoder in use is {getattr(encoder, 'name', None)!r}. Pick a "
                "sentence-transformers model, a cross-encoder reranker, or reranker 'none'."
            )
        return LateInteractionReranker(encoder)
    if kind == "cross-encoder":
        from .cross_encoder import DEFAULT_CROSS_ENCODER, CrossEncoderReranker

        return CrossEncoderReranker(model.strip() or DEFAULT_CROSS_ENCODER)
    raise InputError(f"unknown reranker {name!r}; choose one of: {', '.join(NAMES)}")
