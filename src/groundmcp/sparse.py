"""Lexical sparse vectors: BM25-style term weights over a code-aware tokenizer.

Documents get saturated term frequencies (BM25's tf part, with a fixed average length); queries get
one unit weight per distinct term. Qdrant's IDF modifier on the sparse vector supplies the idf part
at query time, so the fused score is BM25 computed by Qdrant over the whole collection.

Tokens: identifiers are kept whole (lowercased) and also split at snake_case and camelCase
boundaries, so `parseHTTPResponse` matches a query for "parse http response" and for the exact name.
Words are stemmed (Snowball English) and English stop words dropped.
"""

from __future__ import annotations

import functools
import re
import threading
import zlib
from collections import Counter

import snowballstemmer

from .store.base import SparseVec

K1 = 1.2
B = 0.75
AVG_DOC_TOKENS = 120.0  # typical chunk length in these tokens; fixes BM25's length normalisation

IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)*|[^\W\d_]+", re.UNICODE)  # a word or identifier
CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")  # the parts of a camelCase name

# A Snowball stemmer keeps its working state between calls, so threads that stem at once (ingest
# workers, searches) each get their own.
_stemmers = threading.local()


def stem(word: str) -> str:
    """The English Snowball stem of a lower-case word."""
    stemmer = getattr(_stemmers, "english", None)
    if stemmer is None:
        stemmer = _stemmers.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)

STOP_WORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me
    more most my myself no nor not now of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with you your yours yourself yourselves""".split()
)


def _parts(word: str) -> list[str]:
    """The lower-case parts of an identifier, split at snake_case and camelCase boundaries."""
    return [p.lower() for piece in word.split("_") for p in CAMEL.findall(piece)]


def _stemmed(parts: list[str]) -> list[str]:
    return [stem(part) for part in parts if part not in STOP_WORDS and (len(part) > 1 or part.isdigit())]


def word_parts(word: str) -> tuple[str, ...]:
    """The stemmed parts of an identifier, stop words left out: the terms of its words alone
    (`dropRightWhile` -> drop, right), as `word_terms` gives them after the whole name."""
    return tuple(_stemmed(_parts(word)))


@functools.lru_cache(maxsize=200_000)
def word_terms(word: str) -> tuple[str, ...]:
    """Terms for one identifier or word: the whole (lowercased) plus its stemmed parts."""
    lower = word.lower()
    parts = _parts(word)
    terms: list[str] = []
    if len(parts) != 1 or parts[0] != lower:
        terms.append(lower)  # the identifier as written, for exact-name queries
    terms.extend(_stemmed(parts))
    if not parts and lower not in STOP_WORDS:
        terms.append(lower)
    return tuple(terms)


def tokenize(text: str) -> list[str]:
    """Code-aware terms of `text`, in order, with repeats."""
    out: list[str] = []
    for match in IDENT.finditer(text):
        out.extend(word_terms(match.group()))
    return out


def term_index(term: str) -> int:
    """A stable 32-bit index for a term (Qdrant sparse indices are u32)."""
    return zlib.crc32(term.encode("utf-8"))


def _to_sparse(weights: dict[int, float]) -> SparseVec:
    indices = sorted(weights)
    return SparseVec(indices=indices, values=[weights[i] for i in indices])


def document_vector(text: str) -> SparseVec:
    counts = Counter(tokenize(text))
    length = sum(counts.values())
    norm = K1 * (1 - B + B * length / AVG_DOC_TOKENS)
    weights: dict[int, float] = {}
    for term, tf in counts.items():
        idx = term_index(term)
        weights[idx] = weights.get(idx, 0.0) + tf * (K1 + 1) / (tf + norm)
    return _to_sparse(weights)


def query_vector(text: str) -> SparseVec:
    return _to_sparse({term_index(t): 1.0 for t in set(tokenize(text))})
