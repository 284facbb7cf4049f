"""What a change bought: two `groundmcp eval` runs of one dataset compared query by query.

    python bench/eval_compare.py BEFORE/results.json AFTER/results.json [--dataset DIR] [--metric ndcg@10]

For each mode both runs hold, and each query group (from the dataset's queries.jsonl when given),
prints the mean before and after, the gain with a 95% paired-bootstrap interval, and the sign test
over the queries whose score moved (groundmcp.eval.report.paired). Runs written before per-query
scores were kept cannot be compared: re-run them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.report import paired, per_query


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("--dataset", type=Path, help="BEIR folder, for the query groups")
    ap.add_argument("--metric", default="ndcg@10")
    args = ap.parse_args()
    before, after = (json.loads(p.read_text(encoding="utf-8")) for p in (args.before, args.after))
    groups: dict[str, str] = {}
    if args.dataset:
        groups = {q.id: q.group for q in open_dataset(args.dataset).queries}
    modes = [m["mode"] for m in after["modes"] if m["mode"] in {b["mode"] for b in before["modes"]}]
    for mode in modes:
        for group in [None, *sorted({g for g in groups.values() if g})]:
            b = per_query(before, mode, args.metric, group, groups)
            a = per_query(after, mode, args.metric, group, groups)
            print(f"{mode:7} {group or 'all':11} {paired(b, a, args.metric).line()}")


if __name__ == "__main__":
    main()
