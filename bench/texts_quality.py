"""Retrieval quality of passages sent as texts (the `ingest` tool's `texts`), next to files.

    .venv/bin/python bench/texts_quality.py /tmp/eval-public/code --data-dir /tmp/texts-q [--mode hybrid]

A memory-style client sends each passage as a text with an id and nothing else: no path, no
language. This ingests every passage of a BEIR dataset that way (`Engine.ingest_texts`, the
tool's own path, in batches), with the passage id as the text's id, then scores each query as
`groundmcp eval` does (nDCG@10, R@10, MRR@10, per query group). Compare with `groundmcp eval` of
the same dataset, which ingests each passage as a file under its real path: the gap is what a
client loses by sending code as text. Before texts were looked at (chunking/detect.py) they were
all chunked and weighted as prose: through MCP that measured 0.4518 against 0.5053 as files.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset, render
from groundmcp.eval.metrics import score_query
from groundmcp.search.query import MAX_TOP_K, SearchRequest
from groundmcp.settings import Settings

BATCH = 500


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("--mode", action="append", default=None)
    ap.add_argument("-c", "--collection", default="texts")
    args = ap.parse_args()
    ds = open_dataset(args.dataset)
    records = [json.loads(line) for line in (args.dataset / "corpus.jsonl").open(encoding="utf-8") if line.strip()]
    ids = {str(r["_id"]) for r in records}
    engine = Engine(Settings(data_dir=args.data_dir))
    try:
        kinds: dict[str, int] = {}
        for i in range(0, len(records), BATCH):
            report = engine.ingest_texts([(str(r["_id"]), render(r)) for r in records[i : i + BATCH]],
                                         collection=args.collection)
            print(f"ingested {min(i + BATCH, len(records))}/{len(records)} ({report.chunks} chunks)", flush=True)
        print(f"{ds.name}: {len(records)} passages sent as texts (id only), {len(ds.queries)} queries\n")
        print("| mode | nDCG@10 | R@10 | MRR@10 | " + " | ".join(f"nDCG@10 {g}" for g in sorted({q.group for q in ds.queries if q.group})) + " |")
        groups = sorted({q.group for q in ds.queries if q.group})
        print("|---|---:|---:|---:|" + "---:|" * len(groups))
        for mode in args.mode or ["dense", "sparse", "hybrid"]:
            per: list[tuple[str, dict]] = []
            for q in ds.queries:
                hits = engine.search(SearchRequest(q.text, top_k=MAX_TOP_K, mode=mode), collection=args.collection)
                ranked: list[str] = []
                for h in hits:
                    pid = h.path if h.path in ids else h.path.rsplit(".", 1)[0]
                    if pid in ids and pid not in ranked:
                        ranked.append(pid)
                    if h.language:
                        kinds[h.language] = kinds.get(h.language, 0) + 1
                per.append((q.group, score_query(ranked, ds.qrels[q.id])))

            def avg(rows: list[dict], key: str) -> float:
                return statistics.mean(r[key] for r in rows)

            rows = [s for _, s in per]
            by = [avg([s for g, s in per if g == grp], "ndcg@10") for grp in groups]
            print(f"| {mode} | {avg(rows, 'ndcg@10'):.4f} | {avg(rows, 'recall@10'):.4f} | {avg(rows, 'mrr@10'):.4f} | "
                  + " | ".join(f"{x:.4f}" for x in by) + " |", flush=True)
        print(f"\nlanguages of the hits: {dict(sorted(kinds.items(), key=lambda kv: -kv[1]))}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
