"""How the CLI prints search hits, in one place for both ways it answers a search: cli.py (through
the owner's MCP session, or in process) and quick.py (the fast path to a running owner)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from rich.markup import escape

from .search.snippet import best_window

SNIPPET_LINES = 8


STALE = {"changed": "changed on disk since indexed", "deleted": "deleted from disk since indexed"}


class Hit(Protocol):
    citation: str
    symbol: str
    score: float
    text: str
    start_line: int
    collection: str  # "" unless the search covered several collections


def print_hits(out, hits: Sequence[Hit], query: str, states: Sequence[str] = ()) -> None:
    """Each hit's rank, collection (a search of several), citation, symbol and score, whether its
    file changed since it was indexed (`states`: each hit's disk_state), and the window of its text
    that best matches `query`, on the rich console `out`."""
    if not hits:
        out.print("no results")
        return
    for i, h in enumerate(hits, 1):
        where = f"[magenta]{escape(h.collection)}[/] " if h.collection else ""
        label = f"  [dim]{escape(h.symbol)}[/]" if h.symbol else ""
        stale = STALE.get(states[i - 1], "") if i <= len(states) else ""
        flag = f"  [yellow]({stale})[/]" if stale else ""
        out.print(f"[bold]{i:>2}[/]  {where}[cyan]{escape(h.citation)}[/]{label}  [dim]score {h.score:.3f}[/]{flag}")
        snip = best_window(h.text, h.start_line, query, SNIPPET_LINES)
        if snip.cut_before:
            out.print(f"    │ … {snip.cut_before} lines above", style="dim")
        for line in snip.lines:
            out.print(f"    │ {line[:160]}", markup=False, highlight=False)
        if snip.cut_after:
            out.print(f"    │ … {snip.cut_after} more lines", style="dim")
        out.print()
