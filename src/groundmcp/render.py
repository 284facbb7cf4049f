"""How the CLI prints search hits, in one place for both ways it answers a search: cli.py (through
the owner's MCP session, or in process) and quick.py (the fast path to a running owner)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from .search.snippet import best_window

SNIPPET_LINES = 8


class Hit(Protocol):
    citation: str
    symbol: str
    score: float
    text: str
    start_line: int


def print_hits(out, hits: Sequence[Hit], query: str) -> None:
    """Each hit's rank, citation, symbol and score, and the window of its text that best matches
    `query`, on the rich console `out`."""
    if not hits:
        out.print("no results")
        return
    for i, h in enumerate(hits, 1):
        label = f"  [dim]{h.symbol}[/]" if h.symbol else ""
        out.print(f"[bold]{i:>2}[/]  [cyan]{h.citation}[/]{label}  [dim]score {h.score:.3f}[/]")
        snip = best_window(h.text, h.start_line, query, SNIPPET_LINES)
        if snip.cut_before:
            out.print(f"    │ … {snip.cut_before} lines above", style="dim")
        for line in snip.lines:
            out.print(f"    │ {line[:160]}", markup=False, highlight=False)
        if snip.cut_after:
            out.print(f"    │ … {snip.cut_after} more lines", style="dim")
        out.print()
