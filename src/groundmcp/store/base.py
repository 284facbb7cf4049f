"""The store interface: named collections of points with a dense and a sparse vector each.

The store knows vectors and the chunk record's payload (groundmcp/record.py: the fields its filters
and indexes name), not models or files on disk. Two backends implement it: the
embedded Qdrant Edge engine (default, on disk) and qdrant-client (a server or cluster by URL; its
local mode stands in for a server in tests). Ingest and search are the only callers.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from groundmcp.record import BOOL_FIELDS, INTEGER_FIELDS, KEYWORD_FIELDS

__all__ = [
    "BOOL_FIELDS", "DENSE", "INTEGER_FIELDS", "KEYWORD_FIELDS", "SPARSE", "CollectionInfo", "Filters",
    "Fusion", "PointData", "ScoredHit", "SearchMode", "SparseVec", "Store",
]

DENSE = "dense"  # name of the dense vector in every collection
SPARSE = "sparse"  # name of the sparse (BM25-style, IDF modifier) vector

SearchMode = Literal["dense", "sparse", "hybrid"]

# Payload fields that carry a payload index (KEYWORD_FIELDS, BOOL_FIELDS, INTEGER_FIELDS) are the
# chunk record's, defined in record.py and re-exported here for the backends.


@dataclass(frozen=True, slots=True)
class SparseVec:
    indices: list[int]
    values: list[float]


@dataclass(frozen=True, slots=True)
class Fusion:
    """How hybrid search fuses its dense and sparse candidates, in Qdrant's Query API.

    "formula" (the default): score = cosine + w(kind) * bm25 / (bm25 + saturation), where w is
    looked up by the chunk's payload `kind` and a point missing from one candidate list scores 0
    there. The lexical part saturates, so a strong exact match can lift a chunk past closer
    paraphrases, but it never swamps the dense score; and it weighs more in code (identifiers are
    exact evidence) than in prose (where questions paraphrase their answers).
    "rrf": Qdrant's weighted reciprocal rank fusion, kept for comparison (bench/fusion_sweep.py)."""

    method: Literal["formula", "rrf"] = "formula"
    lexical: tuple[tuple[str, float], ...] = (("code", 1.0), ("doc", 0.05))
    saturation: float = 15.0
    rrf_k: int = 60
    rrf_weights: tuple[float, float] = (1.0, 1.0)  # dense, sparse


@dataclass(frozen=True, slots=True)
class PointData:
    """One point to write. `id` is a UUID string. An empty `dense` (with an empty `sparse`) makes
    a point without vectors: no search finds it, filters and scrolls do (ingest records a file
    that gave no chunk this way)."""

    id: str
    dense: list[float]
    sparse: SparseVec
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ScoredHit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Filters:
    """Conditions a point must meet; every field set narrows the result (AND).

    Values within one list are alternatives (OR). `visible` restricts to points published by a
    finished file write; searches always set it, maintenance scans may not.
    """

    roots: Sequence[str] = ()
    paths: Sequence[str] = ()  # exact relative paths
    under: Sequence[str] = ()  # a path equal to one of these, or inside it as a folder
    exts: Sequence[str] = ()  # file extensions with the dot, lowercase: ".py"
    languages: Sequence[str] = ()
    kinds: Sequence[str] = ()
    file_hashes: Sequence[str] = ()
    visible: bool | None = None
    first_chunks: bool = False  # only chunk 0 (payload `chunk_index`) of each file version
    symbol_keys: Sequence[str] = ()  # symbols records holding one of these keys (symbols/record.py)


@dataclass(frozen=True, slots=True)
class CollectionInfo:
    name: str
    points: int  # all points, including not-yet-visible ones
    dim: int
    meta: dict[str, Any] = field(default_factory=dict)  # model name, dim, created, ...


class Store(Protocol):
    """A set of named collections. Implementations must be safe to call from several threads."""

    backend: str  # "edge" or "qdrant"
    location: str  # a path or URL, for messages

    def list_collections(self) -> list[str]: ...

    def create_collection(self, name: str, dim: int, meta: dict[str, Any]) -> None:
        """Create an empty collection with a `dim`-d cosine dense vector, the sparse vector with
        the IDF modifier, and payload indexes on KEYWORD_FIELDS, BOOL_FIELDS and INTEGER_FIELDS.
        `meta` is kept with the collection and returned by `info`. Raises GroundError if it exists."""

    def info(self, name: str) -> CollectionInfo:
        """Raises CollectionNotFound (with the list of existing names) if absent."""

    def delete_collection(self, name: str) -> None: ...

    def upsert(self, name: str, points: Sequence[PointData]) -> None: ...

    def set_visible(self, name: str, filters: Filters, visible: bool) -> None:
        """Set payload `visible` on every point matching `filters`, in one operation."""

    def publish(
        self, name: str, filters: Filters, retire: Sequence[str] = (), *, visible: bool = True
    ) -> None:
        """Make the points matching `filters` visible, then delete the points `retire` (the
        versions they replace). The embedded store does both as one step for searches in its
        process; a server does them back to back, so a search may briefly see both versions,
        each whole (as may a search after a kill between the two; the next ingest ends it)."""

    def delete(self, name: str, filters: Filters | None = None, ids: Sequence[str] = ()) -> None:
        """Delete points by filter and/or by id. A None filter with no ids deletes nothing."""

    def scroll(
        self, name: str, filters: Filters | None, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (id, payload restricted to `fields`) for every matching point."""

    def count(self, name: str, filters: Filters | None = None) -> int: ...

    def retrieve(self, name: str, ids: Sequence[str]) -> list[ScoredHit]:
        """Points by id with their payload but its token signature (score 0.0); unknown ids are
        left out."""

    def late_inputs(self, name: str, ids: Sequence[str]) -> dict[str, tuple[list[float], str]]:
        """What search's late-interaction step needs of these points: each one's dense vector and
        token signature ("" where it has none). Unknown ids are left out."""

    def query(
        self,
        name: str,
        *,
        dense: list[float] | None,
        sparse: SparseVec | None,
        mode: SearchMode,
        limit: int,
        filters: Filters | None = None,
        prefetch_limit: int = 100,
        fusion: Fusion = Fusion(),
    ) -> list[ScoredHit]:
        """Top `limit` points, their payloads without the token signature. dense/sparse modes
        search one vector; hybrid prefetches `prefetch_limit` from each and fuses them as
        `fusion` says, in the store."""

    def optimize(self, name: str) -> None:
        """Build indexes (HNSW) where the backend needs it done explicitly; may block. Queries
        running meanwhile must still get correct results."""

    def close(self) -> None: ...
