"""Quality drift: each `groundmcp eval` run kept with the commit, model and date it was made with,
and the last two runs of a dataset compared query by query, per mode and query group.

Where: beside a run's results.json (`eval-results/NAME/` by default), `runs/` gets one JSON file per
run, named by its UTC time and commit (`20261206T141503Z-e996571a2b.json`), never overwritten: the
provenance (the groundmcp checkout's commit and whether it had uncommitted changes, the version,
model, date and the dataset's digest), each query's group, and the results with their per-query
scores. Delete a file to forget that run.

Beyond noise: two runs of one dataset score the same queries, so each query's change is a paired
difference. A mode's (or a group's) mean moved beyond noise when the 95% paired-bootstrap interval
of the mean change excludes zero AND the two-sided sign test over the queries whose score moved
gives p < 0.05 (report.paired computes both): neither a few large swings nor many tiny ones alone
raise the alarm. Two runs of the same code over the same index score alike, query for query (the
search is deterministic), so they show no change at all.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import InputError
from .dataset import Dataset
from .metrics import METRICS
from .report import Paired, paired
from .runner import EvalResult

RUNS = "runs"  # the folder of run records beside results.json
ALPHA = 0.05  # the sign test's threshold; the bootstrap interval is 95%
SCHEMA = 1


def provenance(result: EvalResult, ds: Dataset) -> dict:
    """What a run was made with: commit (None outside a git checkout), dirty tree, version, model,
    date (UTC) and the dataset it scored."""
    commit, dirty = _git_state(Path(__file__).resolve().parent)
    now = time.time_ns()
    return {
        "schema": SCHEMA,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now / 1e9)),
        "time_ns": now,  # orders two runs of one second
        "commit": commit,
        "dirty": dirty,
        "version": __version__,
        "model": result.model,
        "dataset": ds.name,
        "dataset_digest": ds.digest,
        "queries": len(ds.queries),
    }


def _git_state(where: Path) -> tuple[str | None, bool]:
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(where), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return None, False
    return commit, bool(git("status", "--porcelain", "--untracked-files=no"))


def record_run(result: EvalResult, ds: Dataset, out_dir: Path) -> Path:
    """Keep this run under `out_dir/runs/`; returns the file written."""
    meta = provenance(result, ds)
    folder = out_dir / RUNS
    folder.mkdir(parents=True, exist_ok=True)
    stamp = meta["date"].replace("-", "").replace(":", "")
    base = f"{stamp}-{(meta['commit'] or 'nogit')[:10]}"
    path, n = folder / f"{base}.json", 2
    while path.exists():  # two runs in one second
        path, n = folder / f"{base}-{n}.json", n + 1
    record = {"run": meta, "groups": {q.id: q.group for q in ds.queries}, **result.to_dict()}
    path.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return path


@dataclass(frozen=True, slots=True)
class Run:
    path: Path
    record: dict

    @property
    def meta(self) -> dict:
        return self.record["run"]

    def label(self) -> str:
        m = self.meta
        commit = (m["commit"] or "no commit")[:10] + ("+dirty" if m["dirty"] else "")
        return f"{m['date']} {commit} {m['model']}"

    def scores(self, mode: str, metric: str, group: str | None) -> dict[str, float] | None:
        """Query id -> score of `mode` (of `group`'s queries only); None when this run has no such mode."""
        for m in self.record["modes"]:
            if m["mode"] != mode:
                continue
            rows = m.get("per_query") or {}
            if not rows:
                raise InputError(f"{self.path} holds no per-query scores for {mode}: re-run the eval to compare it")
            groups = self.record.get("groups", {})
            return {q: s[metric] for q, s in rows.items()
                    if s.get(metric) is not None and (group is None or groups.get(q) == group)}
        return None


def runs_in(folder: Path) -> list[Run]:
    """The runs recorded under `folder` (a results folder, or its runs/), oldest first."""
    where = folder if folder.name == RUNS else folder / RUNS
    runs = []
    for path in where.glob("*.json"):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputError(f"{path} cannot be read ({exc}); move it out of {where}") from None
        if not (isinstance(record, dict) and isinstance(record.get("run"), dict) and "date" in record["run"]
                and isinstance(record.get("modes"), list)):
            raise InputError(f"{path} is not a groundmcp eval run record; move it out of {where}")
        runs.append(Run(path, record))
    return sorted(runs, key=lambda r: (r.meta["date"], r.meta.get("time_ns", 0), r.path.name))


def histories(root: Path) -> list[Path]:
    """The results folders to compare: `root` itself when it holds runs, else each folder under it
    that does (`eval-results/` holds one per dataset)."""
    if not root.is_dir():
        raise InputError(f"{root} is not a folder: pass a results folder (eval-results/NAME) or eval-results")
    if (root / RUNS).is_dir() or root.name == RUNS:
        return [root]
    found = sorted(p.parent for p in root.glob(f"*/{RUNS}") if p.is_dir())
    if not found:
        raise InputError(f"no eval runs under {root}: `groundmcp eval DATASET` records one in "
                         f"eval-results/NAME/{RUNS}/ (or under --out)")
    return found


@dataclass(frozen=True, slots=True)
class Drift:
    mode: str
    group: str  # "all", or a query group
    paired: Paired

    @property
    def verdict(self) -> str:
        p = self.paired
        if p.better == p.worse == 0:
            return "unchanged"
        if p.p_sign < ALPHA and (p.low > 0 or p.high < 0):
            return "better" if p.gain > 0 else "worse"
        return "within noise"

    def to_dict(self) -> dict:
        p = self.paired
        return {"mode": self.mode, "group": self.group, "metric": p.metric, "queries": p.queries,
                "before": round(p.before, 4), "after": round(p.after, 4), "gain": round(p.gain, 4),
                "ci95": [round(p.low, 4), round(p.high, 4)], "up": p.better, "down": p.worse,
                "p_sign": round(p.p_sign, 4), "verdict": self.verdict}


def compare(before: Run, after: Run, metric: str = "ndcg@10") -> list[Drift]:
    """Each mode both runs scored, over all queries and per group (when there are several)."""
    if metric not in METRICS:
        raise InputError(f"unknown metric {metric!r}: choose from {', '.join(METRICS)}")
    groups = sorted({g for r in (before, after) for g in r.record.get("groups", {}).values() if g})
    out = []
    for m in after.record["modes"]:
        mode = m["mode"]
        for group in [None, *(groups if len(groups) > 1 else [])]:
            a, b = after.scores(mode, metric, group), before.scores(mode, metric, group)
            if a is None or b is None or not (a.keys() & b.keys()):
                continue  # a mode only one run scored; a metric the mode leaves out (R@100 reranked)
            out.append(Drift(mode, group or "all", paired(b, a, metric)))
    return out


def report(folder: Path, before: Run, after: Run, drifts: list[Drift]) -> str:
    """The comparison as plain text: which runs, then a line per mode and group."""
    lines = [f"{folder}: {len(runs_in(folder))} runs; comparing the last two",
             f"  before: {before.label()}  ({before.path.name})",
             f"  after:  {after.label()}  ({after.path.name})"]
    if before.meta.get("dataset_digest") != after.meta.get("dataset_digest"):
        lines.append("  note: the dataset changed between the runs; compared over the queries both scored")
    if not drifts:
        lines.append("  no mode in common to compare")
        return "\n".join(lines)
    metric = drifts[0].paired.metric
    head = f"  {'mode':<14} {'group':<12} {'n':>5}  {metric + ' before':>15} {'after':>7} {'change':>8}  " \
           f"{'95% CI':<17} {'up/down':>8} {'sign p':>7}  verdict"
    lines += ["", head]
    for d in drifts:
        p = d.paired
        ci = f"{p.low:+.4f}..{p.high:+.4f}"
        lines.append(f"  {d.mode:<14} {d.group:<12} {p.queries:>5}  {p.before:>15.4f} {p.after:>7.4f} {p.gain:>+8.4f}  "
                     f"{ci:<17} {f'{p.better}/{p.worse}':>8} {p.p_sign:>7.3g}  {d.verdict}")
    moved = [d for d in drifts if d.verdict in ("better", "worse")]
    lines += ["", f"  beyond noise: {', '.join(f'{d.mode}/{d.group} {d.verdict}' for d in moved)}" if moved else
              "  nothing moved beyond noise (95% paired-bootstrap interval excluding 0 and sign test p < 0.05)"]
    return "\n".join(lines)
