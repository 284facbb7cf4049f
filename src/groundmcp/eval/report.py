"""An evaluation's outputs: a Markdown table, a JSON file and a PNG chart comparing the modes."""

from __future__ import annotations

import json
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
