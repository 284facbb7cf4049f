"""An evaluation's outputs: a Markdown table, a JSON file and a PNG chart comparing the modes; and
the paired comparison of two runs (bootstrap interval and sign test over per-query scores)."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .metrics import METRICS
from .runner import EvalResult

_HEADERS = {"ndcg@10": "nDCG@10", "recall@10": "R@10", "recall@100": "R@100", "mrr@10": "MRR@10"}


def markdown(result: EvalResult) -> str:
    groups = sorted({g for m in result.modes for g in m.groups})
    head = ["mode", *(_HEADERS[m] for m in METRICS), *(f"nDCG@10 {g}" for g in groups), "p50 ms"]
    lines = [
        f"**{result.dataset}**: {result.passages:,} passages ({result.chunks:,} chunks), "
        f"{result.queries:,} queries, model `{result.model}`",
        "",
        "| " + " | ".join(head) + " |",
        "|---|" + "---:|" * (len(head) - 1),
    ]
    for m in result.modes:
        cells = [m.mode, *(_fmt(m.overall[k]) for k in METRICS)]
        cells += [_fmt(m.groups.get(g, {}).get("ndcg@10")) for g in groups]
        cells.append(f"{m.latency_ms_p50:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(result: EvalResult, out_dir: Path) -> dict[str, Path]:
    """Write results.md, results.json and results.png under `out_dir`; returns what was written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"markdown": out_dir / "results.md", "json": out_dir / "results.json"}
    paths["markdown"].write_text(markdown(result), encoding="utf-8")
    paths["json"].write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    chart = _chart(result, out_dir / "results.png")
    if chart is not None:
        paths["chart"] = chart
    return paths


def _chart(result: EvalResult, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # no display; set before pyplot is imported
        import matplotlib.pyplot as plt
    except ImportError:
        return None  # the CLI says how to get it: pip install 'groundmcp[eval]'
    metrics = [k for k in METRICS if any(m.overall.get(k) is not None for m in result.modes)]
    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    width = 0.8 / max(len(result.modes), 1)
    for i, m in enumerate(result.modes):
        xs = [j + i * width for j in range(len(metrics))]
        ys = [m.overall.get(k) or 0.0 for k in metrics]
        bars = ax.bar(xs, ys, width, label=m.mode)
        ax.bar_label(bars, labels=[f"{y:.3f}" for y in ys], fontsize=6, padding=1)
    ax.set_xticks([j + width * (len(result.modes) - 1) / 2 for j in range(len(metrics))])
    ax.set_xticklabels([_HEADERS[k] for k in metrics])
    ax.set_ylim(0, 1)
    ax.set_title(f"{result.dataset}: {result.passages:,} passages, {result.queries:,} queries")
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def _fmt(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4f}"


@dataclass(frozen=True, slots=True)
class Paired:
    """Two runs' per-query scores on the same queries: the mean gain of `after` over `before`,
    a 95% paired-bootstrap interval for it, and the sign test over the queries that moved."""

    metric: str
    queries: int
    before: float
    after: float
    gain: float
    low: float  # 2.5th percentile of the bootstrapped mean gain
    high: float  # 97.5th percentile
    better: int  # queries whose score rose
    worse: int  # queries whose score fell
    p_sign: float  # two-sided exact sign test over better + worse queries

    def line(self) -> str:
        return (
            f"{self.metric} {self.before:.4f} -> {self.after:.4f} ({self.gain:+.4f}, 95% CI {self.low:+.4f} to "
            f"{self.high:+.4f}; {self.better} queries up, {self.worse} down, sign test p={self.p_sign:.3g}; "
            f"n={self.queries})"
        )


def paired(
    before: Mapping[str, float], after: Mapping[str, float], metric: str = "ndcg@10", *,
    resamples: int = 10_000, seed: int = 0,
) -> Paired:
    """Compare per-query scores (query id -> score) of two runs over the queries both scored."""
    ids = sorted(before.keys() & after.keys())
    if not ids:
        raise ValueError("the two runs share no query: compare runs of the same dataset")
    diffs = [after[q] - before[q] for q in ids]
    n = len(diffs)
    rng = random.Random(seed)
    means = sorted(sum(diffs[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    up, down = sum(d > 0 for d in diffs), sum(d < 0 for d in diffs)
    return Paired(
        metric, n, sum(before[q] for q in ids) / n, sum(after[q] for q in ids) / n, sum(diffs) / n,
        means[int(0.025 * resamples)], means[min(resamples - 1, int(0.975 * resamples))], up, down,
        sign_test(up, down),
    )


def sign_test(up: int, down: int) -> float:
    """Two-sided exact binomial sign test: how likely a split this uneven is if ups and downs are equally
    likely."""
    n = up + down
    if n == 0:
        return 1.0
    k = min(up, down)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def per_query(results: Mapping, mode: str, metric: str = "ndcg@10", group: str | None = None,
              groups: Mapping[str, str] | None = None) -> dict[str, float]:
    """Query id -> score of one mode of a results.json (as loaded), optionally of one group only
    (`groups`: query id -> group)."""
    for m in results["modes"]:
        if m["mode"] == mode:
            rows = m.get("per_query") or {}
            if not rows:
                raise ValueError(f"the {mode} results hold no per-query scores: re-run the eval to get them")
            return {q: s[metric] for q, s in rows.items()
                    if s.get(metric) is not None and (group is None or (groups or {}).get(q) == group)}
    raise ValueError(f"no {mode} mode in these results; they hold {', '.join(m['mode'] for m in results['modes'])}")
