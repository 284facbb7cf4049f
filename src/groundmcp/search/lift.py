"""A query that is, or contains, an identifier lifts that identifier's definition to the top.

Semantic and lexical ranking find code that talks about a name; someone who types `parse_header`,
`JSONDecoder.decode` or `getUser()` most often wants where it is defined. So after a search the
identifiers in its query (`identifiers`) are looked up in the symbols records, by exact name or
dotted tail only (`symbols.lookup.exact`: one keyed read per identifier, no fuzzy scan), and the
chunk that opens each definition found is moved to the top of the hits, or added there when the
search missed it. That is for a query that names the identifier (a few words besides it: "where is
parse_header defined"); a sentence that mentions one ("Similar to pass_context, but ...", a
docstring) is seldom asking for that definition, so there it only joins the hits, at rank ADD_AT,
when they lack it, and a hit already found stays where it is.

When a word counts as an identifier (a plain word such as "parse" or "Response" does not, unless it
is the whole query, since prose is full of them):
- a call, `name()` or `name(...)`;
- a dotted name, `Class.method`, `os.path.join` (parts that are identifiers);
- snake_case (`_private`, `__init__`, `parse_header`: an underscore and a letter);
- camelCase or PascalCase with a second hump (`getUser`, `HTTPClient`, `JSONDecoder`);
- a whole query of one identifier-shaped word (`measure`, `Console`).

What is lifted, and what is not: definitions of a primary kind (class, function, method, interface,
type, ...; not variables), at most MAX_DEFINITIONS per identifier (a name defined in more places,
`__init__` or `get`, is too ambiguous to put first), at most MAX_IDENTIFIERS identifiers per query.
A search with a path, language or kind filter only reorders the hits it found (a definition it did
not return may lie outside the filter). A lifted hit takes the top hit's score when its own is lower
(an added one, the score of the hit above it), so the list stays ordered by score and a search of
several collections, which merges by score, keeps it where it was put.
"""

from __future__ import annotations

import dataclasses
import re

from ..record import P
from ..store.base import Store
from ..symbols.lookup import PRIMARY_KINDS, exact
from .query import SearchHit, SearchRequest, hit_from_payload

MAX_IDENTIFIERS = 3
MAX_DEFINITIONS = 3
MAX_OTHER_WORDS = 3  # a query with more words besides its identifiers is a sentence that mentions them
ADD_AT = 3  # where a sentence's missing definition joins the hits (0-based)

_TOKEN = re.compile(r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*(?:\([^()]*\))?")
_WORD = re.compile(r"[A-Za-z_$][\w$]*")
_CAMEL = re.compile(r"[a-z0-9][A-Z]|[A-Z]{2,}[a-z]")


def identifiers(query: str) -> list[str]:
    """The identifiers in `query`, in order, without repeats (the rules are in the module docstring)."""
    text = query.strip()
    out: list[str] = []
    tokens = list(_TOKEN.finditer(text))
    whole = len(tokens) == 1 and tokens[0].group(0) == text
    for m in tokens:
        token = m.group(0)
        call = token.endswith(")")
        name = token.split("(", 1)[0].strip(".")
        parts = name.split(".")
        if not all(_WORD.fullmatch(p) for p in parts):
            continue
        dotted = len(parts) > 1 and max(len(p) for p in parts) > 1
        if call or dotted or whole or "_" in name.strip("_$") or name.startswith("_") or _CAMEL.search(name):
            if any(c.isalpha() for c in name) and name not in out:
                out.append(name)
    return out


def lift(store: Store, collection: str, request: SearchRequest, hits: list[SearchHit]) -> list[SearchHit]:
    """`hits` with the definitions of the query's identifiers first (see the module docstring)."""
    names = identifiers(request.query)[:MAX_IDENTIFIERS]
    if not names:
        return hits
    wanted: list[str] = []  # chunk ids, best first
    for name in names:
        found = [x for x in exact(store, collection, name, limit=MAX_DEFINITIONS + 1)
                 if x.definition.kind in PRIMARY_KINDS and x.definition.chunks]
        if 0 < len(found) <= MAX_DEFINITIONS:
            wanted += [x.definition.chunks[0] for x in found if x.definition.chunks[0] not in wanted]
    if not wanted:
        return hits
    have = {h.id: h for h in hits}
    filtered = bool(request.path_glob or request.languages or request.kinds)
    missing = [] if filtered else [i for i in wanted if i not in have]
    if missing:
        for point in store.retrieve(collection, missing):
            if point.payload.get(P.VISIBLE):
                have[point.id] = hit_from_payload(point)
    if names_the_query(request.query, names):
        top = hits[0].score if hits else 0.0
        first = [dataclasses.replace(have[i], score=max(have[i].score, top)) for i in wanted if i in have]
        lifted = {h.id for h in first}
        return (first + [h for h in hits if h.id not in lifted])[: request.top_k]
    # A sentence that mentions a name: its definition joins the hits if they lack it, below the first few.
    added = [have[i] for i in wanted if i in have and i not in {h.id for h in hits}]
    if not added:
        return hits
    at = max(0, min(ADD_AT, len(hits), request.top_k - len(added)))
    score = hits[at - 1].score if at else 0.0
    added = [dataclasses.replace(h, score=score) for h in added]  # ties the hit above: the order holds
    return (hits[:at] + added + hits[at:])[: request.top_k]


def names_the_query(query: str, names: list[str]) -> bool:
    """Whether the query is about the identifiers it holds (a few words besides them: "where is
    parse_header defined") rather than a sentence that mentions them."""
    rest = query
    for name in names:
        rest = rest.replace(name, " ")
    return len(_WORD.findall(rest)) <= MAX_OTHER_WORDS
