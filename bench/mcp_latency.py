"""Search latency over MCP, as a client sees it: stdio and Streamable HTTP, p50 and p99.

    python bench/mcp_latency.py [PATH] [--calls 200] [--modes hybrid,dense,sparse]

Indexes PATH (default: this repository) into a temporary data dir, then starts `groundmcp serve`
as a subprocess per transport and times `tools/call search` round trips with the SDK's client
(query encoding, store query, result shaping and the transport all included).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from groundmcp.engine import Engine
from groundmcp.settings import Settings

QUERIES = [
    "how are changed files re-ingested incrementally",
    "bearer token authentication",
    "split identifiers at camelCase",
    "token budget for search results",
    "which files are ignored by default",
    "EdgeStore",
    "reciprocal rank fusion of dense and sparse",
    "progress notifications during ingest",
    "symlink loop",
    "chunk markdown by headings",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(client: Client, mode: str, calls: int) -> list[float]:
    for q in QUERIES[:3]:  # warm-up
        await client.call_tool("search", {"query": q, "mode": mode})
    times = []
    for i in range(calls):
        t0 = time.perf_counter()
        result = await client.call_tool("search", {"query": QUERIES[i % len(QUERIES)], "mode": mode})
        times.append((time.perf_counter() - t0) * 1000)
        assert not result.is_error, result.content
    return times


def report(transport: str, mode: str, times: list[float]) -> None:
    print(
        f"{transport:6} {mode:7} n={len(times):4}  p50 {statistics.median(times):7.2f} ms  "
        f"p99 {percentile(times, 0.99):7.2f} ms  mean {statistics.fmean(times):7.2f} ms"
    )


@contextlib.contextmanager
def http_server(data: Path, root: Path, token: str):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--token", token, "--root", str(root)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--modes", default="hybrid,dense,sparse")
    args = parser.parse_args()
    modes = args.modes.split(",")
    root = Path(args.path).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        engine = Engine(Settings(data_dir=data))
        report_ = engine.ingest(str(root))
        chunks = engine.store.info("default").points
        engine.close()
        print(f"index: {root} -> {report_.files_seen} files, {chunks} chunks; {args.calls} calls per row")
        env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data)}
        params = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)], env=env)
        async with Client(params, read_timeout_seconds=120) as client:
            for mode in modes:
                report("stdio", mode, await measure(client, mode, args.calls))
        with http_server(data, root, "bench-token") as url:
            async with httpx2.AsyncClient(headers={"Authorization": "Bearer bench-token"}, timeout=120) as http:
                async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=120) as client:
                    for mode in modes:
                        report("http", mode, await measure(client, mode, args.calls))


if __name__ == "__main__":
    asyncio.run(main())
