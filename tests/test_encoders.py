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
