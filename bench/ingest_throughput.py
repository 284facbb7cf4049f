"""Ingest throughput: the whole pipeline against the raw encoder on the same chunks, same run.

    python bench/ingest_throughput.py PATH [--limit-files N] [--rounds 2] [--json OUT]
    python bench/ingest_throughput.py --beir /tmp/eval-public/docs --limit-docs 1000 [...]

Ingests PATH (a folder, or with --beir the passages of a BEIR corpus.jsonl, each as one document
named as `groundmcp eval` names it) into a fresh embedded store in a temporary folder. The first
ingest warms the model on every batch shape (oneDNN builds kernels per shape) and collects the very
texts the pipeline encoded. Then, `--rounds` times, the raw encoder encodes those texts in one call
(length-sorted across all of them, the best case for padding) and a fresh ingest runs; a last raw
encode closes the run. Each ingest is compared with the mean of the raw encodes on either side of
it, so slow drift on a shared machine cancels out of the ratio.

Prints chunks/s and tokens/s for each (median and best of the runs), the pipeline's overhead over
encoding alone, the time spent inside encode calls during the ingest and the rest of the ingest
(what the pipeline does not hide behind encoding: steadier than the ratio when encode speed itself
swings from run to run on a shared machine), and memory: the resident set
after the model loaded, each phase's peak (sampled every 50 ms) and the process's peak (ru_maxrss).
Tokens are the encoder's own, without special tokens, as the ingest report counts them.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchutil import RssSampler, machine, peak_rss_mb, print_machine, rss_mb, write_json

from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.ingest.pipeline import IngestOptions, chunk_budget, ingest_path, ingest_texts
from groundmcp.ingest.walk import Skipped, walk
from groundmcp.store.edge import EdgeStore


def beir_docs(folder: Path, limit: int | None, seed: int) -> list[tuple[str, str]]:
    """(document name, text) for a seeded sample of a BEIR corpus, as `groundmcp eval` ingests it."""
    from benchutil import eval_doc_names

    from groundmcp.eval.dataset import render

    path = folder / "corpus.jsonl" if folder.is_dir() else folder
    records = [json.loads(line) for line in path.open(encoding="utf-8") if line.strip()]
    if limit and limit < len(records):
        records = random.Random(seed).sample(records, limit)
    return [(name, render(r)) for name, r in zip(eval_doc_names(records), records, strict=True)]


def limited_copy(path: str, limit: int, seed: int, into: Path) -> str:
    """A copy of a seeded sample of `limit` files the walker yields under `path`, paths kept."""
    files = [f for f in walk(path) if not isinstance(f, Skipped)]
    for f in random.Random(seed).sample(files, min(limit, len(files))):
        target = into / f.path
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(f.abs_path, target)
    return str(into)


def ingest_once(source, encoder, options: IngestOptions):
    """Ingest into a fresh embedded store: (report, the texts that were encoded, peak RSS in MB)."""
    with tempfile.TemporaryDirectory() as tmp, RssSampler() as rss:
        store = EdgeStore(Path(tmp))
        try:
            if isinstance(source, str):
                report = ingest_path(source, store=store, encoder=encoder, options=options)
            else:
                report = ingest_texts(source, store=store, encoder=encoder, options=options)
            texts = [
                f"{p['header']}\n{p['text']}" if p["header"] else p["text"]
                for _, p in store.scroll(options.collection, None, ["header", "text"])
            ]
        finally:
            store.close()
    return report, texts, rss.peak_mb


def time_encode(encoder, texts: list[str]) -> tuple[float, float]:
    """(seconds, peak RSS in MB) of encoding `texts` in one call."""
    with RssSampler() as rss:
        t0 = time.perf_counter()
        encoder.encode_documents(texts)
        seconds = time.perf_counter() - t0
    return seconds, rss.peak_mb


def rate_line(label: str, runs: list[float], chunks: int, tokens: int) -> str:
    med, best = statistics.median(runs), min(runs)
    return (
        f"{label:34} median {med:7.2f} s  {chunks / med:7.1f} chunks/s  {tokens / med:8.0f} tokens/s"
        f"   | best {best:7.2f} s  {chunks / best:7.1f} chunks/s  {tokens / best:8.0f} tokens/s"
        f"   (runs: {', '.join(f'{r:.2f}' for r in runs)} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", help="folder to ingest (or use --beir)")
    parser.add_argument("--beir", help="a BEIR dataset folder (or its corpus.jsonl): ingest its passages as texts")
    parser.add_argument("--limit-docs", type=int, help="with --beir: a seeded sample of this many passages")
    parser.add_argument("--limit-files", type=int, help="with PATH: a seeded sample of this many files, copied")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=2, help="measured (raw encode, ingest) pairs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window", type=int, default=IngestOptions().window_chunks, help="chunks per encode call")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if bool(args.path) == bool(args.beir):
        parser.error("give a PATH or --beir DATASET, not both")

    info = machine()
    print_machine(info)
    scratch = tempfile.TemporaryDirectory()
    if args.beir:
        source = beir_docs(Path(args.beir), args.limit_docs, args.seed)
        label = f"{args.beir} ({len(source)} passages{', seeded sample' if args.limit_docs else ''})"
    elif args.limit_files:
        source = limited_copy(args.path, args.limit_files, args.seed, Path(scratch.name))
        label = f"{args.path} ({args.limit_files} files, seeded sample)"
    else:
        source, label = args.path, args.path

    t0 = time.perf_counter()
    encoder = SentenceTransformerEncoder(batch_size=args.batch_size)
    load_s = time.perf_counter() - t0
    after_load = rss_mb()
    options = IngestOptions(collection="bench", chunk_tokens=chunk_budget(encoder, 256), window_chunks=args.window)

    # The warm-up ingest: every batch shape seen once, and the texts the pipeline encodes.
    warm_report, texts, _ = ingest_once(source, encoder, options)
    raw: list[float] = []
    pipeline: list[float] = []
    encode_in_ingest: list[float] = []
    peaks = {"raw": 0.0, "pipeline": 0.0}
    report = warm_report

    def raw_run() -> None:
        seconds, peak = time_encode(encoder, texts)
        raw.append(seconds)
        peaks["raw"] = max(peaks["raw"], peak)

    raw_run()
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        report, _, peak = ingest_once(source, encoder, options)
        pipeline.append(time.perf_counter() - t0)
        encode_in_ingest.append(report.encode_seconds)
        peaks["pipeline"] = max(peaks["pipeline"], peak)
        raw_run()
    scratch.cleanup()

    n, tokens = report.chunks, report.tokens
    ratios = [p / ((raw[i] + raw[i + 1]) / 2) for i, p in enumerate(pipeline)]
    overhead = 100 * (statistics.median(ratios) - 1)
    print(f"corpus: {label}  files: {report.files_seen}  chunks: {n}  tokens: {tokens}  ({tokens / max(n, 1):.0f} per chunk)")
    print(f"encoder: {encoder.name} on {encoder.device} ({str(encoder.dtype).removeprefix('torch.')}), batch {args.batch_size}, window {args.window}; load {load_s:.1f} s")
    print(rate_line("pipeline (walk+chunk+encode+write)", pipeline, n, tokens))
    print(rate_line("raw encoder, same chunks, one call", raw, n, tokens))
    print(f"pipeline overhead over encoding alone: {overhead:+.1f}%  (per ingest, against the raw runs on either side: {', '.join(f'{100 * (r - 1):+.1f}%' for r in ratios)})")
    print(f"time inside encode calls during ingest: {', '.join(f'{s:.2f}' for s in encode_in_ingest)} s")
    outside = [p - e for p, e in zip(pipeline, encode_in_ingest, strict=True)]
    print(f"pipeline time outside encode calls (walk, chunk and write not hidden behind encoding): "
          f"{', '.join(f'{s:.2f}' for s in outside)} s, median {100 * statistics.median(o / p for o, p in zip(outside, pipeline)):.1f}% of the ingest")
    print(
        f"memory: {after_load:.0f} MB resident after the model loaded; peak {peaks['pipeline']:.0f} MB during an "
        f"ingest, {peaks['raw']:.0f} MB during a raw encode; process peak (ru_maxrss) {peak_rss_mb():.0f} MB"
    )
    write_json(
        args.json,
        {
            "bench": "ingest_throughput",
            "machine": info,
            "corpus": label,
            "files": report.files_seen,
            "chunks": n,
            "tokens": tokens,
            "encoder": {"name": encoder.name, "device": encoder.device, "dtype": str(encoder.dtype), "batch_size": args.batch_size},
            "window": args.window,
            "pipeline_s": pipeline,
            "raw_s": raw,
            "encode_in_ingest_s": encode_in_ingest,
            "outside_encode_s": [p - e for p, e in zip(pipeline, encode_in_ingest, strict=True)],
            "pipeline_chunks_per_s_median": n / statistics.median(pipeline),
            "pipeline_tokens_per_s_median": tokens / statistics.median(pipeline),
            "raw_chunks_per_s_median": n / statistics.median(raw),
            "raw_tokens_per_s_median": tokens / statistics.median(raw),
            "pipeline_chunks_per_s_best": n / min(pipeline),
            "raw_chunks_per_s_best": n / min(raw),
            "overhead_pct_median": overhead,
            "overhead_pct_runs": [100 * (r - 1) for r in ratios],
            "rss_after_model_mb": after_load,
            "peak_rss_pipeline_mb": peaks["pipeline"],
            "peak_rss_raw_mb": peaks["raw"],
            "peak_rss_process_mb": peak_rss_mb(),
            "loadavg_at_end": os.getloadavg(),
        },
    )


if __name__ == "__main__":
    main()
