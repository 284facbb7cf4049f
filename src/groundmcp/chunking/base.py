"""The unit every chunker produces and every later step consumes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .words import spelled

TokenCounter = Callable[[str], int]
"""Counts tokens of a text the way the encoder will (chunk sizes are in encoder tokens)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    """A piece of one file, small enough to embed whole (a prose chunk may run past the encoder's
    window by a last piece folded into it: see `windows.fold_tail`).

    `text` is the file's own content for lines start_line..end_line (1-based, inclusive); `header`
    is a short context line (path, enclosing class or heading path, signature) that is embedded
    together with the text but reported separately, so citations quote only the file.
    """

    path: str  # path relative to the ingest root, with forward slashes
    language: str  # "python", "markdown", "text", ...
    kind: str  # "code" or "doc"
    symbol: str  # "Class.method", "Heading > Sub-heading", or "" when there is none
    start_line: int
    end_line: int
    text: str
    header: str = ""
    page: int | None = None  # PDF page (1-based) where the chunk starts

    @property
    def embed_text(self) -> str:
        return f"{self.header}\n{self.text}" if self.header else self.text

    @property
    def dense_text(self) -> str:
        """What the dense encoder is given: `embed_text`, with a code chunk's camelCase
        names spelled as words (words.py). The sparse vector keeps `embed_text`."""
        return spelled(self.embed_text) if self.kind == "code" else self.embed_text
