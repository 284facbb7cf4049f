"""Builds the encoder the settings name."""

from __future__ import annotations

from ..settings import Settings
from .base import Encoder


def load_encoder(settings: Settings) -> Encoder:
    from .sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(
        settings.model,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        release_memory=settings.release_memory,
        backend=settings.encoder_backend,
    )
