"""Ingest throughput through the `/v1/embeddings` route against the local encoder, same run.

    nice -n 10 python bench/provider_throughput.py [--path DIR] [--limit-files N] [--rounds 3] [--json OUT]

Starts one `groundmcp serve --http --no-owner` on a free loopback port, with a token and its own
temporary data dir, running the bundled model; it is ready when its `/v1/embeddings` answers.
Then ingests the same tree (by default a copy of the `click` package's sources from this venv's
site-packages; `--path` another folder, `--limit-files` a seeded sample of it) into a fresh
temporary data dir each time, alternating: the local encoder, then
`openai:sentence-transformers/all-MiniLM-L6-v2` through the route. A warm-up ingest of each comes
first (model load, the server's too, and oneDNN's kernels for every batch shape do not count),
then `--rounds` measured pairs.

Both paths chunk to the same budget: `--chunk-tokens`, by default the local model's window less its
special tokens (254 for the bundled model). The `openai:` encoder cannot know the served model's
window, so with the settings' default (256) it would cut chunks to 256 tokens where the local
path cuts them to 254: other chunk boundaries, and chunks the server's model then truncates. Pass
`--chunk-tokens 256` to see the agreement check fail on that.

Each ingest runs in this process through `groundmcp.engine.Engine.ingest` (walk, chunk, encode,
write and publish: what `groundmcp ingest --no-owner` does after it opened the store and loaded
the model), timed around that call alone. The two encoders are each loaded once, as an owner
would hold them, and handed to every Engine.

Prints chunks/s and tokens/s (median and best of the rounds) for each path, and the route's
throughput over the local one as the median of the per-pair ratios (each pair ran back to back,
so slow drift on a shared machine cancels out of it). Then checks that the last pair's indexes
agree: the same number of chunks in every ingest, and the stored vectors of chunks with the same
path, start line and text at cosine >= 0.999. Exits 1 if either fails, after printing.

The server runs on this machine: the route figure includes the server's own encode on the same
CPU cores as the ingest. It measures what the protocol costs (HTTP, JSON, a second process, the
request batching), not how fast a remote GPU would encode.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from benchutil import machine, print_machine, write_json
from pydantic import SecretStr

from groundmcp.encoders.factory import load_encoder
from groundmcp.encoders.sentence_transformers import BUNDLED_MODEL
from groundmcp.engine import Engine
from groundmcp.ingest.pipeline import chunk_budget
from groundmcp.record import NOT_CHUNKS, P
from groundmcp.settings import Settings
from groundmcp.store.base import DENSE, Filters
from groundmcp.store.edge import EdgeStore
from groundmcp.store.edge_layout import EDGE_SUBDIR

TOKEN = "bench-token"
MIN_COSINE = 0.999


@dataclass
class Run:
    seconds: float
    chunks: int  # published chunks in the index (Engine.chunk_count)
    reported: int  # chunks the ingest report says it encoded
    tokens: int
    files: int
    data_dir: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post_embeddings(url: str, texts: list[str], timeout: float = 60.0) -> dict:
    body = json.dumps({"input": texts, "model": BUNDLED_MODEL}).encode()
    request = urllib.request.Request(
        f"{url}/embeddings", body, {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return json.load(answer)


@contextmanager
def served(scratch: Path, timeout: float = 300.0):
    """A `groundmcp serve --http --no-owner` in its own data dir; yields its /v1 base URL once its
    /v1/embeddings answers (the first answer loads the model)."""
    (scratch / "root").mkdir()
    port = free_port()
    log = (scratch / "server.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundmcp", "serve", "--http", "--no-owner", "--host", "127.0.0.1",
         "--port", str(port), "--token", TOKEN, "--root", str(scratch / "root")],
        env={**os.environ, "GROUNDMCP_DATA_DIR": str(scratch / "server-data")},
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + timeout
        t0 = time.perf_counter()
        while True:
            if proc.poll() is not None:
                sys.exit(f"the server exited {proc.returncode}:\n{(scratch / 'server.log').read_text()[-3000:]}")
            try:
                post_embeddings(url, ["ready?"])
                break
            except (OSError, urllib.error.HTTPError) as exc:  # refused, or 503 while it starts
                if time.monotonic() >= deadline:
                    sys.exit(f"the server did not answer within {timeout:.0f} s ({exc}):\n"
                             f"{(scratch / 'server.log').read_text()[-3000:]}")
                time.sleep(0.5)
        print(f"server: pid {proc.pid} on {url}, answering after {time.perf_counter() - t0:.1f} s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def default_tree(into: Path) -> tuple[str, str]:
    """A copy of the click package's sources from this venv: (path, label)."""
    import click

    source = Path(click.__file__).parent
    target = into / "click"
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return str(target), f"{source} (copied)"


def ingest_once(source: str, settings: Settings, encoder, scratch: Path) -> Run:
    """Ingest `source` into a fresh data dir with `encoder`; the clock runs around Engine.ingest."""
    data_dir = Path(tempfile.mkdtemp(prefix="ingest-", dir=scratch))
    engine = Engine(settings.model_copy(update={"data_dir": data_dir}), encoder=encoder)
    try:
        t0 = time.perf_counter()
        report = engine.ingest(source)
        seconds = time.perf_counter() - t0
        chunks = engine.chunk_count(settings.collection)
    finally:
        engine.close()
    return Run(seconds, chunks, report.chunks, report.tokens, report.files_seen, data_dir)


def stored_vectors(run: Run, collection: str) -> dict[tuple, np.ndarray]:
    """Every chunk's stored vector, keyed by (path, start line, text). The store's interface gives
    no vectors back, so they are read off the Edge shard itself."""
    store = EdgeStore(run.data_dir / EDGE_SUBDIR)
    try:
        keys = {
            (p[P.PATH], p[P.START_LINE], p[P.TEXT]): pid
            for pid, p in store.scroll(collection, Filters(visible=True), [P.PATH, P.START_LINE, P.TEXT, P.KIND])
            if p.get(P.KIND) not in NOT_CHUNKS
        }
        shard = store._open(collection).shard  # noqa: SLF001 - see the docstring
        ids = list(keys.values())
        records = {str(r.id): r.vector[DENSE] for r in shard.retrieve(ids, False, True)}
    finally:
        store.close()
    return {key: np.asarray(records[pid], dtype=np.float32) for key, pid in keys.items() if pid in records}


def compare(local: Run, route: Run, collection: str, sample: int, seed: int) -> dict:
    """Cosines between the two indexes' vectors of the same chunks: all of them, and a seeded sample."""
    a, b = stored_vectors(local, collection), stored_vectors(route, collection)
    common = sorted(set(a) & set(b))
    cosines = [float(a[k] @ b[k] / (np.linalg.norm(a[k]) * np.linalg.norm(b[k]))) for k in common]
    picked = random.Random(seed).sample(range(len(common)), min(sample, len(common)))
    return {
        "local_vectors": len(a),
        "route_vectors": len(b),
        "common": len(common),
        "min_cosine": min(cosines, default=float("nan")),
        "below": sum(c < MIN_COSINE for c in cosines),
        "sample": [{"path": common[i][0], "start_line": common[i][1], "cosine": cosines[i]} for i in picked],
    }


def rate_line(label: str, runs: list[float], chunks: int, tokens: int) -> str:
    med, best = statistics.median(runs), min(runs)
    return (
        f"{label:10} median {med:7.2f} s  {chunks / med:7.1f} chunks/s  {tokens / med:8.0f} tokens/s"
        f"   | best {best:7.2f} s  {chunks / best:7.1f} chunks/s  {tokens / best:8.0f} tokens/s"
        f"   (runs: {', '.join(f'{r:.2f}' for r in runs)} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", help="folder to ingest (default: a copy of click's sources from this venv)")
    parser.add_argument("--limit-files", type=int, help="a seeded sample of this many files of the tree, copied")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=3, help="measured (local, route) pairs")
    parser.add_argument("--chunk-tokens", type=int,
                        help="chunk size for both paths (default: the local model's window less its special tokens)")
    parser.add_argument("--sample", type=int, default=8, help="vectors to print from the agreement check")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()

    info = machine()
    print_machine(info)
    with tempfile.TemporaryDirectory(prefix="provider-bench-") as tmp:
        scratch = Path(tmp)
        if args.path:
            source, label = args.path, args.path
        else:
            source, label = default_tree(scratch / "tree")
        if args.limit_files:
            from ingest_throughput import limited_copy

            source = limited_copy(source, args.limit_files, args.seed, scratch / "sample")
            label += f" ({args.limit_files} files, seeded sample)"
        (scratch / "server").mkdir()
        with served(scratch / "server") as url:
            local_settings = Settings(data_dir=scratch / "unused")
            local_encoder = load_encoder(local_settings)
            chunk_tokens = args.chunk_tokens or chunk_budget(local_encoder, local_settings.chunk_tokens)
            local_settings = local_settings.model_copy(update={"chunk_tokens": chunk_tokens})
            route_settings = local_settings.model_copy(update={
                "model": f"openai:{BUNDLED_MODEL}", "openai_base_url": url, "openai_api_key": SecretStr(TOKEN)})
            route_encoder = load_encoder(route_settings)
            paths = {"local": (local_settings, local_encoder), "route": (route_settings, route_encoder)}

            def ingest(which: str) -> Run:
                settings, encoder = paths[which]
                return ingest_once(source, settings, encoder, scratch)

            warm = {which: ingest(which) for which in paths}  # model load, kernels per batch shape
            runs: dict[str, list[Run]] = {"local": [], "route": []}
            for i in range(args.rounds):
                for which in paths:
                    runs[which].append(ingest(which))
                    if i < args.rounds - 1:
                        shutil.rmtree(runs[which][-1].data_dir)  # the last pair stays for the check
                print(f"round {i + 1}: local {runs['local'][-1].seconds:.2f} s, route {runs['route'][-1].seconds:.2f} s",
                      flush=True)
        agreement = compare(runs["local"][-1], runs["route"][-1], local_settings.collection, args.sample, args.seed)

    every = [r for which in paths for r in [warm[which], *runs[which]]]
    counts = {which: sorted({r.chunks for r in [warm[which], *runs[which]]}) for which in paths}
    same_chunks = len({r.chunks for r in every}) == 1 and all(r.chunks == r.reported for r in every)
    vectors_agree = agreement["common"] > 0 and agreement["below"] == 0 and agreement["common"] == agreement["local_vectors"] == agreement["route_vectors"]
    last = runs["local"][-1]
    n, tokens = last.chunks, last.tokens
    seconds = {which: [r.seconds for r in runs[which]] for which in paths}
    # Throughput ratio route/local per back-to-back pair: local time over route time.
    ratios = [lo / ro for lo, ro in zip(seconds["local"], seconds["route"], strict=True)]
    ratio = statistics.median(ratios)

    print(f"corpus: {label}  files: {last.files}  chunks: {n}  tokens: {tokens}  ({tokens / max(n, 1):.0f} per chunk)")
    print(f"local encoder: {local_encoder.name} on {local_encoder.device}, batch {local_settings.batch_size}")
    print(f"route encoder: {route_encoder.name} via {url}/embeddings, {route_settings.openai_batch_size} texts a request; "
          f"the server encodes them with the same model, batch {local_settings.batch_size}")
    print(f"chunk budget for both paths: {chunk_tokens} tokens")
    print("each figure: Engine.ingest in this process (walk, chunk, encode, write, publish) into a fresh data dir")
    for which in paths:
        print(rate_line(which, seconds[which], runs[which][-1].chunks, runs[which][-1].tokens))
    print(f"route/local throughput: {ratio:.2f} (median of the pairs: {', '.join(f'{r:.2f}' for r in ratios)}); "
          f"the route takes {1 / ratio:.2f}x the local time")
    print("note: the server shares this machine's CPU cores, so the route figure includes the server's own encode "
          "on the same CPU: it measures the protocol's overhead, not a remote GPU's speed")
    print(f"chunks per ingest: local {counts['local']}, route {counts['route']}: "
          + ("the same" if same_chunks else "DIFFERENT"))
    print(f"vectors: {agreement['common']} chunks with the same path, start line and text in both indexes (of local "
          f"{agreement['local_vectors']}, route {agreement['route_vectors']}), min cosine {agreement['min_cosine']:.6f}, {agreement['below']} below "
          f"{MIN_COSINE}; sample: " + ", ".join(f"{s['path']}:{s['start_line']} {s['cosine']:.6f}" for s in agreement["sample"]))
    write_json(
        args.json,
        {
            "bench": "provider_throughput",
            "machine": info,
            "corpus": label,
            "files": last.files,
            "chunks": n,
            "tokens": tokens,
            "chunk_tokens": chunk_tokens,
            "local_encoder": {"name": local_encoder.name, "device": local_encoder.device,
                              "batch_size": local_settings.batch_size},
            "route_encoder": {"name": route_encoder.name, "batch_size": route_settings.openai_batch_size},
            "server_on_same_machine": True,
            "warmup_s": {which: warm[which].seconds for which in paths},
            "local_s": seconds["local"],
            "route_s": seconds["route"],
            **{f"{which}_{unit}_per_s_{stat}": getattr(runs[which][-1], unit) / fn(seconds[which])
               for which in paths for unit in ("chunks", "tokens")
               for stat, fn in (("median", statistics.median), ("best", min))},
            "route_over_local_throughput_pairs": ratios,
            "route_over_local_throughput_median": ratio,
            "chunks_per_ingest": counts,
            "same_chunks": same_chunks,
            "vectors": agreement,
            "vectors_agree": vectors_agree,
            "loadavg_at_end": os.getloadavg(),
        },
    )
    if not (same_chunks and vectors_agree):
        sys.exit("FAILED: the two indexes differ (see the chunks and vectors lines above)")


if __name__ == "__main__":
    main()
