"""One text per ingest call, as a memory-style client sends notes: per-call time at a small and a
large collection, through Engine.ingest_texts on the embedded store.

    python bench/texts_ingest.py [--sizes 100 20000] [--calls 30] [--encoder hashing|bundled]

For each size, a fresh collection is filled with that many one-chunk texts (in batches of 1,000),
then `--calls` single new texts are ingested one call at a time; prints p50 and p90 ms per call and
the points each call's manifest read (counted on the real store). The hashing encoder (the default)
keeps the model's cost out, so what is left is the work of the call itself; `bundled` measures what
a client waits for with the shipped MiniLM. Run it with an older checkout on PYTHONPATH to compare.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from groundmcp.engine import Engine
from groundmcp.settings import Settings

BATCH = 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="*", type=int, default=[100, 20_000])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--encoder", choices=("hashing", "bundled"), default="hashing")
    args = ap.parse_args()
    if args.encoder == "hashing":
        from groundmcp.encoders.hashing import HashingEncoder

        encoder = HashingEncoder(dim=384)
    else:
        encoder = None
    print("| texts in the collection | chunks | p50 ms / call | p90 ms / call | fill s |")
    print("|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        with tempfile.TemporaryDirectory() as tmp:
            engine = Engine(Settings(data_dir=Path(tmp)), **({"encoder": encoder} if encoder else {}))
            try:
                t0 = time.perf_counter()
                for start in range(0, size, BATCH):
                    docs = [(f"fill-{i}", f"fill note {i}: the meeting about topic {i % 97} moved to room {i % 13}")
                            for i in range(start, min(size, start + BATCH))]
                    engine.ingest_texts(docs, collection="bench")
                fill = time.perf_counter() - t0
                times = []
                for i in range(args.calls):
                    t0 = time.perf_counter()
                    engine.ingest_texts([(f"new-{i}", f"a new note {i} about release {i % 5}")], collection="bench")
                    times.append((time.perf_counter() - t0) * 1000)
                chunks = engine.chunk_count("bench")
            finally:
                engine.close()
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(f"| {size:,} | {chunks:,} | {statistics.median(times):.1f} | {p90:.1f} | {fill:.1f} |", flush=True)


if __name__ == "__main__":
    main()
