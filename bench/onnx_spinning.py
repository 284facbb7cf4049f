"""A lone text's run on ONNX Runtime (encoders/onnx_single.py) under three thread settings: threads
that sleep between operators (allow_spinning 0, the setting before), threads that spin (1), and
threads that spin but stop when a run returns (1 with session.force_spinning_stop, the setting now).
Prints each one's p50 ms per run and the CPU ms the process burns in the 20 ms after a run returns
(the main thread asleep): what spinning workers take from the rest of a server's call.

    PYTHONPATH=src .venv/bin/python bench/onnx_spinning.py [--rounds 3] [--runs 400] [--threads 2]

The graph and weights are the bundled model's in float32, the text one note of 26 tokens.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time

SETTINGS = {  # name: (allow_spinning, force_spinning_stop)
    "sleep": ("0", None),
    "spin": ("1", None),
    "spin, stop after a run": ("1", "1"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs", type=int, default=400)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    import onnxruntime as ort

    from groundmcp.encoders import onnx_single
    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    encoder = SentenceTransformerEncoder(precision="float32")
    encoder.warm_up()
    single = encoder._bert.single
    text = "Return the number of tokens the model's tokenizer makes of a text, clipped at the model's limit"
    feed = {"embedded": single._embedded(single._tokenizer.encode(text).ids)[None]}
    model, weights = onnx_single._graph(encoder._bert)

    def session(spin: str, stop: str | None):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", spin)
        if stop is not None:
            options.add_session_config_entry("session.force_spinning_stop", stop)
        values = [ort.OrtValue.ortvalue_from_numpy(a) for a in weights.values()]
        options.add_external_initializers(list(weights), values)
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"]), values

    sessions = {name: session(*setting) for name, setting in SETTINGS.items()}

    def p50_ms(run) -> float:
        for _ in range(30):
            run(None, feed)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            run(None, feed)
            times.append((time.perf_counter() - t) * 1e3)
        return statistics.median(times)

    def cpu_after_ms(run) -> float:
        burnt = 0.0
        for _ in range(50):
            run(None, feed)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            time.sleep(0.02)
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            burnt += (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime)
        return burnt / 50 * 1e3

    print(f"{feed['embedded'].shape[1]} tokens, {args.threads} threads")
    print("setting | p50 ms a run (each round) | CPU ms in the 20 ms after a run")
    p50s: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(args.rounds):
        for name, (s, _values) in sessions.items():
            p50s[name].append(p50_ms(s.run))
    for name, (s, _values) in sessions.items():
        print(f"{name} | {' / '.join(f'{v:.2f}' for v in p50s[name])} | {cpu_after_ms(s.run):.2f}")


if __name__ == "__main__":
    main()
