"""Lone texts on ONNX Runtime (encoders/onnx_single.py): the plain-torch model's own vectors and token
rows, its weights read in place, CLS pooling, and the torch paths kept where it cannot run."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from groundmcp.encoders import onnx_single, token_signs
from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

from .test_encoders import _model_copy

TEXTS = [
    "how are retries backed off",
    "x",
    "def parse_currency(text):\n    return float(text.strip('$'))",
    "Ünïcödé, 日本語 and an emoji 🙂 in a note",
    " ".join(f"word{i} and Another{i}" for i in range(400)),  # past the model's token limit
]


def torch_rows(bert, text: str) -> tuple[np.ndarray, np.ndarray]:
    """The pooled vector and ordinary token rows as torch computes them (no single-text runner)."""
    single, bert.single = bert.single, None
    try:
        pooled, tokens = bert.embed_with_tokens([text])
    finally:
        bert.single = single
    return pooled[0], tokens[0]


@pytest.fixture(scope="module")
def warmed() -> SentenceTransformerEncoder:
    encoder = SentenceTransformerEncoder()
    encoder.warm_up()
    assert encoder.query_path == "onnx" and encoder._bert.single is not None
    return encoder


def test_vectors_and_token_rows_are_torchs(warmed):
    bert = warmed._bert
    for text in TEXTS:
        pooled, tokens = bert.embed_with_tokens([text])  # through ONNX Runtime now
        want_pooled, want_tokens = torch_rows(bert, text)
        np.testing.assert_allclose(pooled[0], want_pooled, atol=1e-4)
        assert tokens[0].shape == want_tokens.shape and tokens[0].shape[0] == len(bert.tokenizer.encode(text).ids) - 2
        np.testing.assert_allclose(tokens[0], want_tokens, atol=1e-4)
        unit = want_pooled / np.linalg.norm(want_pooled)
        assert float(np.dot(warmed.encode_query(text), unit)) > 1 - 1e-5
        assert float(np.dot(warmed.encode_documents([text])[0], unit)) > 1 - 1e-5


def test_a_signed_note_and_a_query_take_it_and_sign_as_torch_does(warmed):
    text = "The cache keeps query vectors for ten minutes, then reads them again."
    vectors, signs = warmed.encode_documents_signed([text])
    _, want_tokens = torch_rows(warmed._bert, text)
    got, want = (token_signs.unpack(s, warmed.dim) for s in (signs[0], token_signs.pack(want_tokens)))
    assert got.shape == want.shape and float(np.mean(got == want)) > 0.999
    vector, rows = warmed.encode_query_with_tokens(text)
    assert float(np.dot(vector, vectors[0])) > 1 - 1e-5 and rows.shape[0] == want_tokens.shape[0]


def test_a_lone_text_runs_on_the_callers_thread_and_a_few_on_the_torch_workers(warmed, monkeypatch):
    """ONNX Runtime's own threads run a lone text: it needs no one-thread torch worker (a thread
    hop each way); two texts are a torch batch and still take one."""
    sent: list[str] = []
    workers = warmed._query_workers
    plain = workers.run

    def run(fn, *args):
        sent.append(getattr(fn, "__name__", str(fn)))
        return plain(fn, *args)

    monkeypatch.setattr(workers, "run", run)
    text = "Refunds are retried with exponential backoff."
    warmed.encode_query(text)
    warmed.encode_query_with_tokens(text)
    warmed.encode_documents([text])
    warmed.encode_documents_signed([text])
    assert sent == []
    warmed.encode_documents_signed([text, text])
    warmed.encode_documents([text, text])
    assert sent == ["encode_documents_signed", "encode_documents"]


def test_the_session_reads_the_torch_weights_in_place(warmed):
    bert = warmed._bert
    _, feeds = onnx_single._graph(bert)
    layer = bert.network.layers[0]
    assert np.shares_memory(feeds["l0.in.wt"], layer.intermediate.weight.detach().numpy())
    assert np.shares_memory(feeds["l0.q.b"], layer.query.bias.detach().numpy())
    assert not any(name in feeds for name in ("word", "position"))  # looked up outside the session


def test_cls_pooling(tmp_path):
    folder = _model_copy(tmp_path, **{"1_Pooling__config.json": {
        "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}})
    encoder = SentenceTransformerEncoder(str(folder))
    reference = SentenceTransformerEncoder(str(folder), single_text_runtime="torch")
    encoder.warm_up()
    assert encoder.query_path == "onnx"
    for text in TEXTS:
        assert float(np.dot(encoder.encode_query(text), reference.encode_queries([text])[0])) > 1 - 1e-5


def test_torch_paths_where_it_cannot_run(monkeypatch):
    kept = SentenceTransformerEncoder(single_text_runtime="torch")
    kept.warm_up()
    assert kept.query_path == "traced" and kept._bert.single is None
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed: the import fails
    missing = SentenceTransformerEncoder()
    missing.warm_up()
    assert missing.query_path == "traced"
    monkeypatch.undo()  # bf16 models take ONNX Runtime in float32: tests/test_bf16.py


def test_vectors_that_differ_keep_the_torch_path(warmed):
    def wrong(text: str) -> np.ndarray:
        v = np.zeros(warmed.dim, dtype=np.float32)
        v[0] = 1.0
        return v

    assert onnx_single.build(warmed._bert, wrong, threads=1) is None


def test_the_sessions_threads_stop_spinning_when_a_run_returns(warmed):
    """Its threads spin between operators but not after a run: a lone text leaves no thread
    burning a core that the rest of a server's call needs (a session that kept spinning burnt the
    whole 200 ms that follow; `bench/onnx_spinning.py`)."""
    import resource
    import time

    def cpu_s() -> float:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def burnt_in(seconds: float) -> float:
        before = cpu_s()
        time.sleep(seconds)
        return cpu_s() - before

    idle = burnt_in(0.2)  # whatever else this process runs (another test's threads) burns alike
    warmed.encode_query("how are retries backed off")
    assert burnt_in(0.2) - idle < 0.02
