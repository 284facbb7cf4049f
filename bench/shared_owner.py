"""Four front ends on one data dir through its owner, timed: two stdio servers (as two IDE windows
start them), an HTTP server with a token, and the CLI. Each searches while another ingests; then the
owner is killed (-9) in the middle of an ingest, and each client's next request is timed.

    python bench/shared_owner.py [--corpus PATH] [--searches 5] [--json out.json]

--corpus defaults to the installed `click` package (a real project nobody here wrote). Everything
runs as separate processes with the real model; figures are wall times in ms.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import httpx2
from benchutil import machine, print_machine, write_json
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

QUERIES = ["how are environment variables used as option defaults", "where is the help text wrapped",
           "parse a boolean flag", "prompt the user for a password", "echo to stderr"]


def main() -> None:
    import click

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path(click.__file__).parent)
    ap.add_argument("--searches", type=int, default=5)
    ap.add_argument("--json")
    args = ap.parse_args()
    print_machine(machine())
    base = Path(tempfile.mkdtemp(prefix="gm-shared-"))
    root = base / "work" / "project"
    shutil.copytree(args.corpus, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    data = base / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_OWNER="1", GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="120")
    figures = anyio.run(scenario, root, data, env, args.searches)
    write_json(args.json, {"machine": machine(), **figures})
    subprocess.run([sys.executable, "-m", "groundmcp", "owner", "--stop"], env=env, capture_output=True, check=False)


async def scenario(root: Path, data: Path, env: dict, searches: int) -> dict:
    port = _free_port()
    http = subprocess.Popen(
        [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--token", "t", "--root", str(root)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    stdio = StdioServerParameters(command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)], env=env)
    figures: dict = {}
    try:
        await _wait_port(port)
        async with (
            Client(stdio, read_timeout_seconds=600) as a,
            Client(stdio, read_timeout_seconds=600) as b,
            httpx2.AsyncClient(headers={"Authorization": "Bearer t"}, timeout=600) as web,
            Client(streamable_http_client(f"http://127.0.0.1:{port}/mcp", http_client=web), read_timeout_seconds=600) as h,
        ):
            t = time.perf_counter()
            first = await a.call_tool("ingest", {"path": "."})
            figures["first_ingest_ms"] = _ms(t)  # starts the owner; the model loads in it
            print(f"stdio A ingests {first.structured_content['files_seen']} files "
                  f"({first.structured_content['chunks']} chunks), owner start included: {figures['first_ingest_ms']:.0f} ms")

            times: dict[str, list[float]] = {"stdio A": [], "HTTP": [], "CLI": []}

            async def search_loop(name: str, client) -> None:
                for i in range(searches):
                    t = time.perf_counter()
                    if client is None:
                        await anyio.to_thread.run_sync(_cli_search, env, QUERIES[i % len(QUERIES)])
                    else:
                        r = await client.call_tool("search", {"query": QUERIES[i % len(QUERIES)], "top_k": 5})
                        assert not r.is_error, r.content[0].text
                    times[name].append(_ms(t))

            t = time.perf_counter()
            async with anyio.create_task_group() as tg:
                tg.start_soon(b.call_tool, "ingest", {"path": str(root), "collection": "second"})
                tg.start_soon(search_loop, "stdio A", a)
                tg.start_soon(search_loop, "HTTP", h)
                tg.start_soon(search_loop, "CLI", None)
            figures["while_ingesting_ms"] = {k: {"p50": statistics.median(v), "max": max(v)} for k, v in times.items()}
            print(f"\nwhile stdio B ingested a second collection ({_ms(t):.0f} ms), {searches} searches each:")
            print("| client | p50 ms | max ms |\n|---|---:|---:|")
            for k, v in times.items():
                print(f"| {k} | {statistics.median(v):.0f} | {max(v):.0f} |")

            pid = int((data / "owner.lock").read_text().splitlines()[0])
            t = time.perf_counter()
            async with anyio.create_task_group() as tg:
                tg.start_soon(b.call_tool, "ingest", {"path": str(root), "collection": "third"})
                await anyio.sleep(1.0)
                os.kill(pid, signal.SIGKILL)
            figures["ingest_across_kill_ms"] = _ms(t)
            after = {}
            for name, client in (("stdio A", a), ("HTTP", h), ("CLI", None), ("stdio B", b)):
                t = time.perf_counter()
                if client is None:
                    await anyio.to_thread.run_sync(_cli_search, env, QUERIES[0])
                else:
                    r = await client.call_tool("search", {"query": QUERIES[0], "collection": "third", "top_k": 5})
                    assert not r.is_error and r.structured_content["hits"], r.content
                after[name] = _ms(t)
            figures["first_request_after_kill_ms"] = after
            print(f"\nkill -9 of the owner 1 s into stdio B's ingest of a third collection; that ingest "
                  f"finished on a new owner after {figures['ingest_across_kill_ms']:.0f} ms in all")
            print("| client | next request ms |\n|---|---:|")
            for k, v in after.items():
                print(f"| {k} | {v:.0f} |")
            log = (data / "owner.log").read_text()
            figures["owners_started"] = log.count(" serving ")
            print(f"\nowners started in all: {figures['owners_started']}")
    finally:
        http.terminate()
        http.wait(30)
    return figures


def _cli_search(env: dict, query: str) -> None:
    run = subprocess.run([sys.executable, "-m", "groundmcp", "search", query, "-k", "5"], env=env,
                         capture_output=True, text=True, timeout=600)
    if run.returncode != 0 or "running in this process" in run.stderr:
        raise SystemExit(f"CLI search failed or ran in process: {run.stderr}")


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _wait_port(port: int) -> None:
    import socket

    for _ in range(600):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            await anyio.sleep(0.2)
    raise SystemExit("the HTTP server did not start")


if __name__ == "__main__":
    main()
