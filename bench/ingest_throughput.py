"""Ingest throughput: the whole pipeline against the raw encoder on the same chunks, same run.

    python bench/ingest_throughput.py PATH [--limit-files N]

Ingests PATH into a fresh embedded store in a temporary folder, then encodes the very chunks the
ingest produced with the same encoder instance, before and after a second, measured ingest (the
first one warms the model on every batch shape: oneDNN builds kernels per shape),
and prints chunks/s and tokens/s for each and the pipeline's overhead over encoding alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.ingest.pipeline import IngestOptions, chunk_budget, ingest_path
from groundmcp.store.edge import EdgeStore


def ingest_once(path: str, encoder, options: IngestOptions):
    """Ingest into a fresh embedded store; the report and the texts that were encoded."""
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp))
        try:
            report = ingest_path(path, store=store, encoder=encoder, options=options)
            texts = [
                f"{p['header']}\n{p['text']}" if p["header"] else p["text"]
                for _, p in store.scroll(options.collection, None, ["header", "text"])
            ]
        finally:
            store.close()
    return report, texts


def time_encode(encoder, texts: list[str]) -> float:
    t0 = time.perf_counter()
    encoder.encode_documents(texts)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--window", type=int, default=IngestOptions().window_chunks, help="chunks per encode call")
    args = parser.parse_args()

    encoder = SentenceTransformerEncoder(batch_size=args.batch_size)
    options = IngestOptions(
        collection="bench", chunk_tokens=chunk_budget(encoder, 256), window_chunks=args.window
    )
    # Round 1 warms the model on every batch shape and collects the chunks; round 2 is measured,
    # with the raw encoder timed before and after it on the same chunks.
    _, texts = ingest_once(args.path, encoder, options)
    raw = [time_encode(encoder, texts)]
    t0 = time.perf_counter()
    report, _ = ingest_once(args.path, encoder, options)
    pipeline_s = time.perf_counter() - t0
    raw.append(time_encode(encoder, texts))
    raw_s = sum(raw) / len(raw)
    n, tokens = report.chunks, report.tokens
    print(f"corpus: {args.path}  files: {report.files_seen}  chunks: {n}  tokens: {tokens}")
    print(f"encoder: {encoder.name} on {encoder.device} ({str(encoder.dtype).removeprefix('torch.')})")
    print(f"pipeline (walk+chunk+encode+write): {pipeline_s:7.2f} s  {n / pipeline_s:7.1f} chunks/s  {tokens / pipeline_s:8.0f} tokens/s")
    print(f"raw encoder, same chunks (before/after): {raw_s:7.2f} s  {n / raw_s:7.1f} chunks/s  {tokens / raw_s:8.0f} tokens/s   (runs: {', '.join(f'{r:.2f}' for r in raw)} s)")
    print(f"pipeline overhead over encoding alone: {100 * (pipeline_s / raw_s - 1):+.1f}%")
    print(f"time inside encode calls during ingest: {report.encode_seconds:.2f} s")


if __name__ == "__main__":
    main()
