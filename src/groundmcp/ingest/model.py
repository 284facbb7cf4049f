"""The encoder as ingest uses it: loaded when the first file needs chunking, not before.

A re-ingest that finds nothing new needs no model: the walk, the manifest and the hashes decide.
Given a `LazyEncoder`, such an ingest never imports torch or loads the model (7 s of a 10 s
`groundmcp ingest` on an unchanged tree). The collection is checked against the model's name up
front, and in full (dimension included) as soon as the model is loaded, before anything is encoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from ..collection_meta import SPARSE_SCHEME, check_compatible
from ..encoders.base import Encoder
from ..store.base import CollectionInfo


@dataclass(frozen=True, slots=True)
class LazyEncoder:
    """An encoder that `load()` makes when ingest first needs one. `name` must be the name the
    loaded encoder reports (what a collection records); a wrong one costs a load, never a wrong
    answer, as the loaded encoder is checked again."""

    name: str
    load: Callable[[], Encoder]


class EncoderSlot:
    """The encoder of one ingest run, loaded once (from any thread) and checked against the
    collection it writes to."""

    def __init__(self, encoder: Encoder | LazyEncoder) -> None:
        self._lazy = encoder if isinstance(encoder, LazyEncoder) else None
        self._encoder = None if isinstance(encoder, LazyEncoder) else encoder
        self._unchecked: CollectionInfo | None = None  # checked by name only, until loaded
        self._lock = threading.Lock()

    def get(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                assert self._lazy is not None
                encoder = self._lazy.load()
                if self._unchecked is not None:
                    check_compatible(self._unchecked, encoder)
                self._encoder = encoder
            return self._encoder

    def check(self, info: CollectionInfo) -> None:
        """Raise IncompatibleCollection unless the encoder makes the vectors `info` holds. An
        encoder not loaded yet is checked by name, and in full once loaded; on a mismatch it is
        loaded at once, so the error can name its dimension."""
        with self._lock:
            lazy = self._lazy if self._encoder is None else None
            if lazy is not None and info.meta.get("model") == lazy.name and info.meta.get("sparse") == SPARSE_SCHEME:
                self._unchecked = info
                return
        check_compatible(info, self.get())
