"""Search with and without the identifier lift (search/lift.py) on one eval set, in one run of one
engine: the same collection, the same query-vector cache, the lift switched per pass.

    .venv/bin/python bench/search_lift.py /tmp/eval-public/code --data-dir /tmp/lift-data [-c eval-code]

Prints nDCG@10 / R@10 / MRR@10 per mode for each variant, the queries whose score moved, and how
many queries hold an identifier. `--variant top` also measures lifting every definition found to
the top, sentences included (the rule the module rejected), to show why.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.runner import run_eval
from groundmcp.search import lift
from groundmcp.settings import Settings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--mode", action="append", default=None)
    ap.add_argument("--variant", action="append", default=None, help="off, on, top (default: off on top)")
    ap.add_argument("-c", "--collection", default=None, help="an eval collection to reuse (default: the eval's own name)")
    args = ap.parse_args()
    modes = args.mode or ["dense", "sparse", "hybrid"]
    ds = open_dataset(args.dataset)
    with_ids = sum(bool(lift.identifiers(q.text)) for q in ds.queries)
    naming = sum(bool((n := lift.identifiers(q.text)) and lift.names_the_query(q.text, n)) for q in ds.queries)
    print(f"{len(ds.queries)} queries, {with_ids} hold an identifier, {naming} name one (few other words)")
    engine = Engine(Settings(data_dir=args.data_dir))
    results: dict[str, dict] = {}
    keep = lift.MAX_OTHER_WORDS
    try:
        for variant in args.variant or ["off", "on", "top"]:
            engine.lift_definitions = variant != "off"
            lift.MAX_OTHER_WORDS = 10_000 if variant == "top" else keep
            r = run_eval(engine, ds, modes, collection=args.collection)
            results[variant] = {m.mode: m for m in r.modes}
            for m in r.modes:
                print(f"{variant:4} {m.mode:7} nDCG@10 {m.overall['ndcg@10']:.4f}  R@10 {m.overall['recall@10']:.4f}  "
                      f"MRR@10 {m.overall['mrr@10']:.4f}  p50 {m.latency_ms_p50:.1f} ms", flush=True)
    finally:
        lift.MAX_OTHER_WORDS = keep
        engine.close()
    base = results.get("off")
    if base:
        for variant, by_mode in results.items():
            if variant == "off":
                continue
            for mode, m in by_mode.items():
                b = base[mode].per_query
                up = sum((m.per_query[q]["ndcg@10"] or 0) > (b[q]["ndcg@10"] or 0) for q in b)
                down = sum((m.per_query[q]["ndcg@10"] or 0) < (b[q]["ndcg@10"] or 0) for q in b)
                print(json.dumps({"variant": variant, "mode": mode, "queries_up": up, "queries_down": down}))


if __name__ == "__main__":
    main()
