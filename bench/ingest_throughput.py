"""Ingest throughput: the whole pipeline against the raw encoder on the same chunks, same run.

    python bench/ingest_throughput.py PATH [--limit-files N]

Ingests PATH into a fresh embedded store in a temporary folder, then encodes the very chunks the
ingest produced with the same encoder instance (twice, before and after, to bracket machine noise),
and prints chunks/s and tokens/s for each and the pipeline's overhead over encoding alone.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.store.edge import EdgeStore


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()

    encoder = SentenceTransformerEncoder(batch_size=args.batch_size)
    encoder.encode_documents(["warm up the model " * 20] * 8)
    with tempfile.TemporaryDirectory() as tmp:
        store = EdgeStore(Path(tmp))
        t0 = time.perf_counter()
        report = ingest_path(args.path, store=store, encoder=encoder, options=IngestOptions(collection="bench"))
        pipeline_s = time.perf_counter() - t0
        texts = [
            f"{p['header']}\n{p['text']}" if p["header"] else p["text"]
            for _, p in store.scroll("bench", None, ["header", "text"])
        ]
        store.close()
    raw = []
    for _ in range(2):
        t0 = time.perf_counter()
        encoder.encode_documents(texts)
        raw.append(time.perf_counter() - t0)
    raw_s = sum(raw) / len(raw)
    n, tokens = report.chunks, report.tokens
    print(f"corpus: {args.path}  files: {report.files_seen}  chunks: {n}  tokens: {tokens}")
    print(f"encoder: {encoder.name} on {encoder.device} ({str(encoder.dtype).removeprefix('torch.')})")
    print(f"pipeline (walk+chunk+encode+write): {pipeline_s:7.2f} s  {n / pipeline_s:7.1f} chunks/s  {tokens / pipeline_s:8.0f} tokens/s")
    print(f"raw encoder, same chunks (mean of 2): {raw_s:7.2f} s  {n / raw_s:7.1f} chunks/s  {tokens / raw_s:8.0f} tokens/s   (runs: {', '.join(f'{r:.2f}' for r in raw)} s)")
    print(f"pipeline overhead over encoding alone: {100 * (pipeline_s / raw_s - 1):+.1f}%")
    print(f"time inside encode calls during ingest: {report.encode_seconds:.2f} s")


if __name__ == "__main__":
    main()
