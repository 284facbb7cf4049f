"""Search latency over MCP at 10k and 100k chunks: stdio and Streamable HTTP, per mode, with and
without rerank, p50/p99; and where the time goes, measured in process on the same index.

    python bench/query_latency.py [--sizes 10000,100000] [--real 4000] [--calls 100] [--rerank-calls 5]
                                  [--data-dir DIR] [--json OUT]

A first run encodes 4,000 texts (minutes on a small CPU; cached) and builds both collections
(about 3 minutes); with --data-dir a later run reuses them and takes about 10 minutes on 2 cores.

Encoding 100k chunks with MiniLM takes hours on a small CPU, so the collections are built through
the store API, not by `ingest`:
  - texts: real ones. The public eval corpus (/tmp/eval-public, code and docs passages, named and
    rendered as `groundmcp eval` does), then 40-line windows of the .py/.md/.rst files of this
    interpreter's site-packages, until there are as many texts as points;
  - sparse vectors: the real BM25 vector of each point's own text (groundmcp.sparse);
  - dense vectors: the first --real texts are encoded with the bundled MiniLM (cached on disk under
    --cache); every other point gets a real vector mixed with a second real vector (weight 0.35)
    and Gaussian noise (norm about 0.35), normalised: about 0.88 cosine to its base, so the
    collection is real vectors and their neighbours, not uniform noise. A point's dense vector is
    therefore not its own text's;
  - payloads: the fields ingest writes, every point published (visible).
Collections at or over engine.OPTIMIZE_MIN_POINTS are optimized (HNSW built), as `groundmcp ingest`
leaves them; smaller ones are left as ingest leaves them (exact search). Built collections stay in
--data-dir (default: a temporary folder) and are reused when their size matches.

Queries are the public eval's real queries (code and docs, interleaved), so no two calls in a row
repeat. The servers are `groundmcp serve` subprocesses driven by the MCP SDK client (as
bench/mcp_latency.py does), one per transport, all rows against the same server; each row starts
with a few warm-up calls. Before the servers start, the same searches run in this process with a
breakdown: query encode, sparse vector, collection info, the store query, the engine's whole
search, and the tool's result shaping; MCP overhead is the difference from the MCP p50. Each
transport also gets a row of `prompts/list` calls (a JSON-RPC round trip with nothing behind it;
the server answers `ping` with "Method not found"), and every MCP row reports the
CPU time per call of the server process and of this client: on a shared machine those are steadier
than wall times, which include waiting for a core.

Torch's intra-op threads: on a small, shared CPU the default (one per core) makes single-query
encodes stall now and then for hundreds of ms (an OpenMP team waits for a descheduled thread). Since
the fast query path the encoder runs single queries on its own one-thread workers; the rows without
rerank can still be measured again with servers started with OMP_NUM_THREADS=1 (which also slows
document encoding), and query encode alone is timed in a grid: the normal path on the calling thread
with torch's default threads and with one, and `encode_query`, per precision. --no-one-thread skips
the OMP_NUM_THREADS=1 rows.

The code measured is the one Python imports: run with PYTHONPATH=OTHER/src to measure another
checkout with this script (it adapts to code from before the fast query path); the servers inherit
PYTHONPATH.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import os
import random
import statistics
import sys
import sysconfig
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
from benchutil import machine, print_machine, summary_ms, write_json

from groundmcp.collection_meta import open_or_create
from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.engine import OPTIMIZE_MIN_POINTS, Engine
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings
from groundmcp.sparse import document_vector, query_vector
from groundmcp.store.base import Filters, PointData
from groundmcp.store.factory import open_store

WINDOW_LINES = 40
MIX_WEIGHT = 0.35
NOISE_NORM = 0.35
FALLBACK_QUERIES = [
    "how are changed files re-ingested incrementally",
    "bearer token authentication",
    "split identifiers at camelCase",
    "token budget for search results",
    "parse http response headers",
    "reciprocal rank fusion of dense and sparse",
]


# -- the corpus ------------------------------------------------------------------------------


def _payload(path: str, text: str, *, language: str, kind: str, symbol: str, start: int, end: int, index: int) -> dict:
    parts = path.split("/")
    digest = hashlib.sha256(path.encode()).hexdigest()
    return {
        "root": "/bench",
        "path": path,
        "dirs": ["/".join(parts[:n]) for n in range(1, len(parts))],
        "ext": ("." + parts[-1].rsplit(".", 1)[1].lower()) if "." in parts[-1] else "",
        "language": language,
        "kind": kind,
        "symbol": symbol,
        "start_line": start,
        "end_line": end,
        "page": None,
        "header": "",
        "text": text,
        "chunk_index": index,
        "file_hash": digest,
        "file_size": len(text),
        "file_mtime_ns": 0,
        "visible": True,
    }


def eval_passages(corpus: Path) -> list[dict]:
    """The public eval's passages (code and docs interleaved), as payloads."""
    from benchutil import eval_doc_names

    from groundmcp.eval.dataset import render

    lists = []
    for part in ("code", "docs"):
        path = corpus / part / "corpus.jsonl"
        if not path.is_file():
            continue
        rows = []
        records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
        for name, r in zip(eval_doc_names(records), records, strict=True):
            meta = r.get("metadata") or {}
            text = render(r)
            kind = "code" if part == "code" else "doc"
            rows.append(_payload(
                name, text, language=str(meta.get("language") or ""), kind=kind,
                symbol=str(meta.get("symbol") or r.get("title") or ""),
                start=int(meta.get("start_line") or 1), end=int(meta.get("end_line") or text.count("\n") + 1), index=0,
            ))
        random.Random(0).shuffle(rows)
        lists.append(rows)
    out = []
    for i in range(max((len(x) for x in lists), default=0)):
        out.extend(x[i] for x in lists if i < len(x))
    return out


def site_windows(need: int) -> list[dict]:
    """40-line windows of site-packages' .py/.md/.rst files, in path order, as payloads."""
    base = Path(sysconfig.get_paths()["purelib"])
    out: list[dict] = []
    for path in sorted(p for ext in ("*.py", "*.md", "*.rst") for p in base.rglob(ext)):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (UnicodeDecodeError, OSError):
            continue
        rel = "site-packages/" + path.relative_to(base).as_posix()
        language, kind = ("python", "code") if path.suffix == ".py" else (path.suffix[1:], "doc")
        for i, start in enumerate(range(0, len(lines), WINDOW_LINES)):
            window = lines[start : start + WINDOW_LINES]
            if sum(1 for line in window if line.strip()) < 3:
                continue
            out.append(_payload(rel, "\n".join(window), language=language, kind=kind, symbol="",
                                start=start + 1, end=start + len(window), index=i))
            if len(out) >= need:
                return out
    return out


def text_pool(corpus: Path, size: int) -> list[dict]:
    pool = eval_passages(corpus)[:size]
    if len(pool) < size:
        pool += site_windows(size - len(pool))
    if len(pool) < size:  # repeat, as a last resort (the doc says so when it happens)
        pool = [pool[i % len(pool)] for i in range(size)]
    return pool


def real_vectors(encoder, texts: list[str], cache: Path) -> np.ndarray:
    key = hashlib.sha256((encoder.name + "\0" + "\0".join(texts)).encode()).hexdigest()[:16]
    path = cache / f"vectors-{key}.npy"
    if path.is_file():
        print(f"real vectors: {len(texts)} from the cache {path}")
        return np.load(path)
    t0 = time.perf_counter()
    vectors = encoder.encode_documents(texts)
    print(f"real vectors: encoded {len(texts)} texts in {time.perf_counter() - t0:.1f} s (cached in {path})")
    cache.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def dense_vectors(real: np.ndarray, count: int, seed: int = 0) -> np.ndarray:
    """`count` vectors: the real ones, then real ones mixed with another and noise, normalised."""
    rng = np.random.default_rng(seed)
    n, dim = real.shape
    if count <= n:
        return real[:count]
    extra = count - n
    base = real[np.arange(extra) % n]
    other = real[rng.integers(0, n, extra)]
    noise = rng.standard_normal((extra, dim)).astype(np.float32) * (NOISE_NORM / np.sqrt(dim))
    mixed = base + MIX_WEIGHT * other + noise
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return np.concatenate([real, mixed.astype(np.float32)])


def build(store, name: str, encoder, pool: list[dict], vectors: np.ndarray) -> dict:
    """Create `name` with len(pool) points; optimize it as the CLI would. Returns timings."""
    if name in store.list_collections():
        if store.info(name).points == len(pool):
            print(f"{name}: {len(pool)} points, reused")
            return {"reused": True}
        store.delete_collection(name)
    open_or_create(store, name, encoder, create=True)
    t0 = time.perf_counter()
    batch: list[PointData] = []
    for i, payload in enumerate(pool):
        pid = str(uuid.uuid5(uuid.NAMESPACE_URL, f"bench/{name}/{i}"))
        batch.append(PointData(pid, vectors[i].tolist(), document_vector(payload["text"]), payload))
        if len(batch) == 512:
            store.upsert(name, batch)
            batch = []
    if batch:
        store.upsert(name, batch)
    write_s = time.perf_counter() - t0
    optimize_s = None
    if len(pool) >= OPTIMIZE_MIN_POINTS:
        t0 = time.perf_counter()
        store.optimize(name)
        optimize_s = time.perf_counter() - t0
    print(
        f"{name}: {len(pool)} points written in {write_s:.1f} s (sparse vectors included)"
        + (f", optimized (HNSW) in {optimize_s:.1f} s" if optimize_s is not None else ", not optimized (under OPTIMIZE_MIN_POINTS, as ingest leaves it)")
    )
    return {"reused": False, "write_s": write_s, "optimize_s": optimize_s}


def load_queries(corpus: Path) -> list[str]:
    lists = []
    for part in ("code", "docs"):
        path = corpus / part / "queries.jsonl"
        if path.is_file():
            lists.append([json.loads(line)["text"] for line in path.open(encoding="utf-8") if line.strip()])
    out = [q for i in range(max((len(x) for x in lists), default=0)) for x in lists if i < len(x) for q in [x[i]]]
    return out or FALLBACK_QUERIES


# -- in process ------------------------------------------------------------------------------


@contextlib.contextmanager
def torch_threads(n: int | None):
    """Torch's intra-op threads for this block (None: leave them as they are)."""
    import torch

    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def breakdown(engine: Engine, name: str, mode: str, queries: list[str], rerank: bool, threads: int | None) -> dict:
    """Per-part latency of `queries` against collection `name` in this process."""
    with torch_threads(threads):
        return _breakdown(engine, name, mode, queries, rerank)


def _breakdown(engine: Engine, name: str, mode: str, queries: list[str], rerank: bool) -> dict:
    from groundmcp.search import engine as search_engine
    from groundmcp.search.budget import fit

    try:
        from groundmcp.tools.results import Hit

        overhead = Hit.overhead
    except ImportError:  # the tool layer moved: time the budget alone
        Hit, overhead = None, None
    enc, store = engine.encoder, engine.store
    cache = getattr(search_engine, "CollectionInfoCache", None)
    if cache is not None:  # what the search tool does since the info cache: no point count per search
        infos = cache(store)

        def run_search(request):
            return search_engine.search(store, enc, name, request, engine.reranker if request.rerank else None,
                                        infos=infos)
    else:  # the committed tool called Engine.search, which reads store.info (an exact count) first
        def run_search(request):
            return engine.search(request, collection=name)
    parts: dict[str, list[float]] = {k: [] for k in ("encode", "sparse", "info", "store", "search", "shape")}
    filters = Filters(visible=True)
    for q in queries[:3]:
        run_search(SearchRequest(q, top_k=8, mode=mode, rerank=rerank))
    cpu: dict[str, list[float]] = {k: [] for k in parts}

    def now() -> tuple[float, float]:
        return time.perf_counter(), time.process_time()

    for q in queries:
        t0 = now()
        dense = enc.encode_query(q).tolist() if mode != "sparse" else None
        t1 = now()
        sparse = query_vector(q) if mode != "dense" else None
        t2 = now()
        store.info(name)  # what Engine.search calls first (an exact point count); the search tool no more
        t3 = now()
        store.query(name, dense=dense, sparse=sparse, mode=mode if sparse is None or sparse.indices else "dense",
                    limit=30 if rerank else 8, filters=filters, prefetch_limit=100)
        t4 = now()
        hits = run_search(SearchRequest(q, top_k=8, mode=mode, rerank=rerank))
        t5 = now()
        fitted = fit(hits, q, 4000, **({"overhead": overhead} if overhead else {}))
        if Hit is not None:
            json.dumps([Hit.from_fitted(f).model_dump(mode="json") for f in fitted.hits])
        t6 = now()
        for key, a, b in (("encode", t0, t1), ("sparse", t1, t2), ("info", t2, t3), ("store", t3, t4),
                          ("search", t4, t5), ("shape", t5, t6)):
            parts[key].append(b[0] - a[0])
            cpu[key].append(b[1] - a[1])
    out = {k: summary_ms(v) for k, v in parts.items()}
    for k, v in cpu.items():  # CPU time of this process (all its threads) per part
        out[k]["cpu_p50_ms"] = statistics.median(v) * 1000
    return out


# -- over MCP --------------------------------------------------------------------------------


def server_cpu_s() -> float:
    """CPU seconds used so far by this process's `groundmcp serve` children (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for pid in Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children").read_text().split():
        try:
            if b"serve" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def _row(transport, name, size, mode, rerank, times, server_cpu, client_cpu) -> dict:
    n = len(times)
    row = {"transport": transport, "collection": name, "points": size, "mode": mode, "rerank": rerank,
           **summary_ms(times), "server_cpu_ms": 1000 * server_cpu / n, "client_cpu_ms": 1000 * client_cpu / n}
    print(
        f"{transport:8} {size:>7} {mode:7} {'rerank' if rerank else '':6} n={n:4}  p50 {row['p50_ms']:8.2f} ms  "
        f"p99 {row['p99_ms']:8.2f} ms  mean {row['mean_ms']:8.2f} ms   CPU per call: server "
        f"{row['server_cpu_ms']:7.2f} ms, client {row['client_cpu_ms']:5.2f} ms",
        flush=True,
    )
    return row


async def mcp_rows(client, sizes: dict[str, int], modes, queries, calls, rerank_calls, transport, rows) -> None:
    """Search rows, after a row of `prompts/list` calls: a JSON-RPC round trip with no tool and no
    store behind it (the server answers `ping` with "Method not found")."""
    first = next(iter(sizes))
    for q in queries[:3]:  # the server loads its encoder in the background: wait for it here
        await client.call_tool("search", {"query": q, "collection": first})
    await asyncio.sleep(2)  # and then prepares its fast query path (under a second)
    for _ in range(5):
        await client.list_prompts()
    times = []
    c0, p0 = server_cpu_s(), time.process_time()
    for _ in range(calls):
        t0 = time.perf_counter()
        await client.list_prompts()
        times.append(time.perf_counter() - t0)
    rows.append(_row(transport, "", 0, "prompts/list", False, times, server_cpu_s() - c0, time.process_time() - p0))
    qi = 0
    for name, size in sizes.items():
        for rerank in (False, True):
            n = rerank_calls if rerank else calls
            if n <= 0:
                continue
            for mode in modes:
                args = {"mode": mode, "collection": name, "rerank": rerank}
                for q in queries[qi : qi + 3]:
                    await client.call_tool("search", {"query": q, **args})
                qi += 3
                times = []
                c0, p0 = server_cpu_s(), time.process_time()
                for _ in range(n):
                    q = queries[qi % len(queries)]
                    qi += 1
                    t0 = time.perf_counter()
                    result = await client.call_tool("search", {"query": q, **args})
                    times.append(time.perf_counter() - t0)
                    assert not result.is_error, result.content
                rows.append(_row(transport, name, size, mode, rerank, times, server_cpu_s() - c0,
                                 time.process_time() - p0))


async def over_mcp(data: Path, sizes, modes, queries, args, *, threads: int | None, rerank_calls: int) -> list[dict]:
    """Rows for each transport; `threads`: the server runs with OMP_NUM_THREADS set to it."""
    import httpx2
    from mcp import Client, StdioServerParameters
    from mcp.client.streamable_http import streamable_http_client
    from mcp_latency import http_server

    rows: list[dict] = []
    root = data.parent
    extra = {"OMP_NUM_THREADS": str(threads)} if threads else {}
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data), **extra}
    suffix = f"/{threads}t" if threads else ""
    if "stdio" in args.transports:
        params = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)], env=env)
        async with Client(params, read_timeout_seconds=300) as client:
            await mcp_rows(client, sizes, modes, queries, args.calls, rerank_calls, "stdio" + suffix, rows)
    if "http" in args.transports:
        saved = {k: os.environ.get(k) for k in extra}
        os.environ.update(extra)  # http_server passes this process's environment on
        try:
            with http_server(data, root, "bench-token") as url:
                async with httpx2.AsyncClient(headers={"Authorization": "Bearer bench-token"}, timeout=300) as http:
                    async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=300) as client:
                        await mcp_rows(client, sizes, modes, queries, args.calls, rerank_calls, "http" + suffix, rows)
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
    for row in rows:
        row["server_threads"] = threads or "default"
    return rows


def encode_grid(encoder, queries: list[str]) -> list[dict]:
    """Query encode latency: `encode_queries([q])` (the normal path, on this thread) with torch's
    default threads and with one, then `encode_query(q)` (what search calls: since the fast query
    path, on the encoder's one-thread workers and, after warm_up, traced); in the encoder's
    precision, and in float32 on a CPU."""
    import torch

    encoders = [encoder]
    if encoder.device == "cpu" and "float32" not in str(encoder.dtype):
        extra = SentenceTransformerEncoder(precision="float32")
        getattr(extra, "warm_up", lambda: None)()
        encoders.append(extra)
    rows = []
    for enc in encoders:
        cases = [("encode_queries([q])", threads, lambda q: enc.encode_queries([q])) for threads in (None, 1)]
        cases.append(("encode_query(q)", None, enc.encode_query))
        for path, threads, fn in cases:
            with torch_threads(threads):
                for q in queries[:5]:
                    fn(q)
                times = []
                for q in queries:
                    t0 = time.perf_counter()
                    fn(q)
                    times.append(time.perf_counter() - t0)
                row = {"dtype": str(enc.dtype).removeprefix("torch."), "path": path,
                       "threads": threads or torch.get_num_threads(), **summary_ms(times)}
            rows.append(row)
            print(f"  query encode {row['dtype']:8} {path:20} {row['threads']} thread(s) here: p50 {row['p50_ms']:6.2f} ms  "
                  f"p99 {row['p99_ms']:7.2f} ms  max {max(times) * 1000:7.2f} ms", flush=True)
    return rows


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--real", type=int, default=4000, help="texts encoded with the real model")
    parser.add_argument("--corpus", default="/tmp/eval-public", help="BEIR folders code/ and docs/ (texts, queries)")
    parser.add_argument("--calls", type=int, default=100, help="calls per row without rerank")
    parser.add_argument("--rerank-calls", type=int, default=5, help="calls per row with rerank (0: skip)")
    parser.add_argument("--profile-queries", type=int, default=40, help="in-process breakdown queries per row")
    parser.add_argument("--modes", default="hybrid,dense,sparse")
    parser.add_argument("--transports", default="stdio,http")
    parser.add_argument("--no-one-thread", dest="one_thread", action="store_false",
                        help="skip the rows with torch on one thread (OMP_NUM_THREADS=1 for the servers)")
    parser.add_argument("--data-dir", help="keep the built collections here and reuse them")
    parser.add_argument("--cache", default=str(Path.home() / ".cache" / "groundmcp-bench"))
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    sizes_n = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    corpus = Path(args.corpus)
    info = machine()
    print_machine(info)
    tmp = tempfile.TemporaryDirectory()
    data = Path(args.data_dir or Path(tmp.name) / "data").resolve()
    data.mkdir(parents=True, exist_ok=True)

    import groundmcp

    print(f"groundmcp from {Path(groundmcp.__file__).parent}")
    encoder = SentenceTransformerEncoder()
    getattr(encoder, "warm_up", lambda: None)()  # as the server does after loading (where the code has it)
    biggest = max(sizes_n)
    t0 = time.perf_counter()
    pool = text_pool(corpus, biggest)
    print(f"texts: {len(pool)} ({sum(p['path'].startswith('site-packages/') for p in pool)} site-packages windows) in {time.perf_counter() - t0:.1f} s")
    real = real_vectors(encoder, [p["text"] for p in pool[: args.real]], Path(args.cache))
    vectors = dense_vectors(real, biggest)
    sizes = {f"bench{n // 1000}k" if n % 1000 == 0 else f"bench{n}": n for n in sizes_n}
    built = {}
    store = open_store(data_dir=data, qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
    for name, n in sizes.items():
        built[name] = build(store, name, encoder, pool[:n], vectors[:n])
    store.close()
    del pool, vectors

    queries = load_queries(corpus)
    engine = Engine(Settings(data_dir=data), encoder=encoder)
    profile: list[dict] = []
    print(f"in process ({args.profile_queries} queries a row; ms, p50 / p99 (CPU p50 of this process)):")
    plan = [(None, rerank, mode, name) for name in sizes for rerank in (False, True) for mode in modes]
    if args.one_thread:  # the same without rerank, torch on one thread
        plan += [(1, False, mode, name) for name in sizes for mode in modes]
    for threads, rerank, mode, name in plan:
        n = sizes[name]
        count = args.profile_queries if not rerank else min(args.profile_queries, max(args.rerank_calls, 0))
        if not count:
            continue
        qs = queries[len(profile) * 7 : len(profile) * 7 + count] or queries[:count]
        row = breakdown(engine, name, mode, qs, rerank, threads)
        profile.append({"collection": name, "points": n, "mode": mode, "rerank": rerank,
                        "threads": threads or "default", **row})
        print(
            f"  {n:>7} {mode:7} {'rerank' if rerank else '':6} {'1 thread' if threads else '':8} "
            + "  ".join(f"{k} {v['p50_ms']:.2f}/{v['p99_ms']:.2f} (cpu {v['cpu_p50_ms']:.2f})" for k, v in row.items()),
            flush=True,
        )
    grid = encode_grid(encoder, queries[: args.profile_queries]) if args.profile_queries else []
    engine.close()

    rows = asyncio.run(over_mcp(data, sizes, modes, queries, args, threads=None, rerank_calls=args.rerank_calls))
    if args.one_thread:
        rows += asyncio.run(over_mcp(data, sizes, modes, queries, args, threads=1, rerank_calls=0))
    by_key = {(p["collection"], p["mode"], p["rerank"], p["threads"]): p for p in profile}
    print("MCP overhead at p50 (MCP p50 minus the in-process engine search p50 and result shaping; noisy):")
    for r in rows:
        p = by_key.get((r["collection"], r["mode"], r["rerank"], r["server_threads"]))
        if p:
            r["overhead_p50_ms"] = r["p50_ms"] - p["search"]["p50_ms"] - p["shape"]["p50_ms"]
            print(f"  {r['transport']:8} {r['points']:>7} {r['mode']:7} {'rerank' if r['rerank'] else '':6} {r['overhead_p50_ms']:7.2f} ms")
    write_json(args.json, {
        "bench": "query_latency", "machine": info, "sizes": sizes, "real_vectors": len(real),
        "build": built, "profile": profile, "encode_query": grid, "mcp": rows,
        "loadavg_at_end": os.getloadavg(),
    })
    tmp.cleanup()


if __name__ == "__main__":
    main()
