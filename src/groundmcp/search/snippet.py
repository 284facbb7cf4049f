"""Pick the lines of a hit worth showing: the window that shares the most terms with the query."""

from __future__ import annotations

from dataclasses import dataclass

from ..sparse import tokenize


@dataclass(frozen=True, slots=True)
class Snippet:
    start_line: int  # 1-based line numbers in the file
    end_line: int
    lines: list[str]
    cut_before: int  # lines of the hit left out above the window
    cut_after: int


def best_window(text: str, first_line: int, query: str, max_lines: int) -> Snippet:
    """The `max_lines` consecutive lines of `text` with the most query terms (earliest on ties)."""
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return Snippet(first_line, first_line + len(lines) - 1, lines, 0, 0)
    wanted = set(tokenize(query))
    hits = [len(wanted.intersection(tokenize(line))) for line in lines]
    window = sum(hits[:max_lines])
    best_start, best = 0, window
    for start in range(1, len(lines) - max_lines + 1):
        window += hits[start + max_lines - 1] - hits[start - 1]
        if window > best:
            best_start, best = start, window
    end = best_start + max_lines
    return Snippet(
        first_line + best_start,
        first_line + end - 1,
        lines[best_start:end],
        best_start,
        len(lines) - end,
    )
