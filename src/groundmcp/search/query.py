"""Search: encode the query, ask the store (dense, sparse, or hybrid fused in the store), shape the hits."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Literal

import pathspec

from ..collection_meta import check_compatible
from ..encoders.base import Encoder
from ..errors import CollectionNotFound, IncompatibleCollection, InputError
from ..ingest.nofollow import Unsafe, read_regular
from ..record import TEXTS_ROOT, ChunkRecord
from ..rerank.base import Reranker
from ..sparse import query_vector
from ..store.base import CollectionInfo, Filters, Fusion, ScoredHit, SearchMode, Store
from .facets import (
    Facets,
    filter_error,
    glob_error,
    glob_matches_a_file,
    read_facets,
    resolve_kind,
    resolve_language,
    unknown_values,
)
from .late import late_ordered
from .late import query_inputs as late_query_inputs
from .names import NAME_DEPTH, named_first

MAX_TOP_K = 100
PREFETCH = 100  # candidates each side contributes to hybrid fusion
GLOB_OVERFETCH = 5  # extra candidates fetched when a path glob is checked after the query
# Hybrid fusion, measured with `groundmcp eval` on ../shared/eval/public (docs/benchmarks.md):
# cosine + w(kind) * bm25 / (bm25 + 15), w = 1 for code chunks and 0.05 for prose.
HYBRID_FUSION = Fusion()
# First-stage hits a reranker re-orders (late interaction: ~20 ms each on CPU). On the public docs
# set the top 20 reranked gave what the top 30 gave (0.6013 against 0.6012, bench/rerank_replay.py)
# for two thirds of the cost.
RERANK_CANDIDATES = 20
INFO_TTL_S = 10.0  # how long CollectionInfoCache trusts an entry without reading the store again


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    score: float
    path: str
    root: str
    start_line: int
    end_line: int
    language: str
    kind: str
    symbol: str
    text: str
    header: str = ""
    page: int | None = None
    collection: str = ""  # set by a search of several collections (search/multi.py)
    # The file version the chunk came from, as its record holds it (None where the record has none:
    # written before the field existed, or a text sent by a client, which has no stat).
    indexed_at: str | None = None
    file_size: int | None = None
    file_mtime_ns: int | None = None
    file_hash: str = ""

    @property
    def embed_text(self) -> str:
        return f"{self.header}\n{self.text}" if self.header else self.text

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def to_dict(self) -> dict:
        """The hit's fields for JSON output (the CLI, the chunk resource): the file's indexed stat
        and hash, which only `disk_state` needs, are left out, and `collection` unless it is set."""
        out = asdict(self)
        for key in ("file_size", "file_mtime_ns", "file_hash"):
            del out[key]
        if not self.collection:
            del out["collection"]
        return out


class NoMatch(InputError):
    """A filter (path, language or kind) matches nothing the collection holds. One collection of
    several searched at once that raises it just adds no hit (search/multi.py)."""


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    top_k: int = 10
    mode: SearchMode = "hybrid"
    path_glob: str | None = None
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rerank: bool = False
    # The query's dense vector when the caller has it already from the same encoder (a search of
    # several collections encodes the query once); None: `search` encodes it.
    query_vector: tuple[float, ...] | None = None
    # A top_k past MAX_TOP_K that this request may ask for: the evaluation reads deeper than a
    # client may, to rank 100 distinct passages for R@100. No front end sets it.
    depth: int = 0


class CollectionInfoCache:
    """Collections' info for the search path, read from the store once instead of per search.

    `store.info` counts the points exactly, which visits every point: about 10 ms at 100k chunks,
    a third of a search. A search needs only what `check_compatible` reads (model, dimension,
    sparse scheme), and that changes only when a collection is deleted and made again. So an
    entry is kept until one of:
    - `forget(name)`: whoever deletes or creates a collection in this process should call it;
    - the store query reports the collection missing, or its vectors of another size
      (`search` then forgets it and reads the info again, so the error says what is wrong);
    - the entry fails `check_compatible`: it is read again before that error is raised;
    - `ttl` seconds have passed: another process can delete and re-create a collection on a
      Qdrant server (the embedded store is locked to one process).
    Made again in this process by the same encoder, a collection has the same model, size and
    scheme, so an entry that outlives it is still right for the search path. The point count in
    an entry is not kept up to date: read `store.info` for that. Thread-safe.
    """

    def __init__(self, store: Store, *, ttl: float = INFO_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.store = store
        self._ttl, self._clock = ttl, clock
        self._entries: dict[str, tuple[CollectionInfo, float]] = {}
        self._facets: dict[str, Facets] = {}  # kept until forgotten (no ttl): see `facets`
        self._forgotten = 0  # bumped by forget: a read that began before it is not kept
        self._lock = threading.Lock()

    def get(self, name: str, encoder: Encoder | None = None) -> CollectionInfo:
        """The collection's info: CollectionNotFound if it does not exist, and with `encoder`,
        IncompatibleCollection unless that encoder makes its vectors."""
        with self._lock:
            entry = self._entries.get(name)
        cached = entry is not None and self._clock() - entry[1] < self._ttl
        info = entry[0] if cached else self._read(name)
        if encoder is None:
            return info
        try:
            check_compatible(info, encoder)
        except IncompatibleCollection:
            self.forget(name)
            if not cached:
                raise
            info = self._read(name)  # the entry may be out of date: the store decides
            try:
                check_compatible(info, encoder)
            except IncompatibleCollection:
                self.forget(name)
                raise
        return info

    def _read(self, name: str) -> CollectionInfo:
        with self._lock:
            forgotten = self._forgotten
        info = self.store.info(name)
        with self._lock:
            if self._forgotten == forgotten:
                self._entries[name] = (info, self._clock())
        return info

    def facets(self, name: str, *, fresh: bool = False) -> Facets:
        """The languages and kinds `name` holds, read once (a row per file) and kept until
        `forget(name)`. Another process may have ingested new ones since: a caller that finds a
        value missing asks again with `fresh` before it calls the value unknown."""
        with self._lock:
            cached = None if fresh else self._facets.get(name)
            forgotten = self._forgotten
        if cached is not None:
            return cached
        facets = read_facets(self.store, name)
        with self._lock:
            if self._forgotten == forgotten:
                self._facets[name] = facets
        return facets

    def forget(self, name: str | None = None) -> None:
        """Read `name` (None: every collection) from the store next time."""
        with self._lock:
            self._forgotten += 1
            if name is None:
                self._entries.clear()
                self._facets.clear()
            else:
                self._entries.pop(name, None)
                self._facets.pop(name, None)


def search(
    store: Store,
    encoder: Encoder,
    collection: str,
    request: SearchRequest,
    reranker: Reranker | None = None,
    *,
    infos: CollectionInfoCache | None = None,
) -> list[SearchHit]:
    """Top hits for the request; with `request.rerank`, the first stage's top candidates are
    re-ordered by `reranker` (InputError if there is none). Pass `infos` to check the collection
    from that cache rather than with the store's point count."""
    query = request.query.strip()
    if not query:
        raise InputError("the query is empty: give a few words or an identifier to search for")
    if not 1 <= request.top_k <= max(MAX_TOP_K, request.depth):
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}; got {request.top_k}")
    if request.mode not in ("dense", "sparse", "hybrid"):
        raise InputError(f"mode must be dense, sparse or hybrid; got {request.mode!r}")
    if request.rerank and reranker is None:
        raise InputError("rerank was asked for but the reranker is 'none'; set GROUNDMCP_RERANKER")
    if infos is not None:
        infos.get(collection, encoder)
    else:
        check_compatible(store.info(collection), encoder)
    request = _resolve_facets(store, collection, request, infos)
    filters, glob = _filters(request)
    wanted = max(request.top_k, RERANK_CANDIDATES) if request.rerank else request.top_k
    if request.mode == "hybrid":
        wanted = max(wanted, NAME_DEPTH)  # the name nudge re-sorts the fused top NAME_DEPTH (names.py)
    limit = wanted * (GLOB_OVERFETCH if glob else 1)
    tokens = None  # the query's token rows, where the query's encode gave them (search/late.py)
    if request.mode == "sparse":
        dense = None
    elif request.query_vector is not None and len(request.query_vector) == encoder.dim:
        dense = list(request.query_vector)
    elif request.mode == "hybrid":
        vector, tokens = late_query_inputs(encoder, query)  # with the tokens the late step may need
        dense = vector.tolist()
    else:
        dense = encoder.encode_query(query).tolist()
    sparse = query_vector(query) if request.mode != "dense" else None
    if request.mode == "sparse" and not sparse.indices:
        return []  # nothing lexical to match (all stop words or punctuation)
    if request.mode == "hybrid" and not sparse.indices:
        sparse, mode = None, "dense"
    else:
        mode = request.mode
    try:
        hits = store.query(
            collection,
            dense=dense,
            sparse=sparse,
            mode=mode,
            limit=limit,
            filters=filters,
            prefetch_limit=max(PREFETCH, limit),
            fusion=HYBRID_FUSION,
        )
    except (CollectionNotFound, IncompatibleCollection):
        if infos is None:
            raise
        # Deleted, or made again with another model, since its info was cached: read it again,
        # so the error is the one a fresh search gets (the store's, or check_compatible's).
        infos.forget(collection)
        infos.get(collection, encoder)
        raise
    # Equal fused scores (two hits with mirrored ranks) come back in no fixed order: break ties
    # by id so the same query on the same index always gives the same list.
    shaped = sorted((hit_from_payload(h) for h in hits), key=lambda h: (-h.score, h.id))
    if glob:
        shaped = [h for h in shaped if glob.match_file(h.path)]
    if not shaped and request.path_glob and not glob_matches_a_file(store, collection, filters, glob):
        raise NoMatch(str(glob_error(request.path_glob, collection)))  # checked only when nothing came back
    shaped = shaped[:wanted]
    if mode == "hybrid":
        shaped = named_first(query, shaped)
        if not request.rerank and dense is not None:
            shaped = late_ordered(store, encoder, collection, query, dense, shaped, tokens)
    if request.rerank:
        shaped = reranked(reranker, query, shaped, request.top_k)
    return shaped[: request.top_k]


def reranked(reranker: Reranker, query: str, hits: list[SearchHit], top_k: int) -> list[SearchHit]:
    """The best `top_k` of `hits` (first-stage order) as `reranker` orders them, with its scores;
    `hits` as they are where the reranker is not measured to improve on their kinds."""
    kinds = [h.kind for h in hits]
    if not hits or not reranker.improves(kinds):
        return hits
    order = reranker.rerank(query, [h.embed_text for h in hits], top_k, kinds)
    return [dataclasses.replace(hits[i], score=float(score)) for i, score in order]


def _resolve_facets(
    store: Store, collection: str, request: SearchRequest, infos: CollectionInfoCache | None
) -> SearchRequest:
    """The request with its languages and kinds as the collection names them (aliases such as
    'py', 'golang' or 'docs' resolved, case ignored); InputError, listing what the collection
    holds, for a value it does not hold. Free on the usual path: the lists are cached."""
    if not request.languages and not request.kinds:
        return request
    facets = infos.facets(collection) if infos is not None else read_facets(store, collection)

    def resolved(f: Facets) -> tuple[tuple[str, ...], tuple[str, ...]]:
        return (
            tuple(dict.fromkeys(resolve_language(v, f.languages) for v in request.languages)),
            tuple(dict.fromkeys(resolve_kind(v) for v in request.kinds)),
        )

    languages, kinds = resolved(facets)
    if infos is not None and (unknown_values(languages, facets.languages) or unknown_values(kinds, facets.kinds)):
        facets = infos.facets(collection, fresh=True)  # perhaps ingested since it was cached
        languages, kinds = resolved(facets)
    if missing := unknown_values(languages, facets.languages):
        asked = [v for v in request.languages if resolve_language(v, facets.languages) in missing]
        raise NoMatch(str(filter_error("language", asked, collection, facets.languages,
                                       " (names as listed, any case; aliases such as py, js, ts or golang work too)")))
    if missing := unknown_values(kinds, facets.kinds):
        asked = [v for v in request.kinds if resolve_kind(v) in missing]
        raise NoMatch(str(filter_error("kind", asked, collection, facets.kinds, " ('docs' works for 'doc')")))
    return dataclasses.replace(request, languages=languages, kinds=kinds)


def _filters(request: SearchRequest) -> tuple[Filters, pathspec.PathSpec | None]:
    """Store filters, plus the glob as a gitignore-style spec to check exactly afterwards."""
    paths, spec = path_filters(request.path_glob)
    filters = Filters(
        under=paths.under, exts=paths.exts, languages=request.languages, kinds=request.kinds, visible=True
    )
    return filters, spec


def path_filters(path_glob: str | None) -> tuple[Filters, pathspec.PathSpec | None]:
    """A path glob as store filters, plus a gitignore-style spec to check exactly afterwards (None
    when the filters are exact: no glob, or a literal file or folder).

    The store narrows by the glob's literal directory prefix and its extension (both indexed), so
    the exact check after the query rarely drops anything."""
    glob = (path_glob or "").strip().removeprefix("./") or None
    under: tuple[str, ...] = ()
    exts: tuple[str, ...] = ()
    spec = None
    if glob:
        literal = re.split(r"[*?\[]", glob, maxsplit=1)[0]
        if literal == glob:  # no wildcard: a file, or a directory and all below it
            under = (glob.strip("/"),)
        else:
            prefix = literal.rsplit("/", 1)[0] if "/" in literal.lstrip("/") else ""
            under = (prefix.strip("/"),) if prefix.strip("/") else ()
            ext = re.fullmatch(r".*\*(\.[A-Za-z0-9]+)", glob)
            exts = (ext.group(1).lower(),) if ext else ()
            spec = pathspec.PathSpec.from_lines("gitwildmatch", [glob])
    return Filters(under=under, exts=exts, visible=True), spec


def hit_from_payload(hit: ScoredHit) -> SearchHit:
    r = ChunkRecord.from_payload(hit.payload)
    texts = r.root == TEXTS_ROOT
    return SearchHit(
        id=hit.id,
        score=hit.score,
        path=r.path,
        root=r.root,
        start_line=r.start_line,
        end_line=r.end_line,
        language=r.language,
        kind=r.kind,
        symbol=r.symbol,
        text=r.text,
        header=r.header,
        page=r.page,
        indexed_at=r.indexed_at,
        file_size=None if texts or r.file_size < 0 else r.file_size,
        file_mtime_ns=None if texts or r.file_mtime_ns < 0 else r.file_mtime_ns,
        file_hash=r.file_hash,
    )


DiskState = Literal["unchanged", "changed", "deleted", "unknown"]
HASH_CHECK_MAX_BYTES = 1 << 20  # a file of the indexed size but another mtime is hashed up to this size


def disk_state(hit: SearchHit) -> DiskState:
    """Whether the hit's file on disk (root + path) is still the version indexed, from one `stat`
    of that file (never a walk): "unchanged", "changed" (another size, or another mtime and other
    content), "deleted" (gone, or no longer a regular file), or "unknown" (a text sent by a client,
    or a record without the file's stat or hash).

    The same size with another mtime is a file touched, or edited in place to the same length: its
    content is hashed (files up to HASH_CHECK_MAX_BYTES; a larger one counts as changed) and
    compared with the indexed hash, so a `touch` or a branch switched back does not read as a
    change. Only the verdict comes back, never the file's content."""
    if hit.root in ("", TEXTS_ROOT) or not os.path.isabs(hit.root):
        return "unknown"
    path = os.path.join(hit.root, *hit.path.split("/"))
    try:
        st = os.stat(path, follow_symlinks=False)
    except (OSError, ValueError):
        return "deleted"
    if not stat.S_ISREG(st.st_mode):
        return "deleted"  # a folder or a link now: the indexed file is not there
    if hit.file_size is not None and st.st_size != hit.file_size:
        return "changed"
    if hit.file_size is not None and st.st_mtime_ns == hit.file_mtime_ns:
        return "unchanged"
    if not hit.file_hash:
        return "unknown"
    if st.st_size > HASH_CHECK_MAX_BYTES:
        return "changed"
    try:
        data = read_regular(path, HASH_CHECK_MAX_BYTES, expect=(st.st_dev, st.st_ino))
    except Unsafe:
        return "changed"  # replaced since the stat, or unreadable now
    return "unchanged" if hashlib.sha256(data).hexdigest() == hit.file_hash else "changed"
