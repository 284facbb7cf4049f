"""The embedded backend: Qdrant Edge in-process, one shard per collection (layout: edge_layout).

Edge runs no background optimizer: new points go to plain (exact) segments until `optimize` builds
HNSW for segments above the indexing threshold. `optimize` holds the GIL while it runs, so every
thread of the process (queries included) waits for it.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import qdrant_edge as qe

from groundmcp.errors import GroundError, InputError
from groundmcp.store.base import (
    BOOL_FIELDS,
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    CollectionInfo,
    Filters,
    PointData,
    ScoredHit,
    SearchMode,
    SparseVec,
)
from groundmcp.store.common import (
    RRF_K,
    VISIBLE,
    already_exists,
    check_dims,
    check_query,
    json_ready,
    keyword_terms,
    under_terms,
    not_found,
)
from groundmcp.store.edge_layout import (
    META_FILE,
    SHARD_DIR,
    TRASH_PREFIX,
    damaged,
    empty_trash,
    read_meta,
    release_process_lock,
    take_process_lock,
    write_json_atomic,
)
from groundmcp.store.names import NAME_RE, validate_collection_name

__all__ = ["EdgeStore", "validate_collection_name"]

# The WAL already keeps acknowledged writes through a kill -9; flushing (segments to disk, WAL
# trimmed) after every write halved ingest speed, so writes flush at most this often, and on close.
FLUSH_INTERVAL_S = 1.0


@dataclass(slots=True)
class _Open:
    shard: qe.EdgeShard
    dim: int
    meta: dict[str, Any]
    flushed_at: float = field(default_factory=time.monotonic)


class EdgeStore:
    """Collections in `data_dir`, each an Edge shard opened on first use and kept open."""

    backend = "edge"

    def __init__(self, data_dir: Path, *, indexing_threshold_kb: int | None = None) -> None:
        """`indexing_threshold_kb`: segments larger than this get HNSW on `optimize` (Qdrant's
        default, about 10 MB, when None); applies to collections created by this instance."""
        self.data_dir = Path(data_dir)
        self.location = str(self.data_dir)
        self._root = self.data_dir / "collections"
        self._root.mkdir(parents=True, exist_ok=True)
        self._lock_file: TextIO | None = take_process_lock(self.data_dir)
        self._indexing_threshold_kb = indexing_threshold_kb
        self._guard = threading.Lock()
        self._open_shards: dict[str, _Open] = {}
        empty_trash(self._root)

    # -- collections ------------------------------------------------------------------------

    def list_collections(self) -> list[str]:
        names = (p.name for p in self._root.iterdir() if p.is_dir())
        return sorted(n for n in names if NAME_RE.fullmatch(n))

    def create_collection(self, name: str, dim: int, meta: dict[str, Any]) -> None:
        validate_collection_name(name)
        if not isinstance(dim, int) or dim <= 0:
            raise InputError(f"dimension must be a positive integer, got {dim!r}")
        record: dict[str, Any] = {"dim": dim, "meta": json_ready(meta)}
        with self._guard:
            self._check_open()
            folder = self._root / name
            if folder.exists():
                read_meta(name, folder)  # raises if damaged, with the way out
                raise already_exists(name, self.location)
            shard = self._create_shard(folder, record)
            self._open_shards[name] = _Open(shard, dim, record["meta"])

    def info(self, name: str) -> CollectionInfo:
        col = self._open(name)
        points = col.shard.count(qe.CountRequest(exact=True))
        return CollectionInfo(name=name, points=points, dim=col.dim, meta=dict(col.meta))

    def delete_collection(self, name: str) -> None:
        validate_collection_name(name)
        with self._guard:
            self._check_open()
            col = self._open_shards.pop(name, None)
            if col is not None:
                col.shard.close()  # no flush: it is going away
            folder = self._root / name
            if not folder.exists():
                raise not_found(name, self.list_collections(), self.location)
            trash = self._root / f"{TRASH_PREFIX}{name}-{uuid.uuid4().hex}"
            folder.rename(trash)  # atomic: a crash mid-delete leaves no half collection
            shutil.rmtree(trash)

    # -- points -----------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        col = self._open(name)
        if not points:
            return
        check_dims(name, col.dim, points)
        col.shard.update(qe.UpdateOperation.upsert_points([_point(p) for p in points]))
        _written(col)

    def set_visible(self, name: str, filters: Filters, visible: bool) -> None:
        col = self._open(name)
        op = qe.UpdateOperation.set_payload_by_filter(_filter(filters), {VISIBLE: bool(visible)})
        col.shard.update(op)
        _written(col)

    def delete(self, name: str, filters: Filters | None = None, ids: Sequence[str] = ()) -> None:
        """Delete points matching `filters` (and, if given, whose id is in `ids`)."""
        col = self._open(name)
        if filters is None and not ids:
            return
        if filters is None:
            op = qe.UpdateOperation.delete_points(list(ids))
        else:
            op = qe.UpdateOperation.delete_points_by_filter(_filter(filters, ids))
        col.shard.update(op)
        _written(col)

    def scroll(
        self, name: str, filters: Filters | None, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        col = self._open(name)  # raise here, not at the first next()
        request = {
            "limit": batch,
            "filter": _filter(filters) if filters is not None else None,
            "with_payload": list(fields) if fields else False,
            "with_vector": False,
        }
        return _scroll_pages(col.shard, request)

    def count(self, name: str, filters: Filters | None = None) -> int:
        col = self._open(name)
        flt = _filter(filters) if filters is not None else None
        return col.shard.count(qe.CountRequest(exact=True, filter=flt))

    def retrieve(self, name: str, ids: Sequence[str]) -> list[ScoredHit]:
        col = self._open(name)
        if not ids:
            return []
        wanted = [str(uuid.UUID(i)) for i in ids]
        keys: list[qe.PointId] = list(wanted)
        found = {str(r.id): r for r in col.shard.retrieve(keys, True, False)}
        return [ScoredHit(i, 0.0, dict(found[i].payload or {})) for i in wanted if i in found]

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
        weights: tuple[float, float] = (1.0, 1.0),
    ) -> list[ScoredHit]:
        col = self._open(name)
        check_query(name, col.dim, dense, sparse, mode)
        flt = _filter(filters) if filters is not None else None
        dense_q = qe.Query.Nearest(list(dense), using=DENSE) if dense is not None else None
        sparse_q = qe.Query.Nearest(_sparse(sparse), using=SPARSE) if sparse is not None else None
        if mode == "hybrid":
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=prefetch_limit, query=dense_q, filter=flt),
                    qe.Prefetch(limit=prefetch_limit, query=sparse_q, filter=flt),
                ],
                # the stub types `query` as Fusion, of which Rrf is a nested class, not a subclass
                query=qe.Fusion.Rrf(k=RRF_K, weights=[float(w) for w in weights]),  # type: ignore[arg-type]
                filter=flt,
                with_payload=True,
            )
        else:
            query = dense_q if mode == "dense" else sparse_q
            request = qe.QueryRequest(limit=limit, query=query, filter=flt, with_payload=True)
        points = col.shard.query(request)
        return [ScoredHit(str(p.id), p.score, dict(p.payload or {})) for p in points]

    def optimize(self, name: str) -> None:
        """Merge segments and build HNSW; blocks every thread of the process until done."""
        self._open(name).shard.optimize()

    def close(self) -> None:
        with self._guard:
            for col in self._open_shards.values():
                col.shard.flush()
                col.shard.close()
            self._open_shards.clear()
            if self._lock_file is not None:
                release_process_lock(self._lock_file)
                self._lock_file = None

    # -- helpers ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._lock_file is None:
            raise GroundError(f"the store in {self.location} is closed; open it again")

    def _open(self, name: str) -> _Open:
        """The collection's shard, loaded on first use; CollectionNotFound if absent."""
        validate_collection_name(name)
        with self._guard:
            self._check_open()
            col = self._open_shards.get(name)
            if col is None:
                col = self._load(name)
                self._open_shards[name] = col
            return col

    def _load(self, name: str) -> _Open:
        folder = self._root / name
        if not folder.is_dir():
            raise not_found(name, self.list_collections(), self.location)
        record = read_meta(name, folder)
        try:
            shard = qe.EdgeShard.load(str(folder / SHARD_DIR))
        except Exception as exc:  # the engine raises bare Exception
            raise damaged(name, folder, f"its shard does not open: {exc}") from exc
        return _Open(shard, record["dim"], record["meta"])

    def _create_shard(self, folder: Path, record: dict[str, Any]) -> qe.EdgeShard:
        """Shard, payload indexes, then the json that makes it a collection; undone on failure."""
        try:
            shard = qe.EdgeShard.create(str(folder / SHARD_DIR), self._config(record["dim"]))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            _create_indexes(shard)
            shard.flush()
            write_json_atomic(folder / META_FILE, record)
        except BaseException:
            shard.close()
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return shard

    def _config(self, dim: int) -> qe.EdgeConfig:
        kb = self._indexing_threshold_kb
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=kb) if kb else None,
        )


# -- module helpers -------------------------------------------------------------------------


def _written(col: _Open) -> None:
    """Flush after a write unless a flush happened within FLUSH_INTERVAL_S."""
    now = time.monotonic()
    if now - col.flushed_at >= FLUSH_INTERVAL_S:
        col.flushed_at = now
        col.shard.flush()


def _create_indexes(shard: qe.EdgeShard) -> None:
    kinds = [(f, qe.PayloadSchemaType.Keyword) for f in KEYWORD_FIELDS]
    kinds += [(f, qe.PayloadSchemaType.Bool) for f in BOOL_FIELDS]
    for field_name, schema in kinds:
        shard.update(qe.UpdateOperation.create_field_index(field_name, schema))


def _filter(filters: Filters, ids: Sequence[str] = ()) -> qe.Filter:
    terms = keyword_terms(filters)
    must: list[Any] = [qe.FieldCondition(f, match=qe.MatchAny(v)) for f, v in terms]
    if alternatives := under_terms(filters):
        must.append(qe.Filter(should=[qe.FieldCondition(f, match=qe.MatchAny(v)) for f, v in alternatives]))
    if filters.visible is not None:
        # qdrant-edge 0.9.0 reads a Python bool as the integer 1/0, which never matches a bool
        # payload; numpy.bool_ is not an int subclass and comes through as a bool.
        as_bool = np.bool_(filters.visible)
        must.append(qe.FieldCondition(VISIBLE, match=qe.MatchValue(as_bool)))  # type: ignore[arg-type]
    if ids:
        must.append(qe.HasIdCondition(set(ids)))
    return qe.Filter(must=must)


def _sparse(vec: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(list(vec.indices), list(vec.values))


def _point(p: PointData) -> qe.Point:
    return qe.Point(p.id, {DENSE: list(p.dense), SPARSE: _sparse(p.sparse)}, p.payload)


def _scroll_pages(
    shard: qe.EdgeShard, request: dict[str, Any]
) -> Iterator[tuple[str, dict[str, Any]]]:
    offset = None
    while True:
        records, offset = shard.scroll(qe.ScrollRequest(offset=offset, **request))
        for r in records:
            yield str(r.id), dict(r.payload or {})
        if offset is None:
            return
