"""What the late step of hybrid search (search/late.py) costs a query, in process, on an eval
collection with token signatures: the same queries with and without it, alternated.

    python bench/late_latency.py DATASET_DIR --data-dir DIR -c COLLECTION [--queries 150] [--top-k 10]

Each query runs once in each variant, the order flipped every query, with the query-vector cache
(which keeps the query's tokens too) emptied before each run, so every search encodes its query
(the usual first search of a question). "without" is the search as it was before: the traced query
path and no re-ordering. Prints p50 and p90 ms of `Engine.search` for each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchutil import alternated_ms, cold_search_ms

from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.search import late
from groundmcp.search import query as search_query
from groundmcp.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--queries", type=int, default=150)
    ap.add_argument("--top-k", type=int, default=10)
    args = ap.parse_args()
    queries = [q.text for q in open_dataset(args.dataset).queries[: args.queries]]
    engine = Engine(Settings(data_dir=args.data_dir))
    engine.encoder.warm_up()
    variants = {
        "with the late step": (late.late_ordered, late.query_inputs),
        "without": (lambda store, encoder, name, query, vector, hits, tokens=None: hits,
                    lambda encoder, query: (encoder.encode_query(query), None)),
    }

    def run(name: str, text: str) -> float:
        search_query.late_ordered, search_query.late_query_inputs = variants[name]
        return cold_search_ms(engine, text, args.collection, args.top_k)

    try:
        alternated_ms(queries, list(variants), run)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
