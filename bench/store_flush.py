"""What the embedded store's periodic flush costs one-note ingests, by collection size: a stream of
one-text `Engine.ingest_texts` calls for `--seconds`, paced like a client (`--pause` between calls),
with the hashing encoder so the figures are the store's and the pipeline's, not the model's. Prints
each size's calls, p50 and mean ms per call, and the flushes that fell on them (count, mean ms).

    PYTHONPATH=src .venv/bin/python bench/store_flush.py [--sizes 100 5000 50000] [--seconds 10] \
        [--intervals 1 5]

The flush runs on the write that finds FLUSH_INTERVAL_S (store/edge.py) passed since the last one,
and that write pays it whole: the mean over p50 is the flush's share of every call. `--intervals`
runs each size with each interval in turn (the shipped one is store/edge.py's).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import groundmcp.store.edge as edge
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.settings import Settings

BATCH = 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", type=int, default=[100, 5000, 50_000])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--pause", type=float, default=0.02, help="seconds between calls, as a client's own work")
    ap.add_argument("--intervals", nargs="*", type=float, default=[edge.FLUSH_INTERVAL_S],
                    help="FLUSH_INTERVAL_S values to run")
    args = ap.parse_args()
    print(f"shipped FLUSH_INTERVAL_S = {edge.FLUSH_INTERVAL_S:g}")
    print("| texts in the collection | flush interval s | calls | p50 ms / call | mean ms / call | flushes "
          "| mean ms / flush |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    flushes: list[float] = []
    plain = edge.EdgeStore._flush

    def timed(self, col) -> None:
        t0 = time.perf_counter()
        plain(self, col)
        flushes.append((time.perf_counter() - t0) * 1000)

    for size, interval in [(size, interval) for size in args.sizes for interval in args.intervals]:
        edge.FLUSH_INTERVAL_S = interval
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(Settings(data_dir=Path(tmp)), encoder=HashingEncoder(dim=384))
            try:
                for start in range(0, size, BATCH):
                    engine.ingest_texts([(f"fill-{i}", f"fill note {i} about topic {i % 97}")
                                         for i in range(start, min(size, start + BATCH))], collection="bench")
                flushes.clear()
                edge.EdgeStore._flush = timed
                times: list[float] = []
                end = time.monotonic() + args.seconds
                while time.monotonic() < end:
                    i = len(times)
                    t0 = time.perf_counter()
                    engine.ingest_texts([(f"new-{i}", f"a new note {i} about release {i % 5}")], collection="bench")
                    times.append((time.perf_counter() - t0) * 1000)
                    time.sleep(args.pause)
            finally:
                edge.EdgeStore._flush = plain
                engine.close()
        per_flush = f"{statistics.fmean(flushes):.1f}" if flushes else "-"
        print(f"| {size:,} | {interval:g} | {len(times)} | {statistics.median(times):.1f} | {statistics.fmean(times):.2f} | "
              f"{len(flushes)} | {per_flush} |", flush=True)


if __name__ == "__main__":
    main()
