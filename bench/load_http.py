"""Searches under load over Streamable HTTP, while ingests write to the same collection.

    python bench/load_http.py [--clients 8] [--duration 30] [--base PATH] [--ingest PATH] [--json OUT]

Indexes --base (default: this repository's src/) into a temporary data dir, starts `groundmcp serve
--http` on loopback with a bearer token, and for --duration seconds runs --clients MCP sessions that
each search in a loop, while one more session re-ingests a copy of --ingest (default: the standard
library's email package) into the same collection again and again, every file changed each round,
so every round re-encodes it and swaps each file's chunks (publish, then retire the old ones).

Prints throughput, latency percentiles (over the whole run, while an ingest ran, while none did),
errors (isError results and failed calls), the longest search during an ingest and the longest gap
between two completed searches during one, next to the encoder's time for one batch of the ingest
and for its first window (64 chunks): the target is that no search waits longer than about one batch.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
from benchutil import REPO, machine, percentile, print_machine, write_json
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from groundmcp.chunking import chunk_file
from groundmcp.engine import Engine
from groundmcp.ingest.pipeline import FIRST_WINDOW_CHUNKS, chunk_budget
from groundmcp.settings import Settings

TOKEN = "load-bench-token"
QUERIES = [
    "how are changed files re-ingested incrementally",
    "bearer token authentication",
    "parse a MIME message from bytes",
    "EdgeStore",
    "reciprocal rank fusion of dense and sparse",
    "encode a header with RFC 2047 encoded words",
    "symlink loop",
    "quoted-printable body encoding",
    "token budget for search results",
    "multipart boundary",
]


@dataclass
class Record:
    searches: list[tuple[float, float, bool]] = field(default_factory=list)  # (start, end, ok)
    errors: list[str] = field(default_factory=list)
    ingests: list[tuple[float, float, dict]] = field(default_factory=list)  # (start, end, summary)


@contextlib.contextmanager
def http_server(data: Path, roots: list[Path], log: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--token", TOKEN]
    for root in roots:
        cmd += ["--root", str(root)]
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, env=env, stderr=err, stdout=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"server exited {proc.returncode}: {log.read_text()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.asynccontextmanager
async def session(url: str):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx2.AsyncClient(headers=headers, timeout=900) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=900) as client:
            yield client


async def searcher(url: str, n: int, stop_at: float, ingests_done: asyncio.Event, rec: Record) -> None:
    """Search until `stop_at`, and on until the last ingest ends, so every ingest runs under load."""
    async with session(url) as client:
        i = n
        while time.monotonic() < stop_at or not ingests_done.is_set():
            query = QUERIES[i % len(QUERIES)]
            i += 1
            t0 = time.monotonic()
            try:
                result = await client.call_tool("search", {"query": query, "top_k": 8})
                ok = not result.is_error
                if not ok:
                    rec.errors.append(f"search {query!r}: {result.content[0].text[:200]}")
            except Exception as exc:  # a failed call is an error of the run, not of the bench
                ok = False
                rec.errors.append(f"search {query!r}: {type(exc).__name__}: {exc}"[:300])
            rec.searches.append((t0, time.monotonic(), ok))


async def ingester(url: str, corpus: Path, start_at: float, stop_at: float, done: asyncio.Event, rec: Record) -> None:
    """Re-ingest `corpus` until `stop_at`, changing every file before each round."""
    try:
        await _ingest_rounds(url, corpus, start_at, stop_at, rec)
    finally:
        done.set()


async def _ingest_rounds(url: str, corpus: Path, start_at: float, stop_at: float, rec: Record) -> None:
    async with session(url) as client:
        await asyncio.sleep(max(0.0, start_at - time.monotonic()))
        round_ = 0
        while time.monotonic() < stop_at:
            if round_:
                for file in corpus.rglob("*.py"):
                    with open(file, "a", encoding="utf-8") as fh:
                        fh.write(f"\n# load round {round_}\n")
            t0 = time.monotonic()
            try:
                result = await client.call_tool("ingest", {"path": str(corpus)})
                if result.is_error:
                    rec.errors.append(f"ingest: {result.content[0].text[:300]}")
                    summary = {}
                else:
                    summary = result.structured_content
            except Exception as exc:
                rec.errors.append(f"ingest: {type(exc).__name__}: {exc}"[:300])
                summary = {}
            rec.ingests.append((t0, time.monotonic(), summary))
            round_ += 1


def batch_seconds(engine: Engine, corpus: Path, batch: int) -> tuple[float, float, int]:
    """The encoder's time for one batch and for the first window of the ingest's chunks (median of
    three, measured here before the server starts), and the chunk count of one round."""
    chunks = []
    for file in sorted(corpus.rglob("*.py")):
        chunks += chunk_file(
            file.relative_to(corpus).as_posix(),
            file.read_bytes(),
            count_tokens=engine.encoder.count_tokens,
            max_tokens=chunk_budget(engine.encoder, engine.settings.chunk_tokens),
            overlap_tokens=engine.settings.chunk_overlap,
        )
    texts = [c.embed_text for c in chunks]
    times = {}
    for name, size in (("batch", batch), ("window", FIRST_WINDOW_CHUNKS)):
        runs = []
        for _ in range(3):
            t0 = time.perf_counter()
            engine.encoder.encode_documents(texts[:size])
            runs.append(time.perf_counter() - t0)
        times[name] = statistics.median(runs)
    return times["batch"], times["window"], len(chunks)


def overlaps(start: float, end: float, spans: list[tuple[float, float]]) -> bool:
    return any(start < e and end > s for s, e in spans)


def stats_ms(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ms = [v * 1000 for v in values]
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(percentile(ms, 0.99), 1),
        "max_ms": round(max(ms), 1),
    }


def longest_gap(ends: list[float], spans: list[tuple[float, float]]) -> float:
    """The longest time, inside an ingest, during which no search completed."""
    gap = 0.0
    for s, e in spans:
        inside = sorted(t for t in ends if s <= t <= e)
        marks = [s, *inside, e]
        gap = max(gap, *(b - a for a, b in zip(marks, marks[1:], strict=False)))
    return gap


async def run(url: str, args, corpus: Path) -> tuple[Record, float, float]:
    rec = Record()
    async with session(url) as warm:  # the encoder loads on the first search
        for q in QUERIES:
            await warm.call_tool("search", {"query": q})
    started = time.monotonic()
    stop_at = started + args.duration
    done = asyncio.Event()
    tasks = [searcher(url, n, stop_at, done, rec) for n in range(args.clients)]
    tasks.append(ingester(url, corpus, started + args.ingest_after, stop_at, done, rec))
    await asyncio.gather(*tasks)
    return rec, started, time.monotonic()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds of searching (longer if an ingest is still running)"
    )
    parser.add_argument("--ingest-after", type=float, default=3.0, help="seconds before the first ingest")
    parser.add_argument("--base", type=Path, default=REPO / "src")
    parser.add_argument("--ingest", type=Path, default=Path(json.__file__).parent.parent / "email")
    parser.add_argument("--json", dest="json_out", help="also write the figures to this file")
    args = parser.parse_args()
    info = machine()
    print_machine(info)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        data = tmp_path / "data"
        corpus = tmp_path / "ingest" / args.ingest.name
        shutil.copytree(args.ingest, corpus, ignore=shutil.ignore_patterns("__pycache__"))
        engine = Engine(Settings(data_dir=data))
        base = engine.ingest(str(args.base.resolve()))
        one_batch, first_window, per_round = batch_seconds(engine, corpus, engine.settings.batch_size)
        points = engine.store.info("default").points
        engine.close()
        print(
            f"base index: {args.base} -> {base.files_seen} files, {points} chunks; ingest corpus: {args.ingest} "
            f"({per_round} chunks a round); encoder: {one_batch * 1000:.0f} ms per batch of "
            f"{Settings().batch_size}, {first_window * 1000:.0f} ms per first window of {FIRST_WINDOW_CHUNKS} chunks "
            "(measured alone, before the run)"
        )
        with http_server(data, [args.base.resolve(), corpus.parent], tmp_path / "server.log") as (url, proc):
            rec, started, ended = asyncio.run(run(url, args, corpus))
            alive = proc.poll() is None
    spans = [(s, e) for s, e, _ in rec.ingests]
    latencies = [e - s for s, e, _ in rec.searches]
    during = [e - s for s, e, _ in rec.searches if overlaps(s, e, spans)]
    idle = [e - s for s, e, _ in rec.searches if not overlaps(s, e, spans)]
    failed = sum(1 for *_, ok in rec.searches if not ok)
    wall = ended - started
    gap = longest_gap([e for _, e, _ in rec.searches], spans)
    ingested = sum(i[2].get("chunks", 0) for i in rec.ingests)
    ingest_time = sum(e - s for s, e in spans)
    figures = {
        "machine": info,
        "clients": args.clients,
        "duration_s": round(wall, 1),
        "searches": len(rec.searches),
        "throughput_per_s": round(len(rec.searches) / wall, 1),
        "errors": len(rec.errors),
        "failed_searches": failed,
        "latency_all": stats_ms(latencies),
        "latency_during_ingest": stats_ms(during),
        "latency_no_ingest": stats_ms(idle),
        "longest_search_during_ingest_ms": round(max(during, default=0) * 1000, 1),
        "longest_gap_between_searches_during_ingest_ms": round(gap * 1000, 1),
        "encoder_batch_ms": round(one_batch * 1000, 1),
        "encoder_first_window_ms": round(first_window * 1000, 1),
        "ingest_rounds": len(rec.ingests),
        "ingest_chunks": ingested,
        "ingest_seconds": round(ingest_time, 1),
        "server_alive_after": alive,
        "error_samples": rec.errors[:5],
    }
    print(
        f"{args.clients} clients x {wall:.1f} s over Streamable HTTP: {len(rec.searches)} searches, "
        f"{figures['throughput_per_s']} /s, {len(rec.errors)} errors ({failed} failed searches); "
        f"server still up: {alive}"
    )
    for name in ("latency_all", "latency_during_ingest", "latency_no_ingest"):
        s = figures[name]
        if s["n"]:
            print(f"  {name:22} n={s['n']:5}  p50 {s['p50_ms']:8.1f} ms  p99 {s['p99_ms']:8.1f} ms  max {s['max_ms']:8.1f} ms")
    print(
        f"  ingest: {len(rec.ingests)} rounds, {ingested} chunks encoded in {ingest_time:.1f} s "
        f"({ingested / ingest_time if ingest_time else 0:.1f} chunks/s under load)"
    )
    print(
        f"  longest search during an ingest: {figures['longest_search_during_ingest_ms']:.0f} ms; longest gap "
        f"with no search completing: {figures['longest_gap_between_searches_during_ingest_ms']:.0f} ms; one "
        f"encoder batch: {figures['encoder_batch_ms']:.0f} ms, first window: {figures['encoder_first_window_ms']:.0f} ms"
    )
    for sample in rec.errors[:5]:
        print(f"  error: {sample}")
    write_json(args.json_out, figures)


if __name__ == "__main__":
    main()
