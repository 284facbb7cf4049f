"""Re-ingest cost: an unchanged tree, and one changed file, on the embedded store.

    python bench/make_tree.py /tmp/bench-tree-10k --files 10000
    python bench/reingest.py /tmp/bench-tree-10k [--data-dir /tmp/bench-reingest-data] [--repeats 5]

What is measured is the work around encoding (walk, stat, manifest read, hashing, store writes), so
the tree is indexed once with the hashing trick in place of the model: `BulkEncoder` has MiniLM's
name, dimension and tokenizer (chunks are exactly the real ones) but makes its vectors with
groundmcp.encoders.hashing, which exercises the whole pipeline except the model. The index stays in
--data-dir (default: a folder next to the tree), so later runs skip the build.

Then, in this process, on the warm store (the first ingest there also gives a collection made by an
earlier version the payload index on `chunk_index`; its time is printed):
  - unchanged re-ingest, --repeats times, with a breakdown (walk, manifest read, leftover check);
    wall and CPU time (on a shared machine the CPU time is the steadier figure);
  - `optimize` after it, as `groundmcp ingest` calls it on collections over OPTIMIZE_MIN_POINTS;
  - one changed file (a line appended to a different .py file each time): --repeats times with
    the hashing vectors (all but the model, wall and CPU), then --repeats times with the real
    MiniLM encoder switched in (total, the time inside encode calls, the rest), each followed by
    the `optimize` the CLI would run next;
and, as a user sees it, `groundmcp ingest TREE` as a subprocess (interpreter start, imports, store
open, ingest, optimize check; the model only if a file needs encoding, which on this unchanged tree
none does) next to `groundmcp --version` and a process that only loads the model. The edited
files are restored and the index brought back in line at the end.

Nothing here depends on the working tree's ingest internals beyond their public functions, so the
same script measures another checkout (before and after a change): PYTHONPATH=/path/to/other/src
python bench/reingest.py TREE --data-dir A_COPY_OF_THE_INDEX. Checkouts before the per-file manifest
(4607403 and earlier) have no `ids` argument to load_manifest and read it one row per chunk.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchutil import machine, peak_rss_mb, print_machine, write_json

from groundmcp.encoders.base import Encoder
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.engine import OPTIMIZE_MIN_POINTS
from groundmcp.ingest.manifest import drop_unpublished, load_manifest
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.ingest.walk import Skipped, walk
from groundmcp.settings import Settings
from groundmcp.store.factory import open_store

COLLECTION = "tree"


class BulkEncoder(Encoder):
    """The real encoder's name, dimension and token counts; hashing-trick vectors unless `real`."""

    def __init__(self, model: SentenceTransformerEncoder) -> None:
        self.model = model
        self.hashing = HashingEncoder(dim=model.dim, max_tokens=model.max_tokens)
        self.name, self.dim = model.name, model.dim
        self.max_tokens, self.special_tokens = model.max_tokens, model.special_tokens
        self.batch_size = model.batch_size
        self.real = False

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        if self.real:
            return self.model._embed(texts, is_query=is_query)
        return self.hashing._embed(texts, is_query=is_query)


def timed(fn, *args, **kwargs):
    """(result, wall seconds, CPU seconds of this process). On a shared machine the CPU time is
    the steadier figure: waiting for a core counts in the wall time only."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0, time.process_time() - c0


def fmt(runs: list[float]) -> str:
    return f"median {statistics.median(runs):6.2f} s  best {min(runs):6.2f} s  (runs: {', '.join(f'{r:.2f}' for r in runs)})"


def pick_files(tree: Path, count: int) -> list[Path]:
    """Python files of a few kB (a few chunks each), spread over the tree; the same every run."""
    files = sorted(
        Path(f.abs_path)
        for f in walk(tree)
        if not isinstance(f, Skipped) and f.path.endswith(".py") and 2_000 <= f.size <= 8_000
    )
    step = max(1, len(files) // count)
    return files[::step][:count]


LOAD_MODEL = "from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder as E; E()"


def subprocess_wall(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def cli_ingest(tree: Path, data_dir: Path) -> tuple[float, float]:
    """(wall seconds of `groundmcp ingest TREE`, the seconds its own report gives the ingest)."""
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "groundmcp", "ingest", str(tree), "--collection", COLLECTION, "--json"]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    report = json.loads(done.stdout)
    assert report["chunks"] == 0, "the CLI re-encoded something: the tree is not unchanged"
    return wall, report["seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree")
    parser.add_argument("--data-dir", help="where the index is kept between runs (default: TREE-index next to it)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cli-repeats", type=int, default=2, help="`groundmcp ingest` subprocess runs (0: none)")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    tree = Path(args.tree).resolve()
    data_dir = Path(args.data_dir or f"{tree}-index").resolve()
    info = machine()
    print_machine(info)

    model = SentenceTransformerEncoder()
    encoder = BulkEncoder(model)
    # The chunk sizes the CLI asks for (the pipeline fits them to the model): they are part of each
    # chunk's chunking key, so other values would make the CLI rows below re-chunk the tree.
    settings = Settings()
    options = IngestOptions(collection=COLLECTION, chunk_tokens=settings.chunk_tokens, chunk_overlap=settings.chunk_overlap)
    # The store the CLI opens for GROUNDMCP_DATA_DIR=data_dir (the embedded one, in its subfolder).
    store, open_s, _ = timed(
        open_store, data_dir=data_dir, qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None
    )
    out: dict = {"bench": "reingest", "machine": info, "tree": str(tree), "data_dir": str(data_dir)}

    built = COLLECTION in store.list_collections()
    report, settle_s, _ = timed(ingest_path, str(tree), store=store, encoder=encoder, options=options)
    points = store.info(COLLECTION).points
    print(f"first ingest on this store: {settle_s:.2f} s ({report.chunks} chunks encoded)")
    out["first_ingest_s"] = settle_s
    if not built or report.chunks:
        what = "built" if not built else "brought in line"
        print(
            f"index {what} with hashing-trick vectors: {report.files_seen} files, {report.chunks} chunks "
            f"({report.tokens} tokens) in {settle_s:.1f} s, of which {report.encode_seconds:.1f} s in the hashing encoder"
        )
        out["build"] = {"files": report.files_seen, "chunks": report.chunks, "tokens": report.tokens,
                        "seconds": settle_s, "encode_seconds": report.encode_seconds}
    if points >= OPTIMIZE_MIN_POINTS:
        _, optimize_s, _ = timed(store.optimize, COLLECTION)
        print(f"optimize (HNSW) after it: {optimize_s:.1f} s")
    print(f"tree: {tree}  files: {report.files_seen}  points: {points}  store opened in {open_s:.2f} s")
    out.update(files=report.files_seen, points=points)

    # Unchanged: the whole run, then its parts on their own.
    unchanged, unchanged_cpu, optimize_after = [], [], []
    for _ in range(args.repeats):
        r, seconds, cpu = timed(ingest_path, str(tree), store=store, encoder=encoder, options=options)
        assert r.chunks == 0, "the tree changed under the benchmark"
        unchanged.append(seconds)
        unchanged_cpu.append(cpu)
        if points >= OPTIMIZE_MIN_POINTS:
            optimize_after.append(timed(store.optimize, COLLECTION)[1])
    # Read the manifest as ingest_path does: one row per file (ids=False) where the checkout can.
    lean = {"ids": False} if "ids" in inspect.signature(load_manifest).parameters else {}
    steps = {
        "walk (list + stat)": lambda: sum(1 for _ in walk(tree)),
        "manifest read (scroll)": lambda: load_manifest(store, COLLECTION, str(tree), **lean),
        "leftover check (count)": lambda: drop_unpublished(store, COLLECTION, str(tree)),
    }
    parts: dict[str, list[float]] = {name: [] for name in steps}
    parts_cpu: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(args.repeats):
        for name, step in steps.items():
            _, seconds, cpu = timed(step)
            parts[name].append(seconds)
            parts_cpu[name].append(cpu)
    print(f"unchanged re-ingest (in process, warm store): {fmt(unchanged)}   target < 3 s")
    print(f"    CPU time of this process: {fmt(unchanged_cpu)}")
    print(f"    files unchanged by stat or hash: {r.unchanged} of {r.files_seen}; read again because they "
          f"hold no chunk: {len(r.empty)}; skipped: {len(r.skipped)}")
    out["unchanged_files"] = {"seen": r.files_seen, "unchanged": r.unchanged, "empty": len(r.empty),
                              "skipped": len(r.skipped)}
    for name, runs in parts.items():
        print(f"    {name:24} {fmt(runs)}   CPU median {statistics.median(parts_cpu[name]):.2f} s")
    if optimize_after:
        print(f"    then optimize (CLI)      {fmt(optimize_after)}")
    out["unchanged_s"] = unchanged
    out["unchanged_cpu_s"] = unchanged_cpu
    out["unchanged_parts_s"] = parts
    out["unchanged_parts_cpu_s"] = parts_cpu
    out["optimize_after_unchanged_s"] = optimize_after

    # One changed file: first with hashing vectors (everything but the model, with its CPU time),
    # then with the real encoder (a different file each time).
    model.encode_documents(["warm up the model"] * 4)
    changed, changed_hashing = [], []
    edited: dict[Path, bytes] = {}
    files = pick_files(tree, 2 * args.repeats)
    for i, path in enumerate(files):
        encoder.real = i >= args.repeats
        edited[path] = path.read_bytes()
        with path.open("a", encoding="utf-8") as f:
            f.write(f"\n# bench edit {i} {time.time_ns()}\n")
        r, seconds, cpu = timed(ingest_path, str(tree), store=store, encoder=encoder, options=options)
        assert len(r.changed) == 1, r.changed
        row = {"path": r.changed[0], "chunks": r.chunks, "tokens": r.tokens, "seconds": seconds, "cpu_seconds": cpu,
               "encode_seconds": r.encode_seconds, "rest_seconds": seconds - r.encode_seconds}
        if points >= OPTIMIZE_MIN_POINTS:
            row["optimize_after_s"] = timed(store.optimize, COLLECTION)[1]
        (changed if encoder.real else changed_hashing).append(row)
    rest = [c["rest_seconds"] for c in changed]
    print(f"one changed file, hashing vectors (all but the model): {fmt([c['seconds'] for c in changed_hashing])}")
    print(f"    CPU time of this process: {fmt([c['cpu_seconds'] for c in changed_hashing])}   target < 1 s")
    print(f"one changed file (real encoder): total {fmt([c['seconds'] for c in changed])}")
    print(f"    outside encode calls     {fmt(rest)}   target < 1 s")
    for c in changed:
        print(
            f"    {c['path']}: {c['chunks']} chunks, {c['tokens']} tokens; {c['seconds']:.2f} s = "
            f"{c['encode_seconds']:.2f} s encode + {c['rest_seconds']:.2f} s rest"
            + (f"; then optimize (CLI) {c['optimize_after_s']:.2f} s" if "optimize_after_s" in c else "")
        )
    out["changed"] = changed
    out["changed_hashing"] = changed_hashing

    # Put the tree back and the index in line, so the next run starts from the same state.
    for path, data in edited.items():
        path.write_bytes(data)
    encoder.real = False
    ingest_path(str(tree), store=store, encoder=encoder, options=options)
    if points >= OPTIMIZE_MIN_POINTS:
        store.optimize(COLLECTION)
    store.close()

    cli = [cli_ingest(tree, data_dir) for _ in range(args.cli_repeats)]
    if cli:
        start = [subprocess_wall([sys.executable, "-m", "groundmcp", "--version"]) for _ in cli]
        load = [subprocess_wall([sys.executable, "-c", LOAD_MODEL]) for _ in cli]
        print(f"`groundmcp ingest TREE`, unchanged, as a subprocess: wall {fmt([w for w, _ in cli])}")
        print(f"    the ingest itself (its report)     {fmt([s for _, s in cli])}")
        print(f"    `groundmcp --version` (start, CLI)  {fmt(start)}")
        print(f"    a process that loads the model     {fmt(load)}   (start, torch import, model load)")
        out["cli_version_wall_s"] = start
        out["model_load_process_wall_s"] = load
    out["cli_unchanged_wall_s"] = [w for w, _ in cli]
    out["cli_unchanged_report_s"] = [s for _, s in cli]
    out["peak_rss_mb"] = peak_rss_mb()
    out["loadavg_at_end"] = os.getloadavg()
    print(f"process peak RSS: {peak_rss_mb():.0f} MB")
    write_json(args.json, out)


if __name__ == "__main__":
    main()
