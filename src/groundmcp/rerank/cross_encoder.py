"""Cross-encoder reranking over sentence-transformers `CrossEncoder`: any Hugging Face name or local path.

No cross-encoder weights ship on PyPI, so this backend needs the network once (or a local copy);
the offline default is the late-interaction reranker."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..encoders.device import pick_device
from ..errors import GroundError
from .base import Reranker
from .spec import DEFAULT_CROSS_ENCODER

log = logging.getLogger(__name__)

MAX_CHARS = 512 * 16  # the model truncates at its token limit; longer text is only tokenised to be dropped


class CrossEncoderReranker(Reranker):
    def __init__(self, model: str = DEFAULT_CROSS_ENCODER, *, device: str = "auto", batch_size: int = 32) -> None:
        self.model = model
        self.name = f"cross-encoder:{model}"
        self.device = device
        self.batch_size = batch_size
        self._ce: Any = None
        self._load_lock = threading.Lock()
        # The tokenizer keeps padding/truncation state; one predict at a time keeps batches intact.
        self._predict_lock = threading.Lock()

    def _loaded(self) -> Any:
        if self._ce is None:
            with self._load_lock:
                if self._ce is None:
                    self._ce = self._load()
        return self._ce

    def _load(self) -> Any:
        from sentence_transformers import CrossEncoder
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # its weight-loading bar is noise on every start
        local = Path(self.model).expanduser()
        source = str(local) if local.exists() else self.model
        try:
            ce = CrossEncoder(source, device=pick_device(self.device))
        except Exception as exc:  # hub, config and weight errors come in many types; all mean "not loadable"
            raise GroundError(
                f"could not load cross-encoder {self.model!r}: {type(exc).__name__}: {exc}. Give a Hugging "
                "Face cross-encoder name (downloaded once, needs the network) or a local directory saved "
                "with save_pretrained. Offline, no cross-encoder weights are available: use the "
                "late-interaction reranker (default) or give a local path."
            ) from exc
        log.info("cross-encoder %s on %s", self.model, ce.device)
        return ce

    def score(self, query: str, texts: Sequence[str]) -> list[float]:
        if not texts:
            return []
        ce = self._loaded()
        pairs = [(query, t[:MAX_CHARS]) for t in texts]
        with self._predict_lock:
            out = ce.predict(pairs, batch_size=self.batch_size, show_progress_bar=False, convert_to_numpy=True)
        scores = np.asarray(out, dtype=np.float32)
        if scores.ndim == 2:  # several labels: the last is "relevant" in binary relevance heads
            scores = scores[:, -1]
        return [float(s) for s in scores]
