"""CLI search latency, process start to exit: the fast path to a warm owner (quick.py), the full CLI
through the same owner, and in process (`--no-owner`, which loads the model in every run), in one
run on the same index.

    python bench/cli_latency.py --runs 10 [--corpus src/groundmcp] [--json out.json]

It ingests --corpus into a fresh data dir (through the owner, which that starts), then times:
  - `groundmcp --version` --runs times: the full CLI's floor (interpreter and its imports);
  - --runs searches as a user types them: the fast path answers (the owner is warm);
  - --runs searches through the full CLI (`python -c "from groundmcp.cli import main; main()"`),
    the same owner: what every search cost before the fast path;
  - --runs searches with --no-owner, after the owner is stopped (the path before the owner).
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


FULL_CLI = ["-c", "import sys; sys.argv[0] = 'groundmcp'; from groundmcp.cli import main; main()"]


def cli(env: dict, *args: str, full: bool = False) -> float:
    """Seconds one `groundmcp` process takes, start to exit; fails loudly on a non-zero exit.
    `full`: the full CLI, never the fast path."""
    start = time.perf_counter()
    entry = FULL_CLI if full else ["-m", "groundmcp"]
    run = subprocess.run([sys.executable, *entry, *args], env=env, capture_output=True, text=True)
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

    def search(i: int, *more: str, full: bool = False) -> float:
        return cli(env, "search", QUERIES[i % len(QUERIES)], "-c", "bench", *more, full=full)

    floor = [cli(env, "--version") for _ in range(args.runs)]
    search(0)  # the owner is warm already (the ingest started it); this loads nothing new
    fast = [search(i) for i in range(args.runs)]
    full = [search(i, full=True) for i in range(args.runs)]
    subprocess.run(stop, env=env, capture_output=True, check=True)
    alone = [search(i, "--no-owner") for i in range(args.runs)]

    rows = {
        "groundmcp --version (the full CLI's floor)": (summary_ms(floor), floor),
        "search, warm owner, fast path": (summary_ms(fast), fast),
        "search, warm owner, full CLI": (summary_ms(full), full),
        "search --no-owner (in process)": (summary_ms(alone), alone),
    }
    print("\n| path | runs | p50 ms | min ms | max ms |\n|---|---:|---:|---:|---:|")
    for name, (s, times) in rows.items():
        print(f"| {name} | {s['n']} | {s['p50_ms']:.0f} | {s['min_ms']:.0f} | {max(times) * 1000:.0f} |")
    speedup = {
        "full_cli_over_fast_path": statistics.median(full) / statistics.median(fast),
        "in_process_over_fast_path": statistics.median(alone) / statistics.median(fast),
    }
    print(f"\np50 ratios: full CLI / fast path {speedup['full_cli_over_fast_path']:.1f}x, "
          f"in process / fast path {speedup['in_process_over_fast_path']:.1f}x")
    write_json(args.json, {"machine": info, "rows": {k: v[0] for k, v in rows.items()}, "speedup_p50": speedup})


if __name__ == "__main__":
    main()
