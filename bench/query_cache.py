"""The query-vector cache (search/query_cache.py) on a replayed query log: hit rate and search
latency with the cache and without, in one run, on one engine and one index.

    python bench/query_cache.py [--corpus /tmp/eval-public] [--passages 300] [--log 1500]
                                [--pool 400] [--zipf 1.1] [--near 0.3] [--seed 7] [--json OUT]

The log: --pool distinct real queries of the public eval (code and docs interleaved, as
bench/query_latency.py reads them), --log requests drawn from a Zipf distribution over them (the
k-th most asked has weight 1/k^s), and a --near share of those requests rewritten as a person or an
agent retypes them: lower- or upper-cased, spaces doubled, a tab, a trailing space or newline.

Each request is searched twice on the same engine, once with the cache (the default size) and once
with it off (0 entries), in alternating order, so both see the same machine load. The searches are
the engine's own (hybrid, top 8) over --passages passages of the eval corpus ingested as texts.
Printed: hit rate (and what a cache keyed on the exact text would have had), p50/p95/mean of the
whole search, and the queries encoded.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from benchutil import machine, percentile, print_machine, write_json

from groundmcp.engine import Engine
from groundmcp.search.query import SearchRequest
from groundmcp.search.query_cache import QueryCache
from groundmcp.settings import Settings

FALLBACK = ["how are retries backed off", "parse http headers", "where is the config loaded", "json decoder error"]


def load_queries(corpus: Path) -> list[str]:
    lists = []
    for part in ("code", "docs"):
        path = corpus / part / "queries.jsonl"
        if path.is_file():
            lists.append([json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()])
    out = [x[i] for i in range(max((len(x) for x in lists), default=0)) for x in lists if i < len(x)]
    return list(dict.fromkeys(out)) or FALLBACK


def load_passages(corpus: Path, n: int) -> list[tuple[str, str]]:
    docs = []
    for part in ("code", "docs"):
        path = corpus / part / "corpus.jsonl"
        if not path.is_file():
            continue
        with path.open(encoding="utf-8") as f:
            for line in f:
                if len(docs) >= n * (1 + (part == "docs")):
                    break
                rec = json.loads(line)
                docs.append((f"{part}/{rec['_id']}.txt", f"{rec.get('title', '')}\n{rec['text']}".strip()))
    return docs or [(f"q{i}.txt", q) for i, q in enumerate(FALLBACK)]


def retyped(text: str, rng: random.Random) -> str:
    """The same question typed again: another case, or other spacing."""
    change = rng.choice(("lower", "upper", "title", "double", "tab", "trail"))
    if change == "lower":
        return text.lower()
    if change == "upper":
        return text.upper()
    if change == "title":
        return text.title()
    if change == "double":
        return text.replace(" ", "  ")
    if change == "tab":
        return text.replace(" ", "\t", 1)
    return text + rng.choice((" ", "  ", "\n"))


def query_log(pool: list[str], length: int, s: float, near: float, rng: random.Random) -> list[str]:
    weights = [1 / (k ** s) for k in range(1, len(pool) + 1)]
    drawn = rng.choices(pool, weights=weights, k=length)
    return [retyped(q, rng) if rng.random() < near else q for q in drawn]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default="/tmp/eval-public")
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--log", type=int, default=1500)
    parser.add_argument("--pool", type=int, default=400)
    parser.add_argument("--zipf", type=float, default=1.1)
    parser.add_argument("--near", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    corpus = Path(args.corpus)
    pool = load_queries(corpus)[: args.pool]
    log = query_log(pool, args.log, args.zipf, args.near, rng)
    info = machine()
    print_machine(info)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", watch=False)
        engine = Engine(settings)
        try:
            engine.ingest_texts(load_passages(corpus, args.passages), collection="bench")
            engine.encoder.warm_up()  # the fast query path, as a server readies it
            caches = {"cache": QueryCache(settings.query_cache_entries, settings.query_cache_bytes),
                      "no cache": QueryCache(0, 0)}
            for q in pool[:5]:  # warm the store and both paths; not counted
                for cache in caches.values():
                    engine.queries = cache
                    engine.search(SearchRequest(query=q, top_k=8), collection="bench")
            for cache in caches.values():
                cache.hits = cache.misses = cache.encodes = 0
                cache.encode_seconds = 0.0
                cache.clear()
            times: dict[str, list[float]] = {k: [] for k in caches}
            for i, q in enumerate(log):
                order = list(caches) if i % 2 == 0 else list(reversed(caches))
                for k in order:
                    engine.queries = caches[k]
                    started = time.perf_counter()
                    engine.search(SearchRequest(query=q, top_k=8), collection="bench")
                    times[k].append(time.perf_counter() - started)
        finally:
            engine.close()

    seen: set[str] = set()
    exact_hits = 0
    for q in log:
        exact_hits += q.strip() in seen
        seen.add(q.strip())
    distinct = len({q.strip() for q in log})
    print(f"\nlog: {len(log)} searches of {len(pool)} eval queries (Zipf s={args.zipf}), {args.near:.0%} retyped; "
          f"{distinct} distinct texts; {args.passages} passages per part, hybrid, top 8")
    print(f"{'':10} {'hit rate':>9} {'encodes':>8} {'p50 ms':>8} {'p95 ms':>8} {'mean ms':>8}")
    rows = {}
    for k, cache in caches.items():
        st = cache.stats()
        ms = [t * 1000 for t in times[k]]
        rows[k] = {"hit_rate": st.hit_rate, "encodes": st.encodes, "p50_ms": statistics.median(ms),
                   "p95_ms": percentile(ms, 0.95), "mean_ms": statistics.fmean(ms), "folds": st.folds}
        r = rows[k]
        print(f"{k:10} {r['hit_rate']:>9.1%} {r['encodes']:>8} {r['p50_ms']:>8.2f} {r['p95_ms']:>8.2f} {r['mean_ms']:>8.2f}")
    print(f"a cache keyed on the exact text would hit {exact_hits / len(log):.1%}; "
          f"this one folds {rows['cache']['folds']} (checked on the model)")
    write_json(args.json, {"machine": info, "args": vars(args), "rows": rows, "exact_text_hit_rate": exact_hits / len(log)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
