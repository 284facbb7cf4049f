"""The qdrant-client backend: a Qdrant server or cluster by URL, or local mode by path.

Local mode (`path=`) runs the same client calls in-process, brute force, and stands in for a server
in tests. It ignores payload indexes (and warns if asked for them), so it gets none; it is not
thread-safe, so its calls are serialised here. On a server, a collection made by an earlier version
gets the payload indexes it lacks the first time this process uses it. Collection meta travels as Qdrant collection
metadata, and hybrid search uses a score formula over two prefetches: both need a server of 1.14 or later (local mode has both).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import UnexpectedResponse

from groundmcp.errors import GroundError, IncompatibleCollection, InputError, StoreLocked
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
from groundmcp.store.names import NAME_RE, validate_collection_name

T = TypeVar("T")
_COSINE = models.Distance.COSINE
_IDF = models.Modifier.IDF
_SCHEMA = {
    "keyword": models.PayloadSchemaType.KEYWORD,
    "bool": models.PayloadSchemaType.BOOL,
    "integer": models.PayloadSchemaType.INTEGER,
}
log = logging.getLogger(__name__)


class QdrantStore:
    """Collections in a Qdrant server (`url`) or a local-mode directory (`path`).

    `prefix` is put before every collection name on the server, so several users (or test
    runs) can share one server; names are reported without it.
    """

    backend = "qdrant"

    def __init__(
        self,
        url: str | None = None,
        api_key: str | None = None,
        path: Path | None = None,
        *,
        prefix: str = "",
    ) -> None:
        if (url is None) == (path is None):
            raise InputError("QdrantStore needs a server url or a local path (exactly one)")
        self._prefix = prefix
        self._dims: dict[str, int] = {}
        self._indexed: set[str] = set()  # collections whose payload indexes this process checked
        self._local = path is not None
        # local mode is brute force (and warns when given search params); a server searches HNSW
        self._dense_params = None if self._local else _DENSE_PARAMS
        self._guard: contextlib.AbstractContextManager[Any]
        if path is not None:
            self.location = str(path)
            self._client = _open_local(Path(path))
            self._guard = threading.RLock()
        else:
            self.location = str(url)
            self._client = _open_server(str(url), api_key)
            self._guard = contextlib.nullcontext()

    # -- collections ------------------------------------------------------------------------

    def list_collections(self) -> list[str]:
        with self._guard:
            names = [c.name for c in self._client.get_collections().collections]
        mine = (n[len(self._prefix) :] for n in names if n.startswith(self._prefix))
        return sorted(n for n in mine if NAME_RE.fullmatch(n))

    def create_collection(self, name: str, dim: int, meta: dict[str, Any]) -> None:
        full = self._full(name)
        if not isinstance(dim, int) or dim <= 0:
            raise InputError(f"dimension must be a positive integer, got {dim!r}")
        with self._guard:
            if self._client.collection_exists(full):
                raise already_exists(name, self.location)
            self._client.create_collection(
                full,
                vectors_config={DENSE: models.VectorParams(size=dim, distance=_COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=_IDF)},
                metadata=json_ready(meta),
            )
            if not self._local:
                self._create_indexes(full, payload_indexes())
        self._dims[name] = dim
        self._indexed.add(name)

    def info(self, name: str) -> CollectionInfo:
        described = self._run(name, self._client.get_collection)
        dim = _dense_dim(name, described)
        self._dims[name] = dim
        points = self._run(name, self._client.count, exact=True).count
        meta = dict(described.config.metadata or {})
        return CollectionInfo(name=name, points=points, dim=dim, meta=meta)

    def delete_collection(self, name: str) -> None:
        full = self._full(name)
        with self._guard:
            if not self._client.collection_exists(full):
                raise not_found(name, self.list_collections(), self.location)
            self._client.delete_collection(full)
        self._dims.pop(name, None)
        self._indexed.discard(name)

    # -- points -----------------------------------------------------------------------------

    def upsert(self, name: str, points: Sequence[PointData]) -> None:
        if not points:
            self._require(name)
            return
        sizes = [len(p.dense) for p in points if p.dense]  # points without vectors have none
        if sizes:
            check_dims(name, self._dim(name, sizes[0]), points)
        structs = [_point(p) for p in points]
        self._run(name, self._client.upsert, points=structs, wait=True)

    def set_visible(self, name: str, filters: Filters, visible: bool) -> None:
        payload = {VISIBLE: bool(visible)}
        self._run(name, self._client.set_payload, payload=payload, points=_filter(filters))

    def publish(
        self, name: str, filters: Filters, retire: Sequence[str] = (), *, visible: bool = True
    ) -> None:
        """Publish then retire, back to back under one lock (a server has no multi-operation
        transaction, so a search from elsewhere may see both versions for that moment)."""
        with self._guard:
            self.set_visible(name, filters, visible)
            if retire:
                self.delete(name, ids=retire)

    def delete(self, name: str, filters: Filters | None = None, ids: Sequence[str] = ()) -> None:
        """Delete points matching `filters` (and, if given, whose id is in `ids`)."""
        if filters is None and not ids:
            self._require(name)
            return
        selector: models.PointIdsList | models.FilterSelector
        if filters is None:
            selector = models.PointIdsList(points=list(ids))
        else:
            selector = models.FilterSelector(filter=_filter(filters, ids))
        self._run(name, self._client.delete, points_selector=selector, wait=True)

    def scroll(
        self, name: str, filters: Filters | None, fields: Sequence[str], batch: int = 1024
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        self._require(name)  # raise here, not at the first next()
        request = {
            "scroll_filter": _filter(filters) if filters is not None else None,
            "limit": batch,
            "with_payload": list(fields) if fields else False,
            "with_vectors": False,
        }
        return self._scroll_pages(name, request)

    def count(self, name: str, filters: Filters | None = None) -> int:
        flt = _filter(filters) if filters is not None else None
        return self._run(name, self._client.count, count_filter=flt, exact=True).count

    def retrieve(self, name: str, ids: Sequence[str]) -> list[ScoredHit]:
        if not ids:
            self._require(name)
            return []
        wanted = [str(uuid.UUID(i)) for i in ids]
        records = self._run(name, self._client.retrieve, ids=wanted, with_payload=_HIT_PAYLOAD)
        found = {str(r.id): r for r in records}
        return [ScoredHit(i, 0.0, dict(found[i].payload or {})) for i in wanted if i in found]

    def late_inputs(self, name: str, ids: Sequence[str]) -> dict[str, tuple[list[float], str]]:
        if not ids:
            self._require(name)
            return {}
        wanted = [str(uuid.UUID(i)) for i in ids]
        records = self._run(name, self._client.retrieve, ids=wanted, with_payload=[TOKEN_SIGNS], with_vectors=[DENSE])
        out = {}
        for r in records:
            vector = r.vector.get(DENSE) if isinstance(r.vector, dict) else r.vector
            out[str(r.id)] = (list(vector or []), str((r.payload or {}).get(TOKEN_SIGNS) or ""))
        return out

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
        dim = self._dim(name, len(dense)) if dense is not None else 0
        check_query(name, dim, dense, sparse, mode)
        flt = _filter(filters) if filters is not None else None
        request: dict[str, Any] = {"query_filter": flt, "limit": limit, "with_payload": _HIT_PAYLOAD}
        if mode == "hybrid":
            assert dense is not None and sparse is not None  # check_query made sure
            top = prefetch_limit
            request["prefetch"] = [
                models.Prefetch(query=list(dense), using=DENSE, limit=top, filter=flt, params=self._dense_params),
                models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=top, filter=flt),
            ]
            request["query"] = _fusion(fusion)
        elif mode == "dense":
            request |= {"query": list(dense or ()), "using": DENSE, "search_params": self._dense_params}
        else:
            assert sparse is not None
            request |= {"query": _sparse(sparse), "using": SPARSE}
        response = self._run(name, self._client.query_points, **request)
        return [ScoredHit(str(p.id), p.score, dict(p.payload or {})) for p in response.points]

    def optimize(self, name: str) -> None:
        """Nothing to do: a server indexes in the background, local mode is brute force."""
        self._require(name)

    def close(self) -> None:
        with self._guard:
            self._client.close()

    # -- helpers ----------------------------------------------------------------------------

    def _full(self, name: str) -> str:
        return self._prefix + validate_collection_name(name)

    def _run(self, name: str, method: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """`method(full_name, ...)`; failing on a missing collection is CollectionNotFound."""
        full = self._full(name)
        with self._guard:
            if name not in self._indexed:
                self._add_missing_indexes(name, full)
            try:
                return method(full, *args, **kwargs)
            except (ValueError, UnexpectedResponse) as exc:
                if not self._client.collection_exists(full):
                    raise not_found(name, self.list_collections(), self.location) from exc
                raise

    def _require(self, name: str) -> None:
        full = self._full(name)
        with self._guard:
            exists = self._client.collection_exists(full)
        if not exists:
            raise not_found(name, self.list_collections(), self.location)

    def _dim(self, name: str, expected: int) -> int:
        """The collection's dense dim, cached; re-read when it differs from `expected`, in case
        another process recreated the collection."""
        dim = self._dims.get(name)
        if dim is None or dim != expected:
            dim = self.info(name).dim
        return dim

    def _create_indexes(self, full: str, indexes: Sequence[tuple[str, str]]) -> None:
        for field_name, kind in indexes:
            self._client.create_payload_index(full, field_name, _SCHEMA[kind], wait=True)

    def _add_missing_indexes(self, name: str, full: str) -> None:
        """On a server, index the payload fields a collection made by an earlier version lacks;
        checked once per collection and process. Filters work without the index, only slower, so
        a refusal (a read-only key, say) is logged, not raised."""
        if self._local:
            self._indexed.add(name)
            return
        try:
            have = self._client.get_collection(full).payload_schema or {}
        except Exception:  # absent, or the server is unreachable: the call that follows says so
            return
        missing = [(f, kind) for f, kind in payload_indexes() if f not in have]
        if missing:
            try:
                self._create_indexes(full, missing)
            except Exception as exc:  # refusals come in several types
                log.warning("collection %r: could not index %s: %s", name, ", ".join(f for f, _ in missing), exc)
        self._indexed.add(name)

    def _scroll_pages(
        self, name: str, request: dict[str, Any]
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        offset = None
        while True:
            records, offset = self._run(name, self._client.scroll, offset=offset, **request)
            for r in records:
                yield str(r.id), dict(r.payload or {})
            if offset is None:
                return


# -- module helpers -------------------------------------------------------------------------


def _open_local(path: Path) -> QdrantClient:
    """Open local mode; StoreLocked if another client holds the directory."""
    locked = StoreLocked(
        f"the local Qdrant directory {path} is in use by another process or client; stop that "
        "groundmcp process, or use another --qdrant-local-path (or a Qdrant server for shared use)"
    )
    lock_path = path / ".lock"
    if lock_path.exists():  # probe first: the client leaks a file handle when it fails
        with open(lock_path, "r+", encoding="utf-8") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise locked from None
            fcntl.flock(probe, fcntl.LOCK_UN)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as exc:
        if "already accessed" in str(exc):
            raise locked from exc
        raise


def _open_server(url: str, api_key: str | None) -> QdrantClient:
    """Connect and make one call, so a wrong URL or key fails here with a clear message."""
    client = QdrantClient(url=url, api_key=api_key, check_compatibility=False)
    try:
        client.get_collections()
    except Exception as exc:  # connection errors come in many types
        client.close()
        raise GroundError(
            f"cannot use the Qdrant server at {url}: {exc}; check that the server runs and "
            "that the URL and API key are right"
        ) from exc
    return client


def _dense_dim(name: str, described: models.CollectionInfo) -> int:
    vectors = described.config.params.vectors
    if not isinstance(vectors, dict) or DENSE not in vectors:
        raise IncompatibleCollection(
            f"collection {name!r} has no {DENSE!r} vector: it was not made by groundmcp. Use "
            "another collection (--collection NAME), or delete it (the delete_collection tool, or "
            f"`groundmcp collections --delete {name}`) if nothing else needs it"
        )
    return int(vectors[DENSE].size)


def _filter(filters: Filters, ids: Sequence[str] = ()) -> models.Filter:
    terms = keyword_terms(filters)
    must: list[models.Condition] = [
        models.FieldCondition(key=f, match=models.MatchAny(any=v)) for f, v in terms
    ]
    if alternatives := under_terms(filters):
        should = [models.FieldCondition(key=f, match=models.MatchAny(any=v)) for f, v in alternatives]
        must.append(models.Filter(should=should))
    if filters.first_chunks:
        must.append(models.FieldCondition(key=CHUNK_INDEX, match=models.MatchValue(value=0)))
    if filters.visible is not None:
        visible = models.MatchValue(value=filters.visible)
        must.append(models.FieldCondition(key=VISIBLE, match=visible))
    if ids:
        must.append(models.HasIdCondition(has_id=list(ids)))
    return models.Filter(must=must)


_DENSE_PARAMS = models.SearchParams(hnsw_ef=HNSW_EF)


def _fusion(fusion: Fusion) -> models.Query:
    if fusion.method == "rrf":
        return models.RrfQuery(rrf=models.Rrf(k=fusion.rrf_k, weights=list(fusion.rrf_weights)))
    lexical = models.DivExpression(
        div=models.DivParams(
            left=SPARSE_SCORE, right=models.SumExpression(sum=[SPARSE_SCORE, fusion.saturation]), by_zero_default=0.0
        )
    )
    weight = models.SumExpression(
        sum=[
            models.MultExpression(mult=[w, models.FieldCondition(key=KIND, match=models.MatchValue(value=kind))])
            for kind, w in fusion.lexical
        ]
    )
    return models.FormulaQuery(
        formula=models.SumExpression(sum=[DENSE_SCORE, models.MultExpression(mult=[weight, lexical])]),
        defaults={DENSE_SCORE: 0.0, SPARSE_SCORE: 0.0},
    )


def _sparse(vec: SparseVec) -> models.SparseVector:
    return models.SparseVector(indices=list(vec.indices), values=list(vec.values))


def _point(p: PointData) -> models.PointStruct:
    vector: dict[str, Any] = {DENSE: list(p.dense), SPARSE: _sparse(p.sparse)} if p.dense else {}
    return models.PointStruct(id=p.id, vector=vector, payload=p.payload)


_HIT_PAYLOAD = models.PayloadSelectorExclude(exclude=[TOKEN_SIGNS])  # a hit's payload: all but the signature
