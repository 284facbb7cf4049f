"""Pick the lines of a hit worth showing: the window that shares the most terms with the query.

A line scores the number of distinct query terms among its own terms (`sparse.tokenize`:
identifiers, their parts, stemmed words). Stemming is the slow part: tens of microseconds a word
in pure Python, and a long hit brings hundreds of words the process has not stemmed yet. So a word
is stemmed only when it could give a query term. The English Snowball stemmer changes at most the
last two letters of what it keeps, and never lengthens a word: a stem `q` comes only from words
that start with q[:-2] (its first letter, for short stems) and are at least as long. A line that
contains none of those prefixes scores 0 without being split into words. The scores are the same
as tokenizing every line (tests/test_search.py checks both the stemmer's property and the scores).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..sparse import CAMEL, IDENT, tokenize, word_terms


def stem_prefix(stem: str) -> str:
    """What every word that stems to `stem` starts with."""
    return stem[: max(1, len(stem) - 2)]


@dataclass(frozen=True, slots=True)
class Snippet:
    start_line: int  # 1-based line numbers in the file
    end_line: int
    lines: list[str]
    cut_before: int  # lines of the hit left out above the window
    cut_after: int


class QueryTerms:
    """A query's terms, and how many of them a line holds."""

    def __init__(self, query: str) -> None:
        self.terms = frozenset(tokenize(query))
        # A word part can stem to a query term only if it starts with that term's prefix and is
        # at least as long as the term.
        prefixes = sorted({stem_prefix(t) for t in self.terms}, key=len, reverse=True)
        self._prefix = re.compile("|".join(map(re.escape, prefixes))) if prefixes else None
        self._shortest = min((len(t) for t in self.terms), default=0)
        self._of_word: dict[str, frozenset[str]] = {}  # word -> the query terms it gives

    def count(self, line: str) -> int:
        """len(self.terms & set(tokenize(line))), stemming only the words that may give a term."""
        if self._prefix is None or not self._prefix.search(line.lower()):
            return 0
        found: set[str] = set()
        of_word = self._of_word
        for word in IDENT.findall(line):
            terms = of_word.get(word)
            if terms is None:
                terms = of_word[word] = (
                    self.terms.intersection(word_terms(word)) if self._may_match(word) else frozenset()
                )
            found.update(terms)
        return len(found)

    def scores(self, lines: list[str]) -> list[int]:
        return [self.count(line) for line in lines]

    def _may_match(self, word: str) -> bool:
        lower = word.lower()
        if lower in self.terms:  # an identifier asked for whole, or a word that is its own stem
            return True
        if not self._prefix.search(lower):
            return False
        return any(
            len(part) >= self._shortest and self._prefix.match(part.lower())
            for piece in word.split("_")
            for part in CAMEL.findall(piece)
        )


def best_window(
    text: str, first_line: int, query: str | QueryTerms, max_lines: int, scores: list[int] | None = None
) -> Snippet:
    """The `max_lines` consecutive lines of `text` with the most query terms (earliest on ties).
    `scores`: the lines' counts of query terms, if the caller has them (QueryTerms.scores)."""
    lines = text.split("\n")
    if len(lines) <= max_lines:
        return Snippet(first_line, first_line + len(lines) - 1, lines, 0, 0)
    if scores is None:
        terms = query if isinstance(query, QueryTerms) else QueryTerms(query)
        scores = terms.scores(lines)
    window = sum(scores[:max_lines])
    best_start, best = 0, window
    for start in range(1, len(lines) - max_lines + 1):
        window += scores[start + max_lines - 1] - scores[start - 1]
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
