"""One search over several collections: which collections a request names, and one ranked list of
their hits, each saying its collection.

Naming. A request names a collection, a glob of names ('proj-*': `*` any characters, `?` one,
`[ab]` one of those; names never hold these, so a glob is never mistaken for a name), or a list of
names and globs. A glob expands to the collections the caller may see (`select`'s `listed`: for a
limited token, its own), so it never reaches past an allow-list, and one that matches none of them
is an error that lists them. A name goes through the caller's own check (`name`), exactly as a
search of that one collection does, so a forbidden or unknown name fails with the same message.

Merging. A process searches with one encoder, and a collection is searched only if it was built
with that encoder's model (`query.search` checks): every collection searched shares the model, so
their scores (cosine plus the saturated lexical term, or the reranker's) are on one scale and the
lists are merged by score. Each collection's lexical term weighs words by that collection's own
document frequencies, which moves scores a little between collections of very different sizes;
the dense part dominates. A collection built with another model cannot be queried by this process
at all (its vectors are not comparable with this model's query): named, that is the error a search
of it alone gives (which model, what to do); matched by a glob, it is skipped and reported in
`MultiHits.skipped` with that reason, so 'proj-*' still searches the rest.

Filters. A path, language or kind filter that matches nothing in one collection (`NoMatch`) gives
that collection no hits; only a filter that matches nothing in every collection is an error.

Rerank. Each collection's first stage gives its best max(top_k, RERANK_CANDIDATES) hits; the
merged best RERANK_CANDIDATES are reranked once, so the reranker's cost does not grow with the
number of collections.

Duplicates. The same file version ingested into two collections gives its chunks the same ids in
both (ids depend on root, path, version and chunk index): such a chunk is listed once, where it
scored best.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from ..encoders.base import Encoder
from ..errors import CollectionNotFound, IncompatibleCollection, InputError
from ..rerank.base import Reranker
from .query import RERANK_CANDIDATES, NoMatch, SearchHit, SearchRequest, reranked

MAX_COLLECTIONS = 20  # collections one search may cover: each costs a store query
GLOB_CHARS = "*?["

CollectionSpec = str | Sequence[str] | None  # a name, a glob, a list of names and globs; None: the default


def is_glob(value: str) -> bool:
    return any(c in value for c in GLOB_CHARS)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    globbed: bool  # matched by a glob (skipped if it cannot be searched), not named


@dataclass(frozen=True, slots=True)
class Skipped:
    collection: str
    reason: str


@dataclass(frozen=True, slots=True)
class MultiHits:
    hits: list[SearchHit]  # best first, each with its `collection`
    collections: list[str]  # the collections searched, in the order named
    skipped: list[Skipped]  # collections a glob matched that cannot be searched, and why


def select(
    spec: CollectionSpec,
    *,
    default: Callable[[], str],
    name: Callable[[str], str],
    listed: Callable[[], list[str]],
    whose: str = "the",
) -> list[Target]:
    """The collections `spec` names, in its order, each once. `default()` is the collection for
    None; `name(n)` checks a named collection and returns it (raising the caller's refusal);
    `listed()` the collections the caller may see, sorted, that globs expand to; `whose` names them
    in messages ("this token's"). InputError for an empty list, a glob that matches none, or more
    than MAX_COLLECTIONS."""
    if spec is None:
        return [Target(default(), globbed=False)]
    patterns = [spec] if isinstance(spec, str) else list(spec)
    if not patterns or not all(isinstance(p, str) and p.strip() for p in patterns):
        raise InputError(
            "collection must be a name, a glob such as 'proj-*', or a non-empty list of those; "
            f"got {spec!r}. Omit it for the default collection"
        )
    out: dict[str, Target] = {}
    visible: list[str] | None = None
    for pattern in (p.strip() for p in patterns):
        if not is_glob(pattern):
            found = name(pattern)
            out.setdefault(found, Target(found, globbed=False))
            continue
        visible = listed() if visible is None else visible
        matched = [n for n in visible if fnmatch.fnmatchcase(n, pattern)]
        if not matched:
            raise InputError(
                f"collection pattern {pattern!r} matches none of {whose} collections "
                f"({', '.join(map(repr, visible)) or 'there are none'}); name one of those, or fix the "
                "pattern (* matches any characters, ? one, [ab] one of those; case counts)"
            )
        for n in matched:
            out.setdefault(n, Target(n, globbed=True))
    if len(out) > MAX_COLLECTIONS:
        raise InputError(
            f"collection names {len(out)} collections; one search covers at most {MAX_COLLECTIONS}: "
            "narrow the pattern or name fewer"
        )
    return list(out.values())


class Searcher(Protocol):
    """What a search over several collections needs of the Engine."""

    @property
    def query_encoder(self) -> Encoder: ...

    @property
    def reranker(self) -> Reranker | None: ...

    def search(self, request: SearchRequest, *, collection: str | None = None) -> list[SearchHit]: ...


def search_many(engine: Searcher, request: SearchRequest, targets: Sequence[Target]) -> MultiHits:
    """The request's top hits over `targets` (from `select`), merged as the module docstring says.
    One named collection is searched exactly as `Engine.search` does it alone."""
    if len(targets) == 1 and not targets[0].globbed:
        name = targets[0].name
        return MultiHits(_tagged(engine.search(request, collection=name), name), [name], [])
    first = request
    if request.rerank:
        if engine.reranker is None:
            raise InputError("rerank was asked for but the reranker is 'none'; set GROUNDMCP_RERANKER")
        first = dataclasses.replace(request, rerank=False, top_k=max(request.top_k, RERANK_CANDIDATES))
    if first.mode != "sparse" and first.query.strip() and first.query_vector is None:
        # Once for all the collections. A collection of another model is refused before this
        # vector is used (query.search checks the collection against the encoder first).
        first = dataclasses.replace(first, query_vector=tuple(engine.query_encoder.encode_query(first.query.strip()).tolist()))
    hits: list[SearchHit] = []
    searched: list[str] = []
    skipped: list[Skipped] = []
    empty_filters: list[str] = []
    for target in targets:
        try:
            found = engine.search(first, collection=target.name)
        except NoMatch as exc:
            searched.append(target.name)
            empty_filters.append(str(exc))
            continue
        except (IncompatibleCollection, CollectionNotFound) as exc:
            if not target.globbed:
                raise
            skipped.append(Skipped(target.name, str(exc)))  # another model, damaged, or deleted meanwhile
            continue
        searched.append(target.name)
        hits.extend(_tagged(found, target.name))
    if not searched:
        raise InputError(
            "none of the collections matched could be searched: "
            + "; ".join(f"{s.collection}: {s.reason}" for s in skipped)
        )
    if len(empty_filters) == len(searched):
        if len(empty_filters) == 1:
            raise NoMatch(empty_filters[0])
        raise NoMatch("the filters match nothing in any collection searched: " + " | ".join(empty_filters))
    merged = _best_first(hits)
    if request.rerank:
        merged = reranked(engine.reranker, request.query.strip(), merged[: max(request.top_k, RERANK_CANDIDATES)], request.top_k)
    return MultiHits(merged[: request.top_k], searched, skipped)


def _tagged(hits: list[SearchHit], collection: str) -> list[SearchHit]:
    return [dataclasses.replace(h, collection=collection) for h in hits]


def _best_first(hits: list[SearchHit]) -> list[SearchHit]:
    """By score, ties by collection then id (the same query on the same index gives the same
    list); a chunk id met again (the same chunk in another collection) is dropped."""
    seen: set[str] = set()
    out = []
    for h in sorted(hits, key=lambda h: (-h.score, h.collection, h.id)):
        if h.id not in seen:
            seen.add(h.id)
            out.append(h)
    return out
