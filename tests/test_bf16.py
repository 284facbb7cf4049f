"""The model in bfloat16, as the product runs it on a CPU with native bf16 (encoders/device.py), forced
here so that it runs on any CPU (the rest of the suite pins float32: tests/conftest.py). Batches run
in bf16 torch; lone texts on ONNX Runtime in float32 (encoders/onnx_single.py), whose vectors and
token rows must be the bf16 model's to within bf16 rounding."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from groundmcp.encoders import onnx_single, token_signs
from groundmcp.encoders.onnx_single import BF16_COSINE_GAP
from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

from .test_encoders import _query_texts, assert_same_nearest
from .test_onnx_single import TEXTS, torch_rows


@pytest.fixture(scope="module")
def bf16() -> SentenceTransformerEncoder:
    encoder = SentenceTransformerEncoder(precision="bfloat16")
    encoder.warm_up()
    assert encoder.dtype == torch.bfloat16 and encoder._bert.dtype == torch.bfloat16
    assert encoder.query_path == "onnx" and encoder._bert.single is not None
    return encoder


def test_lone_texts_are_the_bf16_models_vectors_and_rank_as_they_do(bf16):
    texts = _query_texts()[::2]
    torch_path = SentenceTransformerEncoder(precision="bfloat16", single_text_runtime="torch")
    normal = torch_path.encode_queries(texts)  # bf16 torch, batched and padded
    lone = np.stack([bf16.encode_query(t) for t in texts])
    assert lone.dtype == np.float32 and np.allclose(np.linalg.norm(lone, axis=1), 1.0, atol=1e-5)
    gaps = 1.0 - np.sum(lone * normal, axis=1)
    assert gaps.max() < BF16_COSINE_GAP, texts[int(gaps.argmax())][:80]
    assert_same_nearest(lone, normal, BF16_COSINE_GAP)


def test_a_lone_note_and_its_token_rows_match_the_bf16_batch(bf16):
    bert = bf16._bert
    batch = bf16.encode_documents(TEXTS)  # five texts: the bf16 torch path
    for i, text in enumerate(TEXTS):
        vectors, signs = bf16.encode_documents_signed([text])  # through ONNX Runtime
        assert 1.0 - float(np.dot(vectors[0], batch[i])) < BF16_COSINE_GAP
        _, want_tokens = torch_rows(bert, text)
        pooled, tokens = bert.embed_with_tokens([text])
        assert tokens[0].dtype == np.float32 and tokens[0].shape == want_tokens.shape
        cos = np.sum(tokens[0] * want_tokens, axis=1) / (
            np.linalg.norm(tokens[0], axis=1) * np.linalg.norm(want_tokens, axis=1))
        assert cos.min() > 0.99  # a token row, unpooled, carries more of bf16's rounding
        ordinary = min(bf16.count_tokens(text), bf16.max_tokens - bf16.special_tokens)
        assert token_signs.unpack(signs[0], bf16.dim).shape == (ordinary, bf16.dim)


def test_the_bf16_tables_are_widened_exactly(bf16):
    """The embedding rows a text looks up, read from the bf16 tables' raw bits, are torch's own
    widening of them, and the session runs on float32 copies of the layers' weights."""
    single, net = bf16._bert.single, bf16._bert.network
    ids = single._tokenizer.encode(TEXTS[2]).ids
    want = net.word.weight[ids].float() + net.position.weight[: len(ids)].float() + net.token_type.weight[0].float()
    assert np.array_equal(single._embedded(ids), want.numpy())
    _, feeds = onnx_single._graph(bf16._bert)
    wt = feeds["l0.in.wt"]
    assert wt.dtype == np.float32 and wt.flags["C_CONTIGUOUS"]
    assert np.array_equal(wt, net.layers[0].intermediate.weight.detach().t().float().numpy())


def test_other_dtypes_keep_the_torch_path():
    """float16 (a CUDA precision) is not built on ONNX Runtime: its lone texts stay on torch."""
    model = SentenceTransformerEncoder(precision="bfloat16")._bert
    model.dtype = torch.float16  # what build() reads
    assert onnx_single.build(model, lambda t: np.zeros(384, dtype=np.float32), threads=1) is None
