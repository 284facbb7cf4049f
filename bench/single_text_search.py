"""What the single-text path (encoders/onnx_single.py) buys a search, in process: `Engine.search` with
the query encoded on ONNX Runtime against torch, on an existing collection, alternated.

    python bench/single_text_search.py DATASET_DIR --data-dir DIR -c COLLECTION [--queries 150]

The engine's encoder is warmed up (ONNX Runtime) and a traced torch graph of the same model is built
beside it; each query runs once on each, the order flipped every query, with the query-vector cache
emptied before each run, so every search encodes its query. On a collection with token signatures
the late step's query encode (the vector and the tokens) takes the same path. Prints p50 and p90 ms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchutil import alternated_ms, cold_search_ms

from groundmcp.encoders.query_path import trace_bert
from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--queries", type=int, default=150)
    args = ap.parse_args()
    queries = [q.text for q in open_dataset(args.dataset).queries[: args.queries]]
    engine = Engine(Settings(data_dir=args.data_dir))
    encoder = engine.encoder
    encoder.warm_up()
    if encoder.query_path != "onnx":
        raise SystemExit(f"the single-text path is {encoder.query_path!r}, not onnx: nothing to compare")
    bert = encoder._bert
    onnx_path, single = encoder._query_path, bert.single
    bert.single = None  # the trace and its check run on torch
    traced = encoder._query_workers.run(trace_bert, bert, lambda t: encoder._encode([t], is_query=True)[0])
    variants = {"onnx": (onnx_path, single), "torch (traced)": (traced, None)}

    def run(name: str, text: str) -> float:
        encoder._query_path, bert.single = variants[name]
        return cold_search_ms(engine, text, args.collection)

    try:
        alternated_ms(queries, list(variants), run)
    finally:
        engine.close()


if __name__ == "__main__":
    main()
