"""Builds the encoder the settings name."""

from __future__ import annotations

from ..settings import Settings
from .base import Encoder


def load_encoder(settings: Settings) -> Encoder:
    from .openai_compat import is_remote

    if is_remote(settings.model):
        from .openai_compat import OpenAICompatEncoder

        key = settings.openai_api_key
        return OpenAICompatEncoder(
            settings.model,
            base_url=settings.openai_base_url,
            api_key=key.get_secret_value() if key else None,
            batch_size=settings.openai_batch_size,
            timeout_s=settings.openai_timeout_s,
            max_retries=settings.openai_max_retries,
            max_input_tokens=settings.openai_max_input_tokens,
        )
    from .sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(
        settings.model,
        device=settings.device,
        precision=settings.precision,
        batch_size=settings.batch_size,
        release_memory=settings.release_memory,
        backend=settings.encoder_backend,
        single_text_runtime=settings.single_text_runtime,
    )
