"""A hybrid search nudges up the code chunks whose definition the query names in words.

A question about code usually says what the function does in the words its name is made of:
"Creates a slice of array excluding elements dropped from the end" for `dropRightWhile`, "read the
config file" for `read_config`. The keyword side of the fusion sees those words, but spread
over the whole chunk, where `array` and `end` count as much in a call's arguments as in the name.
A definition's name is the one short summary of a chunk its author wrote, so hybrid search gives
it a field of its own (as BM25F weights a title): each code hit among the fused top NAME_DEPTH
gains NAME_WEIGHT times the share of its name's words that the query holds, and the top is
re-sorted. The name is the last part of the chunk's symbol (`Group.invoke` -> `invoke`), split
into words and stemmed as the keyword side splits identifiers (sparse.py); stop words do not
count, and a chunk with no symbol (module code, prose) gains nothing.

On the public code eval this raised hybrid nDCG@10 from 0.5345 to 0.568, JavaScript and Python
alike (docs/benchmarks.md, "Retrieval quality, round two"). The weight is a nudge, a tenth of the
cosine scale: it reorders hits the fusion already ranked close, and cannot lift a chunk into the
list (NAME_DEPTH bounds what is looked at, so its cost does not grow with the index).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from typing import Protocol, TypeVar

from ..sparse import tokenize, word_parts

NAME_WEIGHT = 0.1
NAME_DEPTH = 30  # fused hits looked at; re-sorting deeper changed nothing measurable (20 to 100)


class _Hit(Protocol):
    score: float
    kind: str
    symbol: str
    id: str


H = TypeVar("H", bound=_Hit)


@functools.lru_cache(maxsize=50_000)
def name_words(symbol: str) -> frozenset[str]:
    """The stemmed words of a symbol's last part (`Cookie.dump_value` -> {dump, valu})."""
    return frozenset(word_parts(symbol.rsplit(".", 1)[-1]))


def name_share(query_terms: set[str], hit: _Hit) -> float:
    """The share (0..1) of the hit's definition-name words that are among the query's terms; 0
    for a hit that is not code or has no name."""
    if hit.kind != "code" or not hit.symbol:
        return 0.0
    words = name_words(hit.symbol)
    return len(words & query_terms) / len(words) if words else 0.0


def named_first(query: str, hits: Sequence[H]) -> list[H]:
    """`hits` (best first) with the top NAME_DEPTH re-scored by the name nudge and re-sorted (ties
    by id, as search breaks them); the rest keep their place below."""
    terms = set(tokenize(query))
    head, tail = list(hits[:NAME_DEPTH]), list(hits[NAME_DEPTH:])
    if not terms or not head:
        return list(hits)
    scored = [
        dataclasses.replace(h, score=h.score + NAME_WEIGHT * share) if (share := name_share(terms, h)) else h
        for h in head
    ]
    return sorted(scored, key=lambda h: (-h.score, h.id)) + tail
