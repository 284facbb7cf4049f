"""The bundled model in float32 and in bfloat16 on this CPU: a batch's throughput, a lone note's and a
lone query's time, and which path the lone texts took. The precisions alternate (`--rounds`), so load
drift hits both.

    PYTHONPATH=src .venv/bin/python bench/precision_single.py [--rounds 2] [--texts 200] [--rss]

Batch: 128 slices of 1,200 characters of argparse's source through `encode_documents` (the ingest
path). The third row keeps lone texts on bf16 torch (`single_text_runtime=torch`), the path a
bf16 model's lone texts took before they ran on ONNX Runtime in float32. One note: `encode_documents([text])` (a note sent alone to `ingest`). One query:
`encode_query`. p50 ms over `--texts` distinct texts each, after a warm-up.

`--rss` measures memory instead: each variant in a process of its own, VmRSS once the model has
encoded a batch, and again after its single-text path is built and has run 50 lone notes and queries.
"""

from __future__ import annotations

import argparse
import inspect
import statistics
import subprocess
import sys
import time

from benchutil import rss_mb

VARIANTS = {  # name: SentenceTransformerEncoder's arguments
    "float32": {"precision": "float32"},
    "bfloat16": {"precision": "bfloat16"},
    # lone texts on bf16 torch (its traced graph), as before they ran on ONNX Runtime in float32
    "bfloat16, single_text_runtime=torch": {"precision": "bfloat16", "single_text_runtime": "torch"},
}


def one_rss(name: str) -> None:
    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(**VARIANTS[name])
    encoder.encode_documents(["warm the model with a batch " * 20] * 4)
    before = rss_mb()
    encoder.warm_up()
    for i in range(50):
        encoder.encode_query(f"a query {i}")
        encoder.encode_documents([f"a note {i} about refunds"])
    after = rss_mb()
    print(f"{name} | {encoder.query_path} | {before:.0f} | {after:.0f} | +{after - before:.0f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--texts", type=int, default=200)
    ap.add_argument("--rss", action="store_true", help="memory, a process per variant")
    ap.add_argument("--one-rss", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_rss:
        return one_rss(args.one_rss)
    if args.rss:
        print("variant | single-text path | RSS MB after a batch | after lone texts | difference")
        for name in VARIANTS:
            subprocess.run([sys.executable, __file__, "--one-rss", name], check=True)
        return
    import argparse as sample

    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    code = inspect.getsource(sample)
    chunks = [code[i : i + 1200] for i in range(0, 1200 * 128, 1200)]
    note = "Return the number of tokens the model's tokenizer makes of a text, clipped at the model's limit"
    encoders = {name: SentenceTransformerEncoder(**kwargs) for name, kwargs in VARIANTS.items()}
    for encoder in encoders.values():
        encoder.warm_up()
        encoder.encode_documents(chunks[:32])
    print("precision | single-text path | batch chunks/s | one note p50 ms | one query p50 ms")
    for _ in range(args.rounds):
        for precision, encoder in encoders.items():
            start = time.perf_counter()
            encoder.encode_documents(chunks)
            rate = len(chunks) / (time.perf_counter() - start)
            notes, queries = [], []
            for i in range(args.texts):
                t = time.perf_counter()
                encoder.encode_documents([f"{note} ({i})"])
                notes.append((time.perf_counter() - t) * 1e3)
                t = time.perf_counter()
                encoder.encode_query(f"parse command line options {i}")
                queries.append((time.perf_counter() - t) * 1e3)
            print(f"{precision} | {encoder.query_path} | {rate:.1f} | {statistics.median(notes):.2f} | "
                  f"{statistics.median(queries):.2f}", flush=True)


if __name__ == "__main__":
    main()
