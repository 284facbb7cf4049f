"""Run a dataset through the real pipeline and the real search, once per mode, and score it."""

from __future__ import annotations

import dataclasses
import hashlib
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

from ..chunking import CHUNK_SCHEME
from ..engine import Engine
from ..errors import InputError
from ..ingest.report import IngestProgress
from ..search.query import MAX_TOP_K, SearchHit, SearchRequest
from .dataset import Dataset
from .metrics import mean, score_query

MODES = ("dense", "sparse", "hybrid", "hybrid+rerank")
RERANK_TOP_K = 10  # what a client asks for; the reranker re-orders the first stage's candidates
DISTINCT = 100  # passages ranked for R@100 (a passage may have several chunks among the top 100)


@dataclass(slots=True)
class ModeResult:
    mode: str
    overall: dict[str, float | None]
    groups: dict[str, dict[str, float | None]]
    latency_ms_p50: float
    latency_ms_p99: float
    # query id -> its scores, for paired comparisons of two runs (report.compare)
    per_query: dict[str, dict[str, float | None]] = field(default_factory=dict)


@dataclass(slots=True)
class EvalResult:
    dataset: str
    collection: str
    model: str
    passages: int
    queries: int
    chunks: int
    ingest: dict
    modes: list[ModeResult] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def collection_name(ds: Dataset, engine: Engine) -> str:
    """One collection per corpus, model, chunker and chunk size, so a second run reuses the first's
    index and a changed chunker gets a fresh one."""
    s = engine.settings
    key = f"{ds.digest}\0{s.model}\0{s.chunk_tokens}\0{s.chunk_overlap}\0{CHUNK_SCHEME}"
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "-", ds.name).strip("-.")[:32] or "data"
    return f"eval-{slug}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def run_eval(
    engine: Engine,
    ds: Dataset,
    modes: Sequence[str] = MODES,
    *,
    collection: str | None = None,
    on_ingest: Callable[[IngestProgress], None] | None = None,
    on_query: Callable[[str, int, int], None] | None = None,
) -> EvalResult:
    """Ingest the corpus (incrementally: a reused collection encodes nothing new), then score each mode."""
    unknown = [m for m in modes if m not in MODES]
    if unknown:
        raise InputError(f"unknown eval mode(s) {', '.join(unknown)}: choose from {', '.join(MODES)}")
    name = collection or collection_name(ds, engine)
    report = engine.ingest_source(ds.docs, ds.load, collection=name, progress=on_ingest)
    engine.optimize_if_large(name)  # as `groundmcp ingest` does: search what users search
    result = EvalResult(
        dataset=ds.name,
        collection=name,
        model=engine.settings.model,
        passages=len(ds.docs),
        queries=len(ds.queries),
        chunks=engine.chunk_count(name),
        ingest={
            "passages_encoded": len(report.added) + len(report.changed),
            "passages_unchanged": report.unchanged,
            "passages_skipped": len(report.skipped),
            "chunks_encoded": report.chunks,
            "tokens_encoded": report.tokens,
            "seconds": round(report.seconds, 1),
            "encode_seconds": round(report.encode_seconds, 1),
        },
    )
    for mode in modes:
        result.modes.append(_run_mode(engine, ds, name, mode, on_query))
    return result


def _run_mode(engine, ds: Dataset, name: str, mode: str, on_query) -> ModeResult:
    rerank = mode.endswith("+rerank")
    base = mode.removesuffix("+rerank")
    per_query: list[tuple[str, dict[str, float]]] = []
    by_id: dict[str, dict[str, float | None]] = {}
    latencies: list[float] = []
    for n, q in enumerate(ds.queries, 1):
        request = SearchRequest(q.text, top_k=RERANK_TOP_K if rerank else MAX_TOP_K, mode=base, rerank=rerank)
        t0 = time.perf_counter()
        try:
            hits = engine.search(request, collection=name)
        except InputError:
            hits = []  # e.g. a query of stop words only in sparse mode: nothing found, scored as a miss
        latencies.append((time.perf_counter() - t0) * 1000)
        ranked = _passages(ds, hits)
        if not rerank and len(ranked) < DISTINCT and len(hits) == request.top_k:
            ranked = _deeper(engine, ds, name, request, ranked)
        scores = score_query(ranked, ds.qrels[q.id])
        if rerank:
            scores["recall@100"] = None  # only the top RERANK_TOP_K come back reranked
        per_query.append((q.group, scores))
        by_id[q.id] = {k: (None if v is None else round(v, 4)) for k, v in scores.items()}
        if on_query:
            on_query(mode, n, len(ds.queries))
    groups = sorted({g for g, _ in per_query if g})
    latencies.sort()
    return ModeResult(
        mode=mode,
        overall=_mean([s for _, s in per_query]),
        groups={g: _mean([s for g2, s in per_query if g2 == g]) for g in groups} if len(groups) > 1 else {},
        latency_ms_p50=round(statistics.median(latencies), 2),
        latency_ms_p99=round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 2),
        per_query=by_id,
    )


def _passages(ds: Dataset, hits: Sequence[SearchHit]) -> list[str]:
    """Passage ids best first; a passage's rank is its best chunk's."""
    ranked: dict[str, None] = {}
    for h in hits:
        pid = ds.passage_of.get(h.path)
        if pid is not None:
            ranked.setdefault(pid)
    return list(ranked)


def _deeper(engine: Engine, ds: Dataset, name: str, request: SearchRequest, ranked: list[str]) -> list[str]:
    """`ranked` (the passages of the client's top 100 chunks, kept as they are so nDCG@10 is what a
    client sees) followed by the next passages of deeper searches, until DISTINCT passages are
    ranked or the collection has no more chunks: R@100 counts 100 passages, not 100 chunks."""
    depth = request.top_k
    seen = dict.fromkeys(ranked)
    while len(seen) < DISTINCT:
        depth *= 2
        deeper = dataclasses.replace(request, top_k=depth, depth=depth)
        try:
            hits = engine.search(deeper, collection=name)
        except InputError:
            break
        for pid in _passages(ds, hits):
            seen.setdefault(pid)
        if len(hits) < depth:
            break  # the collection is exhausted
    return list(seen)[:DISTINCT]


def _mean(rows: list[dict]) -> dict[str, float | None]:
    keep = {k for k in rows[0] if rows[0][k] is not None}
    full = mean([{k: (v if v is not None else 0.0) for k, v in r.items()} for r in rows])
    return {k: (round(v, 4) if k in keep else None) for k, v in full.items()}
