"""Freshness: how long from a file save to the new text being searchable, and what watching costs.

    python bench/make_tree.py /tmp/fresh-tree-10k --files 10000
    python bench/freshness.py /tmp/fresh-tree-10k [--edits 50] [--idle-s 30] [--data-dir DIR]

The tree is indexed once (into --data-dir, default TREE-index, reused by later runs) with
bench/reingest.py's `BulkEncoder`: MiniLM's name, dimension and tokenizer with hashing vectors, so
the chunks are the real ones without an hour of encoding on a CPU. Then the real MiniLM encoder is
switched in and, in this process, as `groundmcp serve` runs it:

1. a `Watcher` (groundmcp.watch) starts on the collection; the time until its watch is set up;
2. the watching process's CPU (user + system, all threads, from /proc/self/stat) and RSS over
   --idle-s seconds with nothing changing, next to the same span before the watcher started;
3. --edits saves: each appends a function with a new identifier to a different .py file (written
   and closed as an editor does; every fifth one an atomic save, a temporary file renamed over it),
   then searches for that identifier every 20 ms until a hit holds it. Save to searchable, p50 and
   p95, as a user of the server sees it: debounce, the refresh (an ingest limited to the batch's
   paths: read, chunk and encode the changed file with the real model), publication. The refreshes
   are also timed alone, with the time inside the encoder.

The edited files are restored and the index brought back in line at the end.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

from benchutil import machine, percentile, print_machine, rss_mb, write_json
from reingest import BulkEncoder

from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.engine import Engine
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings
from groundmcp.watch import Watcher

COLLECTION = "fresh"
POLL_S = 0.02
TIMEOUT_S = 120.0


def cpu_seconds() -> float:
    """User + system CPU of this process, every thread, from /proc/self/stat (os.times elsewhere)."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        t = os.times()
        return t.user + t.system


def idle(seconds: float) -> dict[str, float]:
    c0, t0 = cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    wall = time.perf_counter() - t0
    used = cpu_seconds() - c0
    return {"seconds": round(wall, 1), "cpu_s": round(used, 3), "cpu_pct": round(100 * used / wall, 2),
            "rss_mb": round(rss_mb(), 1)}


def searchable(engine: Engine, word: str) -> bool:
    hits = engine.search(SearchRequest(query=word, mode="sparse", top_k=3, rerank=False), collection=COLLECTION)
    return any(word in h.text for h in hits)


def save(path: Path, text: str, atomic: bool) -> None:
    if atomic:
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text)
        os.replace(tmp, path)
    else:
        path.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree")
    parser.add_argument("--edits", type=int, default=50)
    parser.add_argument("--idle-s", type=float, default=30.0)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    data_dir = Path(args.data_dir or f"{tree}-index").resolve()
    info = machine()
    print_machine(info)

    bulk = BulkEncoder(SentenceTransformerEncoder())
    engine = Engine(Settings(data_dir=data_dir), encoder=bulk)
    t0 = time.perf_counter()
    built = engine.ingest(str(tree), collection=COLLECTION)
    print(f"index: {built.files_seen} files, {built.chunks} chunks encoded now ({time.perf_counter() - t0:.1f} s; "
          f"{built.unchanged} unchanged)")
    bulk.real = True  # from here on every vector is MiniLM's
    engine.search(SearchRequest(query="warm up", mode="hybrid", top_k=1, rerank=False), collection=COLLECTION)
    dirs = sum(1 for _ in os.walk(tree))
    out: dict = {"bench": "freshness", "machine": info, "tree": str(tree), "files": built.files_seen, "dirs": dirs}

    before = idle(min(args.idle_s, 10.0))
    rss_before = rss_mb()
    t0 = time.perf_counter()
    refreshes_s: list[float] = []  # the watcher's refreshes, timed (the rest is debounce and polling)
    encodes_s: list[float] = []  # of which inside the encoder
    plain_ingest = engine.ingest

    def timed_ingest(*a, **kw):
        t = time.perf_counter()
        report = plain_ingest(*a, **kw)
        refreshes_s.append(time.perf_counter() - t)
        encodes_s.append(report.encode_seconds)
        return report

    engine.ingest = timed_ingest
    watcher = Watcher(engine, skip=[data_dir])
    watcher.start(wait=True)
    watch = watcher.watch(tree)
    assert watch is not None and watch.ready.wait(120), "the watch did not start"
    out["watch_setup_s"] = round(time.perf_counter() - t0, 2)
    out["rss_added_by_watch_mb"] = round(rss_mb() - rss_before, 1)
    print(f"watching {dirs} folders: set up in {out['watch_setup_s']} s, RSS +{out['rss_added_by_watch_mb']} MiB")
    out["idle_without_watcher"] = before
    out["idle_watching"] = idle(args.idle_s)
    print(f"idle, not watching: {before}")
    print(f"idle, watching:     {out['idle_watching']}")

    files = sorted(p for p in tree.rglob("*.py") if p.stat().st_size < 16_000)
    picked = random.Random(args.seed).sample(files, args.edits)
    originals = {p: p.read_text() for p in picked}
    latencies, refreshes = [], watch.batches
    try:
        for i, path in enumerate(picked):
            word = f"freshness_probe_{i}_{random.Random(i).randrange(10**9)}"
            save(path, originals[path] + f"\n\ndef {word}(value):\n    return value\n", atomic=i % 5 == 4)
            t0 = time.perf_counter()
            while not searchable(engine, word):
                if time.perf_counter() - t0 > TIMEOUT_S:
                    sys.exit(f"{word} in {path} was not searchable after {TIMEOUT_S} s")
                time.sleep(POLL_S)
            latencies.append(time.perf_counter() - t0)
            print(f"  edit {i + 1:3d}/{args.edits}: {latencies[-1] * 1000:7.0f} ms  {path.relative_to(tree)}",
                  flush=True)
    finally:
        for path, text in originals.items():
            path.write_text(text)
        deadline = time.perf_counter() + TIMEOUT_S
        while any(searchable(engine, f"freshness_probe_{i}_{random.Random(i).randrange(10**9)}")
                  for i in range(len(latencies))) and time.perf_counter() < deadline:
            time.sleep(0.5)
        watcher.stop()
        engine.close()
    ms = [t * 1000 for t in latencies]
    out["save_to_searchable_ms"] = {"n": len(ms), "p50": round(statistics.median(ms)), "p95": round(percentile(ms, 0.95)),
                                    "min": round(min(ms)), "max": round(max(ms))}
    out["refreshes"] = watch.batches - refreshes
    edits_s = refreshes_s[: out["refreshes"]]
    out["refresh_ingest_ms"] = {"p50": round(statistics.median(edits_s) * 1000), "p95": round(percentile(edits_s, 0.95) * 1000)}
    enc = encodes_s[: out["refreshes"]]
    out["refresh_encode_ms"] = {"p50": round(statistics.median(enc) * 1000), "p95": round(percentile(enc, 0.95) * 1000)}
    print(f"save to searchable over {len(ms)} edits: p50 {out['save_to_searchable_ms']['p50']} ms, "
          f"p95 {out['save_to_searchable_ms']['p95']} ms (min {min(ms):.0f}, max {max(ms):.0f}); "
          f"{out['refreshes']} refreshes (Engine.ingest of the batch): p50 {out['refresh_ingest_ms']['p50']} ms, "
          f"p95 {out['refresh_ingest_ms']['p95']} ms, of which encoding p50 {out['refresh_encode_ms']['p50']} ms, "
          f"p95 {out['refresh_encode_ms']['p95']} ms")
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
