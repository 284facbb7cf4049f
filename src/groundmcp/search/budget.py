"""Fit search results into a token budget: trim each hit to its best-matching lines, drop the tail.

Agents pay for every token a tool returns, and some clients refuse responses over 25k tokens. The
budget is shared across hits in rank order: a hit that fits keeps its whole text; one that does
not keeps the window of lines that best matches the query; hits past the budget are left out.
The best hit is always kept: when even its share is too small to show, it gets the whole budget
left, trimmed to fit (down to part of one line), rather than an empty answer.
Tokens are estimated at 4 characters each, the common rule for English and code with LLM tokenizers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .snippet import QueryTerms, best_window

if TYPE_CHECKING:  # annotations only: the CLI's fast path reads HARD_CAP_TOKENS without numpy
    from .query import SearchHit

CHARS_PER_TOKEN = 4
DEFAULT_MAX_TOKENS = 4000
HARD_CAP_TOKENS = 20000  # well under the 25k some clients refuse
MIN_MAX_TOKENS = 200
RESPONSE_OVERHEAD_TOKENS = 120  # query echo aside: counts, mode, the note
MIN_TEXT_TOKENS = 30  # below this a hit after the first is not worth showing
MIN_FIRST_TEXT_TOKENS = 8  # the best hit shows at least this much, however small the budget
SHARE_DIVISOR = 4


def estimate_tokens(text: str) -> int:
    return (len(text) + CHARS_PER_TOKEN - 1) // CHARS_PER_TOKEN


def json_tokens(text: str) -> int:
    """Tokens of `text` as a JSON string (escaped quotes and newlines cost characters too)."""
    return estimate_tokens(json.dumps(text, ensure_ascii=False))


def default_overhead(hit: SearchHit) -> int:
    """Tokens a hit's fields other than its text take as JSON (ids, path twice, lines, ...)."""
    return 60 + json_tokens(hit.path) * 2 + json_tokens(hit.symbol) + json_tokens(hit.root)


@dataclass(frozen=True, slots=True)
class FittedHit:
    hit: SearchHit
    text: str  # the hit's text, or the lines kept of it
    start_line: int  # lines of `text` in the file
    end_line: int
    truncated: bool


@dataclass(frozen=True, slots=True)
class Fitted:
    hits: list[FittedHit]
    omitted: list[SearchHit]  # hits left out entirely
    max_tokens: int
    used_tokens: int

    @property
    def trimmed(self) -> int:
        return sum(h.truncated for h in self.hits)


def clamp_budget(max_tokens: int | None) -> int:
    if max_tokens is None:
        return DEFAULT_MAX_TOKENS
    return max(MIN_MAX_TOKENS, min(int(max_tokens), HARD_CAP_TOKENS))


def fit(
    hits: list[SearchHit],
    query: str,
    max_tokens: int | None = None,
    overhead: Callable[[SearchHit], int] = default_overhead,
    extra: int = 0,
) -> Fitted:
    """Hits in rank order, trimmed or left out so that the response stays within the budget.
    `overhead(hit)` is what a hit costs besides its text in the caller's response format; `extra`
    what the response holds besides the hits beyond RESPONSE_OVERHEAD_TOKENS (the collections
    searched, when several were)."""
    budget = clamp_budget(max_tokens)
    remaining = budget - RESPONSE_OVERHEAD_TOKENS - 2 * json_tokens(query) - extra
    terms = QueryTerms(query)
    kept: list[FittedHit] = []
    for i, hit in enumerate(hits):
        cost = overhead(hit)
        # A hit may take up to a quarter of what is left (all of it for the last few), so the top
        # hits are shown whole or nearly, and short hits leave room for the ones after them. A small
        # budget is split among only as many hits as can each show some text besides their fields.
        slots = min(len(hits) - i, SHARE_DIVISOR, remaining // (cost + MIN_TEXT_TOKENS))
        share = remaining // max(1, slots) - cost
        size = json_tokens(hit.text)
        if size <= min(remaining - cost, max(share, MIN_TEXT_TOKENS)):
            share = remaining - cost  # small enough to show whole
        elif share < MIN_TEXT_TOKENS:
            if kept:
                return Fitted(kept, hits[i:], budget, budget - remaining)
            # The best hit is never left out: it gets all that is left, trimmed to fit.
            share = max(remaining - cost, MIN_FIRST_TEXT_TOKENS)
        fitted = _trim(hit, size, terms, share)
        kept.append(fitted)
        remaining -= cost + json_tokens(fitted.text)
    return Fitted(kept, [], budget, budget - remaining)


def _trim(hit: SearchHit, size: int, terms: QueryTerms, tokens: int) -> FittedHit:
    """`hit` whole if its `size` (tokens of its text as JSON) fits in `tokens`, else the window of
    its lines with the most query terms that fits."""
    if size <= tokens:
        return FittedHit(hit, hit.text, hit.start_line, hit.end_line, False)
    lines = hit.text.split("\n")
    per_line = max(1.0, size / len(lines))
    n = max(1, min(len(lines), int(tokens / per_line)))
    scores = terms.scores(lines)  # once: the window shrinks below until its text fits
    while True:
        snip = best_window(hit.text, hit.start_line, terms, n, scores)
        text = "\n".join(snip.lines)
        if json_tokens(text) <= tokens or n == 1:
            break
        n -= max(1, n // 8)
    while json_tokens(text) > tokens and len(text) > 1:  # one very long line
        text = text[: max(1, len(text) * tokens // json_tokens(text)) - 1] + "…"
    return FittedHit(hit, text, snip.start_line, snip.end_line, True)
