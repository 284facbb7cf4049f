"""Slowloris against `groundmcp serve --http`: do slow sockets pile up, and do they slow others down?

An attacker process holds `--sockets` connections open, each sending a request head one byte every
`--pace` seconds and never finishing it, and reopens each one the server closes. Meanwhile this
process times normal MCP calls (a fresh client connecting and calling `list_collections`), before
the attack and during it, and samples the server's open descriptors (/proc/PID/fd).

    python bench/slowloris.py                       # the defaults: 10 s head deadline, 1,000 connections
    python bench/slowloris.py --header-timeout 3600 --max-connections 100000   # the guard off, in effect

Linux only (it reads /proc). Raises its own RLIMIT_NOFILE to fit the sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx2
from benchutil import machine, percentile, print_machine, write_json
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

TOKEN = "bench-token"


@contextlib.contextmanager
def server(data: Path, env_extra: dict[str, str]):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data), **env_extra}
    cmd = [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--token", TOKEN,
           "--root", str(data)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if proc.poll() is not None:
                raise SystemExit(f"server exited {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def attacker(port: int, sockets: int, pace: float, seconds: float, out) -> None:
    """In its own process: returns (open time, close time or None) per connection, times from start."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, sockets + 512)), hard))
    out.send(asyncio.run(_attack(port, sockets, pace, seconds)))


async def _attack(port: int, sockets: int, pace: float, seconds: float) -> list[tuple[float, float | None]]:
    start = time.monotonic()
    stop = start + seconds
    spans: list[tuple[float, float | None]] = []

    async def one() -> None:
        while time.monotonic() < stop:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(pace)
                continue
            opened = time.monotonic() - start
            head = b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100_000
            closed = None
            try:
                for byte in head:
                    writer.write(bytes([byte]))
                    remaining = stop - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        if await asyncio.wait_for(reader.read(1024), min(pace, remaining)) == b"":
                            closed = time.monotonic() - start
                            break
                    except TimeoutError:
                        pass
            except OSError:
                closed = time.monotonic() - start
            writer.close()
            spans.append((opened, closed))

    tasks = []
    for i in range(sockets):  # ramp up over about a second, as a real attacker would not wait
        tasks.append(asyncio.create_task(one()))
        if i % 100 == 99:
            await asyncio.sleep(0.03)
    await asyncio.gather(*tasks)
    return spans


async def timed_call(url: str) -> float:
    start = time.monotonic()
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120) as http,
        Client(streamable_http_client(url, http_client=http), read_timeout_seconds=120) as client,
    ):
        result = await client.call_tool("list_collections", {})
        assert not result.is_error
    return time.monotonic() - start


async def calls(url: str, until: float) -> tuple[list[float], list[str]]:
    """Seconds of each call that succeeded, and what each failed one raised."""
    times, failures = [], []
    while time.monotonic() < until:
        try:
            times.append(await timed_call(url))
        except Exception as exc:  # noqa: BLE001 - a failed call is a figure here, not an error
            failures.append(repr(exc)[:200])
        await asyncio.sleep(0.1)
    return times, failures


async def sample_fds(pid: int, until: float, every: float) -> list[tuple[float, int]]:
    start, samples = time.monotonic(), []
    while time.monotonic() < until:
        samples.append((time.monotonic() - start, len(os.listdir(f"/proc/{pid}/fd"))))
        await asyncio.sleep(every)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=3000)
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between the bytes of a slow head")
    parser.add_argument("--seconds", type=float, default=40.0, help="length of the attack")
    parser.add_argument("--quiet-seconds", type=float, default=8.0, help="normal calls timed before it")
    parser.add_argument("--header-timeout", type=float, default=None, help="GROUNDMCP_HTTP_HEADER_TIMEOUT_S")
    parser.add_argument("--max-connections", type=int, default=None, help="GROUNDMCP_HTTP_MAX_CONNECTIONS")
    parser.add_argument("--json", help="write the figures here")
    args = parser.parse_args()
    info = machine()
    print_machine(info)
    env = {}
    if args.header_timeout is not None:
        env["GROUNDMCP_HTTP_HEADER_TIMEOUT_S"] = str(args.header_timeout)
    if args.max_connections is not None:
        env["GROUNDMCP_HTTP_MAX_CONNECTIONS"] = str(args.max_connections)
    with tempfile.TemporaryDirectory() as tmp, server(Path(tmp), env) as (port, pid):
        url = f"http://127.0.0.1:{port}/mcp"
        asyncio.run(timed_call(url))  # warm: the first call opens the store
        idle_fds = len(os.listdir(f"/proc/{pid}/fd"))
        before, failed_before = asyncio.run(calls(url, time.monotonic() + args.quiet_seconds))

        receive, send = multiprocessing.Pipe(duplex=False)
        attack = multiprocessing.Process(target=attacker, args=(port, args.sockets, args.pace, args.seconds, send))
        attack.start()
        start = time.monotonic()

        async def during_attack():
            return await asyncio.gather(
                sample_fds(pid, start + args.seconds, 1.0),
                calls(url, start + args.seconds - 1),
            )

        fds, (during, failed_during) = asyncio.run(during_attack())
        spans = receive.recv()
        attack.join()

    held = sorted(c - o for o, c in spans if c is not None)
    print(f"\n{args.sockets} slow sockets, one byte each per {args.pace:g} s, for {args.seconds:g} s; "
          f"settings {env or 'defaults'}; server descriptors at rest: {idle_fds}")
    print(f"attacker connections: {len(spans)} opened, {len(held)} closed by the server "
          f"(held p50 {percentile(held, .5):.1f} s, max {held[-1]:.1f} s)" if held else
          f"attacker connections: {len(spans)} opened, none closed by the server")
    print("   t s   server fds   attacker open   closed so far")
    for t, n in fds[:: max(1, len(fds) // 20)]:
        open_now = sum(1 for o, c in spans if o <= t and (c is None or c > t))
        closed_so_far = sum(1 for _, c in spans if c is not None and c <= t)
        print(f"  {t:4.0f}   {n:10d}   {open_now:13d}   {closed_so_far:13d}")
    for name, times, failed in (("before", before, failed_before), ("during", during, failed_during)):
        print(f"normal calls {name} the attack: n={len(times)}  p50 {percentile(times, .5) * 1000:.0f} ms  "
              f"p95 {percentile(times, .95) * 1000:.0f} ms  max {max(times) * 1000:.0f} ms  "
              f"failed {len(failed)}" + (f" (first: {failed[0]})" if failed else ""))
    write_json(args.json, {
        "machine": info, "args": vars(args), "idle_fds": idle_fds, "fds": fds,
        "opened": len(spans), "closed": len(held), "held_s": held, "before_s": before, "during_s": during,
        "failed_before": failed_before, "failed_during": failed_during,
    })


if __name__ == "__main__":
    main()
