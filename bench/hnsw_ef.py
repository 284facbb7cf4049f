"""The HNSW beam at query time (`hnsw_ef`): store-query latency and recall@10 against exact search.

    python bench/query_latency.py --data-dir /tmp/bench-query-data --sizes 100000 ...   # builds bench100k
    python bench/hnsw_ef.py --data-dir /tmp/bench-query-data [--collection bench100k] [--queries 200]

On a collection query_latency.py built (and optimized), real eval queries (code and docs,
interleaved) are encoded once, then each row runs the store query alone (no encode, no MCP):
dense at exact search and at several `hnsw_ef`, and hybrid at the shipped setting and at a smaller
beam. Recall@10 is the overlap of a row's dense top 10 with the exact top 10. The shipped beam is
`store.common.HNSW_EF`; the docs eval (below EXACT_SEARCH_MAX_POINTS) searches exactly and is not
affected by it.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import qdrant_edge as qe
from benchutil import machine, print_machine, write_json
from query_latency import load_queries

from groundmcp.engine import Engine
from groundmcp.settings import Settings
from groundmcp.sparse import query_vector
from groundmcp.store import edge
from groundmcp.store.base import Filters
from groundmcp.store.common import HNSW_EF


def run(store, name: str, mode: str, vectors, sparse, params) -> tuple[float, list[list[str]]]:
    """p50 ms of the store query, and each query's hit ids; `params` is what the dense leg gets."""
    saved = edge._DENSE_PARAMS
    edge._DENSE_PARAMS = params
    try:
        times, ids = [], []
        for dense, sp in zip(vectors, sparse, strict=True):
            t0 = time.perf_counter()
            hits = store.query(name, dense=dense if mode != "sparse" else None, sparse=sp if mode != "dense" else None,
                               mode=mode, limit=10, filters=Filters(visible=True))
            times.append(time.perf_counter() - t0)
            ids.append([h.id for h in hits])
        return statistics.median(times) * 1000, ids
    finally:
        edge._DENSE_PARAMS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True)
    parser.add_argument("--collection", default="bench100k")
    parser.add_argument("--corpus", default="/tmp/eval-public")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--efs", default="64,128,192,256,512")
    parser.add_argument("--json")
    args = parser.parse_args()
    info = machine()
    print_machine(info)
    engine = Engine(Settings(data_dir=Path(args.data_dir)))
    store, name = engine.store, args.collection
    # Below the exact-search threshold the store ignores hnsw_ef: this bench needs an HNSW collection.
    edge.EXACT_SEARCH_MAX_POINTS = -1
    queries = load_queries(Path(args.corpus))[: args.queries]
    vectors = [[float(x) for x in engine.encoder.encode_query(q)] for q in queries]
    sparse = [query_vector(q) for q in queries]
    print(f"{name}: {store.count(name)} points, {len(queries)} queries")
    _, exact = run(store, name, "dense", vectors, sparse, qe.SearchParams(exact=True))
    rows = []
    plan = [("dense", "exact", qe.SearchParams(exact=True))]
    plan += [("dense", f"ef {ef}", qe.SearchParams(hnsw_ef=int(ef))) for ef in args.efs.split(",")]
    plan += [("hybrid", f"ef {ef}", qe.SearchParams(hnsw_ef=ef)) for ef in (128, HNSW_EF)]
    for mode, label, params in plan:
        ms, ids = run(store, name, mode, vectors, sparse, params)
        recall = statistics.fmean(len(set(a) & set(b)) / 10 for a, b in zip(ids, exact, strict=True)) if mode == "dense" else None
        shipped = " (shipped)" if params.hnsw_ef == HNSW_EF else ""
        shown = f"recall@10 vs exact {recall:.4f}" if recall is not None else ""
        print(f"  {mode:7s} {label:8s} store query p50 {ms:6.2f} ms  {shown}{shipped}")
        rows.append({"mode": mode, "setting": label, "p50_ms": ms, "recall_at_10": recall})
    engine.close()
    write_json(args.json, {"bench": "hnsw_ef", "machine": info, "collection": name, "rows": rows})


if __name__ == "__main__":
    main()
