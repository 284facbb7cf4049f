"""Resident memory of the real server through MCP: start, model load, ingest peak, after, idle.

    python bench/memory.py [--beir /tmp/eval-public/code] [--limit-docs N] [--rounds 1] [--idle 60]
                           [--variant NAME:ENV=VALUE,ENV=VALUE ...] [--json OUT]

Each run starts `python -m groundmcp -v serve` over stdio in a fresh data directory, with
GROUNDMCP_OWNER=0 so that the server process itself holds the Engine and the encoder (the code a
data dir's resident owner runs, without the socket in front), talks to it with the MCP SDK's own
client, and ingests the passages of a BEIR corpus through the `ingest` tool
(as texts, 1,000 a call, each named as `groundmcp eval` names it), then runs a few searches
through the `search` tool. A thread samples the server process's VmRSS (/proc/PID/status) every
0.2 s. Printed per run: the resident set once the handshake is done (start), once the encoder is
loaded and its single-query path is built (model), the peak during the ingest, right after the
ingest and the searches, after `--idle` seconds of idling, passages/s, and the searches' median ms.

Variants are environment settings for the server. By default two: `today`, the code as it was
before plain torch ran the bundled model (GROUNDMCP_ENCODER_BACKEND=sentence-transformers, memory
given back after batches), and `torch`, the default settings now. `--variant` names others, e.g.
`before:GROUNDMCP_ENCODER_BACKEND=sentence-transformers,GROUNDMCP_RELEASE_MEMORY=false` for the
code before batch memory was given back. Runs alternate (today, torch, today, torch, ...) so drift
on a shared machine hits both alike; compare within one invocation.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchutil import machine, print_machine, write_json
from mcp import Client, StdioServerParameters

DEFAULT_VARIANTS = ["today:GROUNDMCP_ENCODER_BACKEND=sentence-transformers", "torch:"]
QUERIES = (
    "how are retries backed off", "parse_headers", "read a json file into a dict",
    "sort a list of tuples by the second element", "what happens when the cache is full",
)
TEXTS_PER_CALL = 1000  # the ingest tool's limit
LOADED_MARK = "single queries:"  # logged once warm_up has built (or given up on) the fast query path
ENCODER_MARK = "encoder "


def proc_rss_mb(pid: int) -> float:
    """VmRSS of process `pid` in MB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def proc_rss_parts_mb(pid: int) -> dict[str, float]:
    """RssAnon (heap, tensors, Python objects) and RssFile (mapped files: libraries, the model's
    safetensors, the store's segments) of process `pid`, in MB."""
    parts = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("RssAnon", "RssFile"):
                parts[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return parts


def child_pid(marker: str, timeout: float = 60.0) -> int:
    """The pid of this process's child whose command line holds `marker`."""
    me, deadline = os.getpid(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            if ppid == me and marker in cmd:
                return int(entry.name)
        time.sleep(0.1)
    raise RuntimeError(f"no child process with {marker!r} in its command line")


class Sampler:
    """VmRSS of one process every `interval_s`; `peak_since(mark)` is the largest sample after it."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        self.pid, self.interval_s = pid, interval_s
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), proc_rss_mb(self.pid)))
            self._stop.wait(self.interval_s)

    def now(self) -> float:
        return proc_rss_mb(self.pid)

    def peak_since(self, t0: float) -> float:
        return max([mb for t, mb in self.samples if t >= t0] + [self.now()])

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


def load_docs(folder: Path, limit: int | None, seed: int) -> list[dict]:
    from benchutil import eval_doc_names

    from groundmcp.eval.dataset import render

    path = folder / "corpus.jsonl" if folder.is_dir() else folder
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    if limit and limit < len(records):
        records = random.Random(seed).sample(records, limit)
    return [{"id": name, "text": render(r)} for name, r in zip(eval_doc_names(records), records, strict=True)]


def wait_for_log(log: Path, mark: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and mark in log.read_text(errors="replace"):
            return True
        time.sleep(0.2)
    return False


async def one_run(name: str, env: dict[str, str], docs: list[dict], idle_s: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="groundmcp-mem-") as tmp:
        log = Path(tmp) / "server.log"
        marker = f"{tmp}/data"
        # exec keeps the pid: the sampled process is the server itself, not a shell.
        cmd = f'exec "{sys.executable}" -m groundmcp -v serve --root "{tmp}" 2>>"{log}"'
        params = StdioServerParameters(
            command="sh",
            args=["-c", cmd],
            # GROUNDMCP_OWNER=0: the server holds the Engine and encoder itself, as a data dir's
            # resident owner does, so the sampled process is the one that holds the model.
            env={**os.environ, "GROUNDMCP_DATA_DIR": marker, "GROUNDMCP_OWNER": "0", **env},
        )
        t_spawn = time.monotonic()
        async with Client(params, read_timeout_seconds=3600) as client:
            pid = await asyncio.to_thread(child_pid, "groundmcp")
            sampler = Sampler(pid)
            try:
                start_mb = sampler.now()
                if not await asyncio.to_thread(wait_for_log, log, ENCODER_MARK, 600):
                    raise RuntimeError(f"the encoder did not load: {log.read_text(errors='replace')[-2000:]}")
                await asyncio.to_thread(wait_for_log, log, LOADED_MARK, 120)
                await asyncio.sleep(1.0)
                model_mb = sampler.now()
                t0 = time.monotonic()
                for start in range(0, len(docs), TEXTS_PER_CALL):
                    batch = docs[start : start + TEXTS_PER_CALL]
                    result = await client.call_tool("ingest", {"texts": batch, "collection": "bench"})
                    if result.is_error:
                        raise RuntimeError(f"ingest failed: {result.content}")
                seconds = time.monotonic() - t0
                peak_mb = sampler.peak_since(t0)
                search_ms = []
                for query in QUERIES * 2:
                    t1 = time.monotonic()
                    result = await client.call_tool("search", {"query": query, "collection": "bench"})
                    search_ms.append((time.monotonic() - t1) * 1000)
                    if result.is_error:
                        raise RuntimeError(f"search failed: {result.content}")
                after_mb = sampler.now()
                await asyncio.sleep(idle_s)
                idle_mb = sampler.now()
                idle_parts = proc_rss_parts_mb(pid)
                total_peak = sampler.peak_since(t_spawn)
            finally:
                sampler.close()
    row = {
        "variant": name,
        "env": env,
        "start_mb": start_mb,
        "model_mb": model_mb,
        "ingest_peak_mb": peak_mb,
        "after_ingest_mb": after_mb,
        "idle_mb": idle_mb,
        "idle_anon_mb": idle_parts.get("RssAnon", 0.0),
        "idle_file_mb": idle_parts.get("RssFile", 0.0),
        "process_peak_mb": total_peak,
        "ingest_s": seconds,
        "passages_per_s": len(docs) / seconds,
        "search_ms_p50": statistics.median(search_ms),
    }
    print(
        f"  {name:12} start {start_mb:6.0f}  model {model_mb:6.0f}  ingest peak {peak_mb:6.0f}  "
        f"after {after_mb:6.0f}  idle {idle_mb:6.0f} MB  {row['passages_per_s']:6.1f} passages/s  "
        f"search p50 {row['search_ms_p50']:5.0f} ms  (idle: anon {row['idle_anon_mb']:.0f}, "
        f"files {row['idle_file_mb']:.0f} MB)",
        flush=True,
    )
    return row


def parse_variant(spec: str) -> tuple[str, dict[str, str]]:
    name, _, assigns = spec.partition(":")
    env = dict(a.split("=", 1) for a in assigns.split(",") if a)
    return name, env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", default="/tmp/eval-public/code", help="BEIR dataset folder (or corpus.jsonl)")
    parser.add_argument("--limit-docs", type=int, help="a seeded sample of this many passages")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=1, help="runs of each variant, alternating")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to idle after the ingest")
    parser.add_argument(
        "--variant", action="append", help="NAME:ENV=VALUE,... (repeatable; default: today and torch)"
    )
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    info = machine()
    print_machine(info)
    docs = load_docs(Path(args.beir), args.limit_docs, args.seed)
    variants = [parse_variant(v) for v in (args.variant or DEFAULT_VARIANTS)]
    print(f"corpus: {args.beir}, {len(docs)} passages; idle {args.idle:.0f} s; variants: "
          + "; ".join(f"{n} {e or '(defaults)'}" for n, e in variants), flush=True)
    rows = []
    for r in range(args.rounds):
        print(f"round {r + 1}", flush=True)
        for name, env in variants:
            rows.append(asyncio.run(one_run(name, env, docs, args.idle)))

    print("\nmedian over rounds (MB; passages/s)")
    print("| variant | start | model loaded | ingest peak | after ingest + searches | idle | passages/s | search p50 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, _ in variants:
        mine = [row for row in rows if row["variant"] == name]

        def med(key: str, mine=mine) -> float:
            return statistics.median(row[key] for row in mine)

        print(
            f"| {name} | {med('start_mb'):.0f} | {med('model_mb'):.0f} | {med('ingest_peak_mb'):.0f} | "
            f"{med('after_ingest_mb'):.0f} | {med('idle_mb'):.0f} | {med('passages_per_s'):.1f} | "
            f"{med('search_ms_p50'):.0f} |"
        )
    write_json(args.json, {"machine": info, "corpus": args.beir, "passages": len(docs), "runs": rows})


if __name__ == "__main__":
    main()
