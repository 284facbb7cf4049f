"""Search: encode the query, ask the store (dense, sparse, or hybrid fused in the store), shape the hits."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import asdict, dataclass

import pathspec

from ..collections import check_compatible
from ..encoders.base import Encoder
from ..rerank.base import Reranker
from ..errors import InputError
from ..sparse import query_vector
from ..store.base import CollectionInfo, Filters, Fusion, ScoredHit, SearchMode, Store

MAX_TOP_K = 100
PREFETCH = 100  # candidates each side contributes to hybrid fusion
GLOB_OVERFETCH = 5  # extra candidates fetched when a path glob is checked after the query
# Hybrid fusion, measured with `groundmcp eval` on ../shared/eval/public (docs/benchmarks.md):
# cosine + w(kind) * bm25 / (bm25 + 15), w = 1 for code chunks and 0.05 for prose.
HYBRID_FUSION = Fusion()
RERANK_CANDIDATES = 30  # first-stage hits a reranker re-orders (late interaction: ~20 ms each on CPU)


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

    @property
    def embed_text(self) -> str:
        return f"{self.header}\n{self.text}" if self.header else self.text

    @property
    def citation(self) -> str:
        return f"{self.path}:{self.start_line}-{self.end_line}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SearchRequest:
    query: str
    top_k: int = 10
    mode: SearchMode = "hybrid"
    path_glob: str | None = None
    languages: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    rerank: bool = False


def search(
    store: Store,
    encoder: Encoder,
    collection: str,
    request: SearchRequest,
    reranker: Reranker | None = None,
    info: CollectionInfo | None = None,
) -> list[SearchHit]:
    """Top hits for the request; with `request.rerank`, the first stage's top candidates are
    re-ordered by `reranker` (InputError if there is none). Pass `info` when the caller has
    just read it, to save a store round trip."""
    query = request.query.strip()
    if not query:
        raise InputError("the query is empty: give a few words or an identifier to search for")
    if not 1 <= request.top_k <= MAX_TOP_K:
        raise InputError(f"top_k must be between 1 and {MAX_TOP_K}; got {request.top_k}")
    if request.mode not in ("dense", "sparse", "hybrid"):
        raise InputError(f"mode must be dense, sparse or hybrid; got {request.mode!r}")
    if request.rerank and reranker is None:
        raise InputError("rerank was asked for but the reranker is 'none'; set GROUNDMCP_RERANKER")
    check_compatible(info or store.info(collection), encoder)
    filters, glob = _filters(request)
    wanted = max(request.top_k, RERANK_CANDIDATES) if request.rerank else request.top_k
    limit = wanted * (GLOB_OVERFETCH if glob else 1)
    dense = encoder.encode_query(query).tolist() if request.mode != "sparse" else None
    sparse = query_vector(query) if request.mode != "dense" else None
    if request.mode == "sparse" and not sparse.indices:
        return []  # nothing lexical to match (all stop words or punctuation)
    if request.mode == "hybrid" and not sparse.indices:
        sparse, mode = None, "dense"
    else:
        mode = request.mode
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
    # Equal fused scores (two hits with mirrored ranks) come back in no fixed order: break ties
    # by id so the same query on the same index always gives the same list.
    shaped = sorted((hit_from_payload(h) for h in hits), key=lambda h: (-h.score, h.id))
    if glob:
        shaped = [h for h in shaped if glob.match_file(h.path)]
    shaped = shaped[:wanted]
    if request.rerank and shaped:
        order = reranker.rerank(query, [h.embed_text for h in shaped], request.top_k)
        shaped = [dataclasses.replace(shaped[i], score=float(score)) for i, score in order]
    return shaped[: request.top_k]


def _filters(request: SearchRequest) -> tuple[Filters, pathspec.PathSpec | None]:
    """Store filters, plus the glob as a gitignore-style spec to check exactly afterwards.

    The store narrows by the glob's literal directory prefix and its extension (both indexed), so
    the exact check after the query rarely drops anything."""
    glob = (request.path_glob or "").strip().removeprefix("./") or None
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
    filters = Filters(
        under=under, exts=exts, languages=request.languages, kinds=request.kinds, visible=True
    )
    return filters, spec


def hit_from_payload(hit: ScoredHit) -> SearchHit:
    p = hit.payload
    return SearchHit(
        id=hit.id,
        score=hit.score,
        path=p["path"],
        root=p.get("root", ""),
        start_line=p.get("start_line", 0),
        end_line=p.get("end_line", 0),
        language=p.get("language", ""),
        kind=p.get("kind", ""),
        symbol=p.get("symbol", ""),
        text=p.get("text", ""),
        header=p.get("header", ""),
        page=p.get("page"),
    )
