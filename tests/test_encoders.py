import os

import numpy as np
import pytest

from groundmcp.encoders.device import pick_device, pick_dtype
from groundmcp.encoders.sentence_transformers import (
    BUNDLED_MODEL,
    SentenceTransformerEncoder,
    canonical_name,
)
from groundmcp.errors import GroundError


def test_bundled_model_loads_offline(real_encoder):
    assert real_encoder.name == BUNDLED_MODEL
    assert real_encoder.dim == 384
    assert real_encoder.max_tokens == 256


def test_vectors_are_unit_length_and_ordered(real_encoder):
    texts = ["short", "a much longer text about exponential backoff in retry loops " * 5, "mid length text"]
    vecs = real_encoder.encode_documents(texts)
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    # Length-sorted batching must not reorder results: each text alone gives the same vector.
    for text, vec in zip(texts, vecs, strict=True):
        alone = real_encoder.encode_documents([text])[0]
        assert float(alone @ vec) > 0.99


def test_related_texts_are_closer(real_encoder):
    q = real_encoder.encode_query("retry a failing request with backoff")
    docs = real_encoder.encode_documents(
        ["def retry_with_backoff(fn, attempts): sleep longer after each failure", "Refund policy for orders"]
    )
    assert float(docs[0] @ q) > float(docs[1] @ q) + 0.1


def test_count_tokens_uses_the_model_tokenizer(real_encoder):
    assert real_encoder.count_tokens("hello world") == 2
    assert real_encoder.count_tokens("parseHTTPResponse") > 2  # word pieces


def test_huge_text_is_clipped_not_tokenised_whole(real_encoder):
    vec = real_encoder.encode_documents(["word " * 500_000])
    assert vec.shape == (1, 384)


def test_empty_input_gives_empty_matrix(real_encoder):
    assert real_encoder.encode_documents([]).shape == (0, 384)


def test_aliases_of_the_bundled_model_share_one_name():
    assert canonical_name("all-MiniLM-L6-v2") == BUNDLED_MODEL
    assert canonical_name("BAAI/bge-small-en-v1.5") == "BAAI/bge-small-en-v1.5"


def test_missing_local_model_gives_actionable_error(tmp_path):
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    with pytest.raises(GroundError, match="could not load encoder model"):
        SentenceTransformerEncoder(str(bad))


def test_device_and_precision_choice():
    assert pick_device("cpu") == "cpu"
    import torch

    assert pick_dtype("float32", "cpu") == torch.float32
    assert pick_dtype("auto", "cuda") == torch.float16
    assert pick_dtype("auto", "cpu") in (torch.bfloat16, torch.float32)


def test_hashing_encoder_is_deterministic(hashing_encoder):
    a = hashing_encoder.encode_documents(["alpha beta", "gamma"])
    b = hashing_encoder.encode_documents(["alpha beta", "gamma"])
    assert np.array_equal(a, b)
    assert a.shape == (2, 64)


# -- single queries: one-thread workers and the traced path --------------------------------------


def _query_texts() -> list[str]:
    """Real texts of many lengths: lines, paragraphs and whole files of the stdlib `json` package
    (past the model's 256 tokens), identifiers, questions, unicode, blanks."""
    import json
    from pathlib import Path

    files = sorted(Path(json.__file__).parent.glob("*.py"))
    texts = [p.read_text() for p in files]
    lines = [line for p in files for line in p.read_text().splitlines() if line.strip()]
    texts += lines[:: max(1, len(lines) // 150)]
    texts += ["\n".join(lines[i : i + 12]) for i in range(0, len(lines), max(1, len(lines) // 40))]
    texts += [
        "retry with exponential backoff", "parseHTTPResponse", "how are refunds issued?", "x", " ", "",
        "Ünïcödé 日本語 🙂 mixed", "  padded query  ", "word " * 600,
    ]
    return texts


def cosine_tolerance(encoder) -> float:
    """How far two paths' vectors of one text may differ (1 - cosine) at the precision the encoder
    runs in. float32: 1e-5. bfloat16 (picked on CPUs with native bf16) and float16 (CUDA) round
    each activation to 8 or 11 bits, so two graphs of the same model differ by up to a few 1e-5
    there (2.4e-5 seen on a bf16 CPU); 1e-3 is still far below what reorders search results."""
    import torch

    return 1e-5 if encoder.dtype == torch.float32 else 1e-3


@pytest.fixture(scope="module")
def normal_single_vectors() -> tuple[list[str], np.ndarray]:
    """The query texts, and torch's own forward of each text alone (no padding), which an encoder
    that was never warmed up runs."""
    texts = _query_texts()
    normal_encoder = SentenceTransformerEncoder(single_text_runtime="torch")
    return texts, np.stack([normal_encoder.encode_queries([t])[0] for t in texts])


@pytest.mark.slow
@pytest.mark.parametrize(("runtime", "path"), [("auto", "onnx"), ("torch", "traced")])
def test_single_text_paths_give_the_normal_paths_vectors(runtime, path, normal_single_vectors):
    """The fast single-text path (ONNX Runtime by default, the traced graph with
    single_text_runtime=torch) against the normal path."""
    encoder = SentenceTransformerEncoder(single_text_runtime=runtime)
    encoder.warm_up()
    assert encoder.query_path == path
    tolerance = cosine_tolerance(encoder)
    texts, normal = normal_single_vectors
    assert len(texts) > 200
    fast = np.stack([encoder.encode_query(t) for t in texts])
    assert fast.shape == (len(texts), 384) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=tolerance)
    gaps = 1.0 - np.sum(fast * normal, axis=1)
    assert gaps.max() < tolerance, texts[int(gaps.argmax())][:80]
    assert_same_nearest(fast, normal, tolerance)


def assert_same_nearest(fast: np.ndarray, normal: np.ndarray, tolerance: float) -> None:
    """What a user sees: each text's vector on the fast path ranks the same candidate first as on
    the normal path (the candidates: the other texts' normal vectors), wherever the normal path's
    top two are further apart than the paths' vectors may differ."""
    fast_scores, normal_scores = fast @ normal.T, normal @ normal.T
    np.fill_diagonal(fast_scores, -np.inf)
    np.fill_diagonal(normal_scores, -np.inf)
    top2 = np.sort(normal_scores, axis=1)[:, -2:]
    clear = (top2[:, 1] - top2[:, 0]) > 4 * tolerance
    assert clear.sum() > len(fast) // 2
    assert np.array_equal(fast_scores[clear].argmax(axis=1), normal_scores[clear].argmax(axis=1))


def test_query_path_is_not_built_where_it_does_not_apply(real_encoder):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling

    from groundmcp.encoders.query_path import build_query_path

    model = real_encoder._model

    def normal(text):
        return real_encoder.encode_queries([text])[0]

    cls_pooled = SentenceTransformer(modules=[model[0], Pooling(384, pooling_mode="cls")], device="cpu")
    assert build_query_path(cls_pooled, normal) is None  # other pooling
    rng = np.random.default_rng(0)

    def elsewhere(text):  # a reference the traced graph cannot match: the check must refuse it
        v = rng.standard_normal(384).astype(np.float32)
        return v / np.linalg.norm(v)

    assert build_query_path(model, elsewhere) is None
    path = build_query_path(model, normal)
    assert path is not None and float(path("a query") @ normal("a query")) > 1 - cosine_tolerance(real_encoder)


def test_single_queries_use_one_torch_thread_and_leave_other_threads_alone(real_encoder):
    import threading

    import torch

    def threads_in_a_new_thread():
        out = []
        t = threading.Thread(target=lambda: out.append(torch.get_num_threads()))
        t.start()
        t.join()
        return out[0]

    default = threads_in_a_new_thread()
    SentenceTransformerEncoder().warm_up()  # starts its own workers, and builds its traced path
    assert threads_in_a_new_thread() == default  # what document encoding on another thread gets
    assert real_encoder._query_workers.run(torch.get_num_threads) == 1


# -- plain torch (encoders/bert.py) against sentence-transformers ---------------------------------


@pytest.fixture(scope="module")
def st_encoder():
    """The bundled model run by sentence-transformers itself: the reference."""
    encoder = SentenceTransformerEncoder(backend="sentence-transformers")
    assert encoder.backend == "sentence-transformers"
    return encoder


def _model_copy(tmp_path, **changes):
    """A copy of the bundled model's folder (big files linked) with JSON files changed:
    {relative path: dict of keys to set}."""
    import json
    import shutil
    from pathlib import Path

    from groundmcp.encoders.sentence_transformers import resolve_model_path

    source = Path(resolve_model_path(BUNDLED_MODEL))
    folder = tmp_path / "model"
    shutil.copytree(source, folder, copy_function=os.symlink)
    for name, keys in changes.items():
        target = folder / name.replace("__", "/")
        data = json.loads(target.read_text())
        target.unlink()
        target.write_text(json.dumps({**data, **keys}))
    return folder


def test_plain_torch_gives_sentence_transformers_vectors(st_encoder):
    encoder = SentenceTransformerEncoder()
    assert encoder.backend == "torch"
    assert (encoder.dim, encoder.max_tokens, encoder.special_tokens) == (
        st_encoder.dim, st_encoder.max_tokens, st_encoder.special_tokens
    )
    texts = _query_texts()
    for text in texts[::10]:
        assert encoder.count_tokens(text) == st_encoder.count_tokens(text)
    ours, theirs = encoder.encode_documents(texts), st_encoder.encode_documents(texts)
    np.testing.assert_allclose(ours, theirs, atol=1e-5)
    encoder.warm_up()
    assert encoder.query_path == "onnx"
    queries = texts[::7]
    np.testing.assert_allclose(
        np.stack([encoder.encode_query(q) for q in queries]), st_encoder.encode_queries(queries), atol=1e-5
    )
    # What needs the SentenceTransformer itself (the late-interaction reranker) gets it, and the
    # encoder then runs on it: one copy of the weights, the same vectors.
    assert encoder._model is encoder._model
    assert (encoder.backend, encoder.query_path) == ("sentence-transformers", "normal")
    np.testing.assert_allclose(encoder.encode_documents(texts[:40]), ours[:40], atol=1e-5)
    encoder.warm_up()
    assert encoder.query_path == "traced"  # ONNX Runtime runs the plain-torch model only


def test_plain_torch_imports_none_of_sentence_transformers():
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder\n"
        "e = SentenceTransformerEncoder()\n"
        "e.warm_up()\n"
        "e.encode_documents(['def f(x): return x'] * 40)\n"
        "e.encode_query('a query')\n"
        "heavy = ('sentence_transformers', 'transformers', 'scipy', 'sklearn', 'sympy', 'torch._dynamo')\n"
        "print(e.backend, e.query_path, sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.split("\n")[-2] == "torch onnx []"


def test_cls_pooling_runs_in_plain_torch_with_the_same_vectors(tmp_path):
    folder = _model_copy(tmp_path, **{"1_Pooling__config.json": {
        "pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}})
    ours = SentenceTransformerEncoder(str(folder))
    theirs = SentenceTransformerEncoder(str(folder), backend="sentence-transformers")
    assert ours.backend == "torch"
    texts = _query_texts()[::5]
    np.testing.assert_allclose(ours.encode_documents(texts), theirs.encode_documents(texts), atol=1e-5)


@pytest.mark.parametrize(
    "changes",
    [
        {"sentence_bert_config.json": {"do_lower_case": True}},
        {"config.json": {"model_type": "roberta"}},
        {"config_sentence_transformers.json": {"prompts": {"query": "query: "}}},
        {"1_Pooling__config.json": {"pooling_mode_max_tokens": True, "pooling_mode_mean_tokens": False}},
    ],
    ids=["lower-cases", "not-bert", "prompts", "max-pooling"],
)
def test_what_plain_torch_cannot_run_is_left_to_sentence_transformers(tmp_path, changes):
    import torch

    from groundmcp.encoders.bert import load_bert

    folder = _model_copy(tmp_path, **changes)
    bert, why = load_bert(folder, torch.float32)
    assert bert is None and why
