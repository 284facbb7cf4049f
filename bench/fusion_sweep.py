"""Which hybrid fusion ranks best? nDCG@10 of the score formula and of weighted RRF over an eval collection.

    python bench/fusion_sweep.py DATASET_DIR [--data-dir DIR] [--code 0.5 1] [--doc 0 0.05] [--saturation 15]
                                 [--weights 1,1 1,0.5] [--k 60 20]

Run `groundmcp eval DATASET_DIR` first (same data dir): this reuses the collection it built, so it
searches exactly the index the real pipeline wrote. Queries are encoded once; each configuration
then costs only the store queries. Prints one row per configuration, plus dense and sparse alone.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.metrics import score_query
from groundmcp.eval.runner import collection_name
from groundmcp.search.query import PREFETCH
from groundmcp.settings import Settings
from groundmcp.sparse import query_vector
from groundmcp.store.base import Fusion


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--code", nargs="*", type=float, default=[0.5, 1.0], help="lexical weight of code chunks")
    ap.add_argument("--doc", nargs="*", type=float, default=[0.0, 0.05, 0.1], help="lexical weight of prose chunks")
    ap.add_argument("--saturation", nargs="*", type=float, default=[15.0])
    ap.add_argument("--weights", nargs="*", default=["1,1", "1,0.5"], help="RRF weights dense,sparse")
    ap.add_argument("--k", nargs="*", type=int, default=[60])
    ap.add_argument("--prefetch", nargs="*", type=int, default=[PREFETCH])
    args = ap.parse_args()

    settings = Settings(**({"data_dir": args.data_dir} if args.data_dir else {}))
    engine = Engine(settings)
    ds = open_dataset(args.dataset)
    name = collection_name(ds, engine)
    engine.store.info(name)  # fails clearly when `groundmcp eval` has not built it
    dense = engine.encoder.encode_queries([q.text for q in ds.queries])
    sparse = [query_vector(q.text) for q in ds.queries]
    groups = sorted({q.group for q in ds.queries if q.group})

    def run(mode: str, fusion: Fusion = Fusion(), prefetch: int = PREFETCH) -> tuple[float, dict[str, float]]:
        per: list[tuple[str, float]] = []
        for q, dv, sv in zip(ds.queries, dense, sparse, strict=True):
            m = mode if (mode != "hybrid" or sv.indices) else "dense"
            if m == "sparse" and not sv.indices:
                per.append((q.group, 0.0))
                continue
            hits = engine.store.query(
                name, dense=dv.tolist() if m != "sparse" else None, sparse=sv if m != "dense" else None,
                mode=m, limit=100, prefetch_limit=prefetch, fusion=fusion,
            )
            hits = sorted(hits, key=lambda h: (-h.score, h.id))
            ranked: list[str] = []
            for h in hits:
                pid = ds.passage_of.get(h.payload.get("path"))
                if pid is not None and pid not in ranked:
                    ranked.append(pid)
            per.append((q.group, score_query(ranked, ds.qrels[q.id])["ndcg@10"]))
        return statistics.mean(s for _, s in per), {
            g: statistics.mean(s for g2, s in per if g2 == g) for g in groups
        }

    print(f"{ds.name}: {len(ds.queries)} queries, collection {name}\n")
    print("| configuration | nDCG@10 | " + " | ".join(groups) + " |")
    print("|---|---:|" + "---:|" * len(groups))

    def row(label: str, result) -> None:
        overall, by = result
        print(f"| {label} | {overall:.4f} | " + " | ".join(f"{by[g]:.4f}" for g in groups) + " |", flush=True)

    row("dense", run("dense"))
    row("sparse", run("sparse"))
    for k in args.k:
        for w in args.weights:
            d, s = (float(x) for x in w.split(","))
            row(f"RRF k={k}, weights dense {d:g} : sparse {s:g}", run("hybrid", Fusion("rrf", rrf_k=k, rrf_weights=(d, s))))
    for sat in args.saturation:
        for wc in args.code:
            for wd in args.doc:
                for p in args.prefetch:
                    fusion = Fusion(lexical=(("code", wc), ("doc", wd)), saturation=sat)
                    row(f"formula: lexical weight code {wc:g}, doc {wd:g}, saturation {sat:g}, prefetch {p}",
                        run("hybrid", fusion, p))
    engine.close()


if __name__ == "__main__":
    main()
