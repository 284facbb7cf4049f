"""One document encoded alone (a memory-style client's one note an ingest) takes the single-text
path (ONNX Runtime, or the traced graph) once the encoder is warmed up, and must give the vectors a
batch gives: existing collections stay valid whichever path wrote a point."""

from __future__ import annotations

import numpy as np
import pytest

from groundmcp.encoders.sentence_transformers import SMALL_BATCH, SentenceTransformerEncoder

TEXTS = [
    "Retries back off exponentially, doubling the wait each time up to a minute.",
    "def parse_currency(text):\n    return float(text.strip('$'))",
    "  Leading and trailing spaces, Ünïcödé, 日本語 and an emoji 🙂  ",
    "x",
    " ".join(f"word{i} and Another{i}" for i in range(400)),  # past the model's token limit
] + [f"Note {i}: the cache keeps query vectors for {i} minutes, then reads them again." for i in range(30)]


@pytest.mark.parametrize(("runtime", "path"), [("auto", "onnx"), ("torch", "traced")])
def test_one_document_alone_gives_the_batch_vectors_on_either_path(runtime, path):
    encoder = SentenceTransformerEncoder(single_text_runtime=runtime)
    assert SMALL_BATCH <= len(TEXTS)
    batch = encoder.encode_documents(TEXTS)  # batches of 32: torch's thread team, padded
    before = np.stack([encoder.encode_documents([t])[0] for t in TEXTS])  # not warmed up: the normal path
    encoder.warm_up()
    assert encoder.query_path == path
    done: list[int] = []
    counted = encoder.tally.snapshot()["document"]["texts"]
    after = np.stack([encoder.encode_documents([t], on_batch=done.append)[0] for t in TEXTS])
    assert done == [1] * len(TEXTS)  # progress still counts each text
    assert encoder.tally.snapshot()["document"]["texts"] == counted + len(TEXTS)
    for single in (before, after):
        assert single.dtype == np.float32 and single.shape == batch.shape
        np.testing.assert_allclose(np.linalg.norm(single, axis=1), 1.0, atol=1e-5)
        assert float(np.min(np.sum(single * batch, axis=1))) >= 0.99999


def test_the_weights_layout_leaves_vectors_as_sentence_transformers_gives_them():
    """The plain-torch model holds its linear weights transposed (encoders/bert.py _laid_out):
    its vectors of single texts and of a padded batch still match sentence-transformers'."""
    from sentence_transformers import SentenceTransformer

    from groundmcp.encoders.sentence_transformers import BUNDLED_MODEL, resolve_model_path

    ours = SentenceTransformerEncoder()
    assert ours.backend == "torch"
    linear = ours._bert.network.layers[0].intermediate.weight
    assert linear.stride() == (1, linear.shape[0])  # held transposed
    st = SentenceTransformer(resolve_model_path(BUNDLED_MODEL), device="cpu")
    theirs = st.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    assert float(np.min(np.sum(ours.encode_documents(TEXTS) * theirs, axis=1))) >= 0.99999
    alone = np.stack([ours.encode_documents([t])[0] for t in TEXTS])
    assert float(np.min(np.sum(alone * theirs, axis=1))) >= 0.99999
