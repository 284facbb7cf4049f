"""What the benchmark scripts share: machine facts, peak memory, percentiles, JSON output, real
packages to measure on.

Not a benchmark itself. The scripts import it as `benchutil` (Python puts the script's own folder,
bench/, on sys.path).
"""

from __future__ import annotations

import json
import os
import pickle
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_rss_mb() -> float:
    """The process's peak resident set so far (Linux reports KiB; macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def rss_mb() -> float:
    """The process's resident set now (Linux; 0 elsewhere)."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
    except OSError:
        return 0.0
    return pages * os.sysconf("SC_PAGE_SIZE") / (1024 * 1024)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); with few values the top ones are the maximum."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary_ms(times_s: list[float]) -> dict[str, float]:
    ms = [t * 1000 for t in times_s]
    return {
        "n": len(ms),
        "p50_ms": statistics.median(ms),
        "p99_ms": percentile(ms, 0.99),
        "mean_ms": statistics.fmean(ms),
        "min_ms": min(ms),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """Facts to print next to every figure: a number means little without the machine."""
    import torch

    from groundmcp.encoders.device import cpu_has_fast_bf16

    try:
        commit = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_bf16": cpu_has_fast_bf16(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
        "commit": commit,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def print_machine(info: dict) -> None:
    load = info.get("loadavg_at_start")
    print(
        f"machine: {info['cpu']}, {info['cores']} cores (torch threads {info['torch_threads']}, "
        f"native bf16: {info['cpu_bf16']}), GPU: {info['cuda'] or 'none'}; torch {info['torch']}, "
        f"Python {info['python']}; load average at start "
        + (", ".join(f"{x:.2f}" for x in load) if load else "?")
        + f"; commit {info['commit'] or '?'}"
    )


def write_json(path: str | None, data: dict) -> None:
    if not path:
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text(json.dumps(data, indent=2, default=str) + "\n")
    print(f"wrote {path}")


class RssSampler:
    """Samples the resident set on a thread while a block runs: the block's own peak, which
    ru_maxrss (a high-water mark since the process began) cannot give once a bigger phase has run."""

    def __init__(self, interval_s: float = 0.05) -> None:
        self.interval_s = interval_s
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_mb = max(self.peak_mb, rss_mb())
            self._stop.wait(self.interval_s)

    def __enter__(self) -> RssSampler:
        self.peak_mb = rss_mb()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_mb = max(self.peak_mb, rss_mb())


def eval_doc_names(records: list[dict]) -> list[str]:
    """Each passage's document name as `groundmcp eval` gives it: its metadata path, and for a later
    passage of the same file `2/path`, `3/path`... (names must be unique as text ids)."""
    from groundmcp.eval.dataset import doc_name

    taken: set[str] = set()
    names = []
    for r in records:
        name = doc_name(r, taken)
        taken.add(name)
        names.append(name)
    return names


def copy_package(name: str, dest: Path) -> Path:
    """A copy of the installed package `name` (from this virtualenv's site-packages, so nothing is
    downloaded) at `dest`, without byte code or compiled extensions; `dest` is returned."""
    source = Path(sysconfig.get_paths()["purelib"]) / name
    shutil.copytree(source, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.so"))
    return dest


def cached(path: Path | None, make: Callable[[], object]):
    """What `make()` returns, kept in `path` (pickle) and read back from it on the next run; with no
    path, made each time. For a replay bench's candidate lists, which take minutes to fetch."""
    if path is not None and path.exists():
        return pickle.loads(path.read_bytes())
    value = make()
    if path is not None:
        path.write_bytes(pickle.dumps(value))
    return value


def replay_ndcg(ds, cands: dict, order: Callable[[list], list[int]]) -> dict[str, float]:
    """nDCG@10 of each of the dataset's queries with its cached candidates (tuples whose first
    field is the hit's path) taken in `order(candidates)`: a passage ranks at its best chunk. For
    the replay benches, which score many orders of the same lists."""
    from groundmcp.eval.metrics import score_query

    out = {}
    for q in ds.queries:
        cs = cands[q.id]
        ranked: dict[str, None] = {}
        for i in order(cs):
            pid = ds.passage_of.get(cs[i][0])
            if pid is not None:
                ranked.setdefault(pid)
        out[q.id] = score_query(list(ranked), ds.qrels[q.id])["ndcg@10"]
    return out


def alternated_ms(queries: list[str], variants: list[str], run: Callable[[str, str], float], warm: int = 5) -> None:
    """Print p50 and p90 ms of `run(variant, query)` for each variant: each query once on each, the
    order flipped every query so drift hits all alike, after `warm` queries on each unmeasured."""
    for text in queries[:warm]:
        for name in variants:
            run(name, text)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for i, text in enumerate(queries):
        for name in variants[:: 1 if i % 2 else -1]:
            times[name].append(run(name, text))
    for name, xs in times.items():
        xs.sort()
        print(f"{name}: p50 {statistics.median(xs):.1f} ms, p90 {xs[int(len(xs) * 0.9)]:.1f} ms ({len(xs)} queries)")


def cold_search_ms(engine, text: str, collection: str, top_k: int = 10) -> float:
    """ms of one `engine.search` of `text`, its query cache emptied first (the query is encoded)."""
    from groundmcp.search.query import SearchRequest

    engine.queries.clear()
    began = time.perf_counter()
    engine.search(SearchRequest(text, top_k=top_k), collection=collection)
    return (time.perf_counter() - began) * 1000
