"""CLI search latency as a user sees it (process start included): through a warm owner, and
in process (`--no-owner`, which loads the model in every run), in one run on the same index.

    python bench/cli_latency.py [--runs 10] [--corpus src/groundmcp] [--data-dir DIR] [--json OUT]

The corpus is ingested once into --data-dir (default: a temporary folder; a given one is reused).
Then, each as a subprocess `python -m groundmcp search QUERY -c bench`:
  - the first search, which starts the owner (its model load included);
  - --runs searches through the warm owner;
  - --runs searches with --no-owner, after the owner is stopped (today's path before the owner);
and `groundmcp --version` --runs times, the floor any CLI command pays (interpreter, imports).
The queries cycle through a fixed list, the same for both paths.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import REPO, machine, print_machine, summary_ms, write_json

QUERIES = [
    "how are retries backed off",
    "collection name validation",
    "parse the search request",
    "watch files for changes",
    "bearer token authentication",
]


def cli(env: dict, *args: str) -> float:
    """Seconds one `groundmcp` process takes, start to exit; fails loudly on a non-zero exit."""
    start = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "groundmcp", *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"groundmcp {' '.join(args)} failed ({run.returncode}): {run.stderr.strip()}")
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--corpus", type=Path, default=REPO / "src" / "groundmcp")
    ap.add_argument("--data-dir", type=Path)
    ap.add_argument("--json")
    args = ap.parse_args()

    info = machine()
    print_machine(info)
    data = args.data_dir or Path(tempfile.mkdtemp(prefix="gm-cli-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_WATCH="0")
    stop = [sys.executable, "-m", "groundmcp", "owner", "--stop"]
    subprocess.run(stop, env=env, capture_output=True, check=False)  # a reused dir's old owner
    took = cli(env, "ingest", str(args.corpus), "-c", "bench")
    print(f"ingest {args.corpus} into {data}: {took:.1f} s")

    def search(i: int, *more: str) -> float:
        return cli(env, "search", QUERIES[i % len(QUERIES)], "-c", "bench", *more)

    floor = [cli(env, "--version") for _ in range(args.runs)]
    cold = search(0)  # starts the owner; the model loads in it
    warm = [search(i) for i in range(args.runs)]
    subprocess.run(stop, env=env, capture_output=True, check=True)
    alone = [search(i, "--no-owner") for i in range(args.runs)]

    rows = {
        "groundmcp --version (floor)": summary_ms(floor),
        "search, warm owner": summary_ms(warm),
        "search --no-owner (in process)": summary_ms(alone),
    }
    print(f"\nfirst search, starting the owner: {cold * 1000:.0f} ms")
    print("\n| path | runs | p50 ms | min ms | max ms |\n|---|---:|---:|---:|---:|")
    for name, s, times in zip(rows, rows.values(), (floor, warm, alone), strict=True):
        print(f"| {name} | {s['n']} | {s['p50_ms']:.0f} | {s['min_ms']:.0f} | {max(times) * 1000:.0f} |")
    speedup = statistics.median(alone) / statistics.median(warm)
    print(f"\nin process / warm owner, p50: {speedup:.1f}x")
    write_json(args.json, {"machine": info, "cold_owner_ms": cold * 1000, "rows": rows, "speedup_p50": speedup})


if __name__ == "__main__":
    main()
