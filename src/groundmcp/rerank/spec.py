"""What a reranker setting names, parsed once: the loader and `doctor` both read this.

    "late-interaction"           offline default (see factory.py)
    "late-interaction:unfused"   the same scores alone
    "cross-encoder[:NAME-OR-PATH]"
    "none" (or empty)            no reranking

The kind is case-insensitive; the argument of a cross-encoder keeps its case (a model name or path).
This module imports nothing heavy, so settings can validate with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import InputError

NAMES = ("late-interaction", "late-interaction:unfused", "cross-encoder", "cross-encoder:<name-or-path>", "none")
DEFAULT_CROSS_ENCODER = "cross-encoder/ms-marco-MiniLM-L6-v2"


@dataclass(frozen=True, slots=True)
class RerankerSpec:
    kind: Literal["late-interaction", "cross-encoder", "none"]
    fused: bool = True  # late-interaction: fused with the first-stage order
    model: str = ""  # cross-encoder: the name or path

    def __str__(self) -> str:
        if self.kind == "late-interaction":
            return "late-interaction" if self.fused else "late-interaction:unfused"
        if self.kind == "cross-encoder":
            return f"cross-encoder:{self.model}"
        return "none"


def parse_reranker(name: str) -> RerankerSpec:
    """The spec `name` names; InputError listing the choices for anything else."""
    kind, _, arg = name.strip().partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind in ("none", "") and not arg:
        return RerankerSpec("none")
    if kind == "late-interaction" and arg.lower() in ("", "unfused"):
        return RerankerSpec("late-interaction", fused=not arg)
    if kind == "cross-encoder":
        return RerankerSpec("cross-encoder", model=arg or DEFAULT_CROSS_ENCODER)
    raise InputError(f"unknown reranker {name!r}; choose one of: {', '.join(NAMES)}")
