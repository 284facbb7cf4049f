"""The embedded backend: Qdrant Edge in-process, one shard per collection (layout: edge_layout).

Edge runs no background optimizer: new points go to plain (exact) segments until `optimize` builds
HNSW for segments above the indexing threshold. `optimize` holds the GIL while it runs, so every
thread of the process (queries included) waits for it.

Each collection has a readers-writer lock. Reads and upserts (which write unpublished points) share
it; the operations that change what searches see (publish, delete) and reloading the shard take it
alone, so a search never sees a file half-published or two versions of it in this process.

The engine raises a bare Exception (and, on some damaged files, a Rust panic, which is a
BaseException) for every failure. Those become GroundErrors that name the collection and the way
out. After a failed write the shard refuses further writes ("not recovered from previous error"):
it is reloaded from disk before the next operation, which replays its write-ahead log. Writes are
refused while the disk has less than edge_faults.MIN_FREE_BYTES free: the engine writes through
memory maps, where a full disk is a SIGBUS that kills the process instead of an error.
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import numpy as np
import qdrant_edge as qe

from groundmcp.errors import GroundError, InputError
from groundmcp.store.base import (
    DENSE,
    SPARSE,
    CollectionInfo,
    Filters,
    Fusion,
    PointData,
    ScoredHit,
    SearchMode,
    SparseVec,
)
from groundmcp.store.common import (
    CHUNK_INDEX,
    DENSE_SCORE,
    EXACT_SEARCH_MAX_POINTS,
    HNSW_EF,
    KIND,
    SPARSE_SCORE,
    TOKEN_SIGNS,
    VISIBLE,
    already_exists,
    check_dims,
    check_query,
    json_ready,
    keyword_terms,
    not_found,
    payload_indexes,
    under_terms,
)
from groundmcp.store.edge_faults import (
    close_quietly,
    detail,
    ensure_space,
    estimate_bytes,
    fsync_dir,
    load_shard,
    probe_writable,
    refused_write,
    reraise_interrupts,
    unreadable,
    unusable_dir,
    write_failed,
)
from groundmcp.store.edge_layout import (
    CREATING_PREFIX,
    META_FILE,
    SHARD_DIR,
    TRASH_PREFIX,
    empty_trash,
    read_meta,
    release_process_lock,
    take_process_lock,
    write_json_atomic,
)
from groundmcp.store.names import NAME_RE, validate_collection_name
from groundmcp.store.rwlock import RWLock

__all__ = ["EdgeStore", "validate_collection_name"]

# The WAL already keeps acknowledged writes through a kill -9; flushing (segments to disk, WAL
# trimmed) after every write halved ingest speed, so writes flush at most this often, and on close.
# The write a flush falls on pays it whole: a stream of one-note ingests (bench/store_flush.py,
# 100 to 50,000 points) paid 21 to 26 ms once a second at 1 s, 25 to 77 ms once in 5 s at 5 s, and
# 0.05 to 0.75 ms less a call on average. At 5 s, one call in some 200 pays a flush instead of one
# in 40, and the WAL holds at most 5 s of writes to replay after a kill.
FLUSH_INTERVAL_S = 5.0

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Open:
    name: str
    folder: Path
    shard: qe.EdgeShard
    dim: int
    meta: dict[str, Any]
    lock: RWLock = field(default_factory=RWLock)
    # -inf: the first write after opening flushes, so a disk that refuses writes is found
    # before anything is published.
    flushed_at: float = float("-inf")
    # Whether this process changed the shard since its last flush; close flushes only then (a
    # flush costs about 0.2 s at 128k points even with nothing to write).
    unflushed: bool = False
    # Set when a write failed: the shard refuses writes until reloaded; `reads_suspect` when the
    # failed write changed visibility (it may have been applied in part), so reads reload too.
    failed: str = ""
    reads_suspect: bool = False


class EdgeStore:
    """Collections in `data_dir`, each an Edge shard opened on first use and kept open."""

    backend = "edge"

    def __init__(self, data_dir: Path, *, indexing_threshold_kb: int | None = None) -> None:
        """`indexing_threshold_kb`: segments larger than this get HNSW on `optimize` (Qdrant's
        default, about 10 MB, when None); applies to collections created by this instance."""
        self.data_dir = Path(data_dir)
        self.location = str(self.data_dir)
        self._root = self.data_dir / "collections"
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            self._lock_file: TextIO | None = take_process_lock(self.data_dir)
        except OSError as exc:
            raise unusable_dir(self.data_dir, exc) from exc
        self._indexing_threshold_kb = indexing_threshold_kb
        self._guard = threading.Lock()
        self._open_shards: dict[str, _Open] = {}
        try:
            empty_trash(self._root)
            probe_writable(self._root)
        except OSError as exc:
            self.close()
            raise unusable_dir(self.data_dir, exc) from exc

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
            ensure_space(name, folder, self._root)
            shard = self._create_shard(name, folder, record)
            self._open_shards[name] = _Open(name, folder, shard, dim, record["meta"])

    def info(self, name: str) -> CollectionInfo:
        col = self._open(name)
        return CollectionInfo(name=name, points=self._approx_points(col), dim=col.dim, meta=dict(col.meta))

    def delete_collection(self, name: str) -> None:
        validate_collection_name(name)
        with self._guard:
            self._check_open()
            col = self._open_shards.pop(name, None)
            folder = self._root / name
            if col is not None:
                with col.lock.exclusive():  # let running searches finish first
                    close_quietly(col.shard)  # no flush: it is going away
            if not folder.exists():
                raise not_found(name, self.list_collections(), self.location)
            trash = self._root / f"{TRASH_PREFIX}{name}-{uuid.uuid4().hex}"
            try:
                folder.rename(trash)  # atomic: a crash mid-delete leaves no half collection
            except OSError as exc:
                raise write_failed(name, folder, f"cannot move it aside to delete it: {exc}") from exc
            shutil.rmtree(trash, ignore_errors=True)  # leftovers go when the store next opens

    # -- points -----------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        col = self._open(name, writing=True)
        if not points:
            return
        check_dims(name, col.dim, points)
        ensure_space(name, col.folder, col.folder, estimate_bytes(points))
        op = qe.UpdateOperation.upsert_points([_point(p) for p in points])
        with col.lock.shared():  # new points are unpublished: searches need not wait
            self._update(col, [op], visibility=False)
            self._flush_if_due(col)

    def set_visible(self, name: str, filters: Filters, visible: bool) -> None:
        self.publish(name, filters, visible=visible)

    def delete(self, name: str, filters: Filters | None = None, ids: Sequence[str] = ()) -> None:
        """Delete points matching `filters` (and, if given, whose id is in `ids`)."""
        col = self._open(name, writing=True)
        if filters is None and not ids:
            return
        with col.lock.exclusive():
            self._update(col, [_delete_op(filters, ids)], visibility=True)
        self._flush_if_due(col, locked=False)

    def publish(
        self, name: str, filters: Filters, retire: Sequence[str] = (), *, visible: bool = True
    ) -> None:
        """Set `visible` on the points matching `filters`, then delete the points `retire`, as one
        step for searches in this process. A flush that is due runs first, so a disk that filled
        up during the upserts fails here, before anything is published."""
        col = self._open(name, writing=True)
        self._flush_if_due(col, locked=False)
        ops = [qe.UpdateOperation.set_payload_by_filter(_filter(filters), {VISIBLE: bool(visible)})]
        if retire:
            ops.append(qe.UpdateOperation.delete_points(list(retire)))
        with col.lock.exclusive():
            self._update(col, ops, visibility=True)

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
        return self._scroll_pages(col, request)

    def count(self, name: str, filters: Filters | None = None) -> int:
        col = self._open(name)
        flt = _filter(filters) if filters is not None else None
        return self._read(col, lambda: col.shard.count(qe.CountRequest(exact=True, filter=flt)))

    def retrieve(self, name: str, ids: Sequence[str]) -> list[ScoredHit]:
        col = self._open(name)
        if not ids:
            return []
        wanted = [str(uuid.UUID(i)) for i in ids]
        keys: list[qe.PointId] = list(wanted)
        records = self._read(col, lambda: col.shard.retrieve(keys, _HIT_PAYLOAD, False))
        found = {str(r.id): r for r in records}
        return [ScoredHit(i, 0.0, dict(found[i].payload or {})) for i in wanted if i in found]

    def late_inputs(self, name: str, ids: Sequence[str]) -> dict[str, tuple[list[float], str]]:
        col = self._open(name)
        if not ids:
            return {}
        keys: list[qe.PointId] = [str(uuid.UUID(i)) for i in ids]
        selector = qe.PayloadSelector.Include([TOKEN_SIGNS])
        records = self._read(col, lambda: col.shard.retrieve(keys, selector, [DENSE]))
        return {
            str(r.id): (list((r.vector or {}).get(DENSE) or []), str((r.payload or {}).get(TOKEN_SIGNS) or ""))
            for r in records
        }

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
        col = self._open(name)
        check_query(name, col.dim, dense, sparse, mode)
        flt = _filter(filters) if filters is not None else None
        dense_q = qe.Query.Nearest(list(dense), using=DENSE) if dense is not None else None
        sparse_q = qe.Query.Nearest(_sparse(sparse), using=SPARSE) if sparse is not None else None
        dense_params = _DENSE_PARAMS
        if dense is not None and self._approx_points(col) <= EXACT_SEARCH_MAX_POINTS:
            dense_params = _EXACT_PARAMS
        if mode == "hybrid":
            request = qe.QueryRequest(
                limit=limit,
                prefetches=[
                    qe.Prefetch(limit=prefetch_limit, query=dense_q, filter=flt, params=dense_params),
                    qe.Prefetch(limit=prefetch_limit, query=sparse_q, filter=flt),
                ],
                query=_fusion(fusion),  # type: ignore[arg-type]
                filter=flt,
                with_payload=_HIT_PAYLOAD,
            )
        else:
            query = dense_q if mode == "dense" else sparse_q
            params = dense_params if mode == "dense" else None
            request = qe.QueryRequest(limit=limit, query=query, filter=flt, params=params, with_payload=_HIT_PAYLOAD)
        points = self._read(col, lambda: col.shard.query(request))
        return [ScoredHit(str(p.id), p.score, dict(p.payload or {})) for p in points]

    def _approx_points(self, col: _Open) -> int:
        """The point count as the shard estimates it, without visiting every point (~0.01 ms). With
        no filter the estimate is each segment's count of live points, so it is the exact count
        (deletions accounted for), where an exact count visits every point: 10 ms at 100k, paid by
        every ingest (`info` checks the collection first), one note or not."""
        return self._read(col, lambda: col.shard.count(qe.CountRequest(exact=False)))

    def optimize(self, name: str) -> None:
        """Merge segments and build HNSW; blocks every thread of the process until done."""
        col = self._open(name, writing=True)
        with col.lock.shared():
            before = self._call(col, lambda: _layout(col.shard), write=False)
            self._call(col, col.shard.optimize, write=True, visibility=False)
            col.unflushed = col.unflushed or self._call(col, lambda: _layout(col.shard), write=False) != before

    def close(self) -> None:
        """Flush (where this process changed something) and close every collection. A flush that
        fails (a full disk) loses nothing: the write-ahead log holds the writes and the next open
        replays it."""
        with self._guard:
            for col in self._open_shards.values():
                with col.lock.exclusive():
                    if col.unflushed and not col.failed:
                        try:
                            col.shard.flush()
                        except BaseException as exc:  # also Rust panics
                            reraise_interrupts(exc)
                    close_quietly(col.shard)
            self._open_shards.clear()
            if self._lock_file is not None:
                release_process_lock(self._lock_file)
                self._lock_file = None

    # -- helpers ----------------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._lock_file is None:
            raise GroundError(f"the store in {self.location} is closed; open it again")

    def _open(self, name: str, *, writing: bool = False) -> _Open:
        """The collection's shard, loaded on first use (CollectionNotFound if absent), and
        reloaded first if a failed write left it refusing writes (or, for reads, suspect)."""
        validate_collection_name(name)
        with self._guard:
            self._check_open()
            col = self._open_shards.get(name)
            if col is None:
                col = self._load(name)
                self._open_shards[name] = col
        if col.failed and (writing or col.reads_suspect):
            self._reload(col)
        return col

    def _load(self, name: str) -> _Open:
        folder = self._root / name
        if not folder.is_dir():
            raise not_found(name, self.list_collections(), self.location)
        record = read_meta(name, folder)
        shard = _add_missing_indexes(name, folder, load_shard(name, folder))
        return _Open(name, folder, shard, record["dim"], record["meta"])

    def _reload(self, col: _Open) -> None:
        """Close and load the shard again (the engine replays its log); never holds the
        collection's lock and the store's guard at once, as delete_collection and close take
        them the other way round."""
        with col.lock.exclusive():
            if not col.failed:
                return  # another thread did it
            close_quietly(col.shard)
            try:
                col.shard = load_shard(col.name, col.folder)
            except GroundError as exc:
                error = exc
            else:
                col.failed, col.reads_suspect = "", False
                col.flushed_at = float("-inf")
                return
        with self._guard:
            if self._open_shards.get(col.name) is col:
                del self._open_shards[col.name]  # the next call loads it afresh
        raise write_failed(col.name, col.folder, f"{col.failed}; reopening it failed too: {error}") from error

    def _call(self, col: _Open, fn: Callable[[], T], *, write: bool, visibility: bool = False) -> T:
        """Run one engine call, turning its errors into GroundErrors that say what to do."""
        try:
            return fn()
        except GroundError:
            raise
        except BaseException as exc:  # bare Exception, and Rust panics
            reraise_interrupts(exc)
            why = detail(exc)
            if not write and not refused_write(why):
                raise unreadable(col.name, col.folder, why) from exc
            col.failed = col.failed or why
            col.reads_suspect = col.reads_suspect or visibility
            raise write_failed(col.name, col.folder, why) from exc

    def _read(self, col: _Open, fn: Callable[[], T]) -> T:
        with col.lock.shared():
            return self._call(col, fn, write=False)

    def _update(self, col: _Open, ops: list[Any], *, visibility: bool) -> None:
        """Apply `ops` in order; the caller holds the collection's lock."""
        ensure_space(col.name, col.folder, col.folder)
        col.unflushed = True
        for op in ops:
            self._call(col, lambda op=op: col.shard.update(op), write=True, visibility=visibility)

    def _flush(self, col: _Open) -> None:
        self._call(col, col.shard.flush, write=True)
        col.flushed_at = time.monotonic()
        col.unflushed = False

    def _flush_if_due(self, col: _Open, *, locked: bool = True) -> None:
        """Flush unless a flush happened within FLUSH_INTERVAL_S (`locked`: the caller holds the
        collection's lock, shared or not)."""
        if time.monotonic() - col.flushed_at < FLUSH_INTERVAL_S:
            return
        if locked:
            self._flush(col)
        else:
            with col.lock.shared():
                self._flush(col)

    def _scroll_pages(self, col: _Open, request: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            page = qe.ScrollRequest(offset=offset, **request)
            records, offset = self._read(col, lambda page=page: col.shard.scroll(page))
            for r in records:
                yield str(r.id), dict(r.payload or {})
            if offset is None:
                return

    def _create_shard(self, name: str, folder: Path, record: dict[str, Any]) -> qe.EdgeShard:
        """Build the collection in a hidden folder (shard, payload indexes, then the json), and
        rename it into place when whole: a kill at any point leaves no half collection."""
        staging = self._root / f"{CREATING_PREFIX}{name}-{uuid.uuid4().hex}"
        try:
            shard = qe.EdgeShard.create(str(staging / SHARD_DIR), self._config(record["dim"]))
            try:
                _create_indexes(shard)
                shard.flush()
            finally:
                close_quietly(shard)
            write_json_atomic(staging / META_FILE, record)
            os.rename(staging, folder)
            fsync_dir(self._root)
        except BaseException as exc:  # also Rust panics
            shutil.rmtree(staging, ignore_errors=True)
            reraise_interrupts(exc)
            raise write_failed(name, folder, f"cannot create it: {detail(exc)}") from exc
        return load_shard(name, folder)

    def _config(self, dim: int) -> qe.EdgeConfig:
        kb = self._indexing_threshold_kb
        return qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams(modifier=qe.Modifier.Idf)},
            hnsw_config=qe.HnswIndexConfig(m=16, ef_construct=100, full_scan_threshold=10_000),
            optimizers=qe.EdgeOptimizersConfig(indexing_threshold=kb) if kb else None,
        )


# -- module helpers -------------------------------------------------------------------------

_HIT_PAYLOAD = qe.PayloadSelector.Exclude([TOKEN_SIGNS])  # a hit's payload: all but the signature


def _layout(shard: qe.EdgeShard) -> tuple[int, int, int]:
    """What optimize changes: segments, points, vectors in HNSW (equal before and after: it
    had nothing to do)."""
    info = shard.info()
    return info.segments_count, info.points_count, info.indexed_vectors_count


def _delete_op(filters: Filters | None, ids: Sequence[str]) -> Any:
    if filters is None:
        return qe.UpdateOperation.delete_points(list(ids))
    return qe.UpdateOperation.delete_points_by_filter(_filter(filters, ids))


_SCHEMA = {
    "keyword": qe.PayloadSchemaType.Keyword,
    "bool": qe.PayloadSchemaType.Bool,
    "integer": qe.PayloadSchemaType.Integer,
}


def _create_indexes(shard: qe.EdgeShard, indexes: Sequence[tuple[str, str]] | None = None) -> None:
    for field_name, kind in payload_indexes() if indexes is None else indexes:
        shard.update(qe.UpdateOperation.create_field_index(field_name, _SCHEMA[kind]))


def _add_missing_indexes(name: str, folder: Path, shard: qe.EdgeShard) -> qe.EdgeShard:
    """Index the payload fields that a collection made by an earlier version lacks. The index is
    saved with the shard, so this happens once (about 2 s at 128k points). Filters work without
    it, only slower, so a refusal (too little free space) is logged, not raised."""
    have = shard.info().payload_schema
    missing = [(f, kind) for f, kind in payload_indexes() if f not in have]
    if not missing:
        return shard
    fields = ", ".join(f for f, _ in missing)
    try:
        ensure_space(name, folder, folder)
    except GroundError as exc:
        log.warning("collection %r: not indexing %s now: %s", name, fields, exc)
        return shard
    try:
        _create_indexes(shard, missing)
        shard.flush()
    except BaseException as exc:  # also Rust panics
        reraise_interrupts(exc)
        log.warning("collection %r: indexing %s failed: %s", name, fields, detail(exc))
        close_quietly(shard)  # a failed write leaves the shard refusing writes until reloaded
        return load_shard(name, folder)
    log.info("collection %r: indexed payload fields %s", name, fields)
    return shard


def _filter(filters: Filters, ids: Sequence[str] = ()) -> qe.Filter:
    terms = keyword_terms(filters)
    must: list[Any] = [qe.FieldCondition(f, match=qe.MatchAny(v)) for f, v in terms]
    if alternatives := under_terms(filters):
        must.append(qe.Filter(should=[qe.FieldCondition(f, match=qe.MatchAny(v)) for f, v in alternatives]))
    if filters.first_chunks:
        must.append(qe.FieldCondition(CHUNK_INDEX, match=qe.MatchValue(0)))
    if filters.visible is not None:
        # qdrant-edge 0.9.0 reads a Python bool as the integer 1/0, which never matches a bool
        # payload; numpy.bool_ is not an int subclass and comes through as a bool.
        as_bool = np.bool_(filters.visible)
        must.append(qe.FieldCondition(VISIBLE, match=qe.MatchValue(as_bool)))  # type: ignore[arg-type]
    if ids:
        must.append(qe.HasIdCondition(set(ids)))
    return qe.Filter(must=must)


_DENSE_PARAMS = qe.SearchParams(hnsw_ef=HNSW_EF)
_EXACT_PARAMS = qe.SearchParams(exact=True)


def _fusion(fusion: Fusion) -> Any:
    if fusion.method == "rrf":
        # the stub types `query` as Fusion, of which Rrf is a nested class, not a subclass
        return qe.Fusion.Rrf(k=fusion.rrf_k, weights=[float(w) for w in fusion.rrf_weights])
    x = qe.Expression
    lexical = x.Div(
        x.Variable(SPARSE_SCORE), x.Sum([x.Variable(SPARSE_SCORE), x.Constant(fusion.saturation)]), by_zero_default=0.0
    )
    weight = x.Sum([
        x.Mult([x.Constant(w), x.Condition(qe.FieldCondition(KIND, match=qe.MatchValue(kind)))])
        for kind, w in fusion.lexical
    ])
    return qe.Formula(
        x.Sum([x.Variable(DENSE_SCORE), x.Mult([weight, lexical])]), defaults={DENSE_SCORE: 0.0, SPARSE_SCORE: 0.0}
    )


def _sparse(vec: SparseVec) -> qe.SparseVector:
    return qe.SparseVector(list(vec.indices), list(vec.values))


def _point(p: PointData) -> qe.Point:
    vectors: dict[str, Any] = {DENSE: list(p.dense), SPARSE: _sparse(p.sparse)} if p.dense else {}
    return qe.Point(p.id, vectors, p.payload)

