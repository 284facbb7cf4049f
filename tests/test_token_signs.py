"""Token signatures kept at ingest (encoders/token_signs.py) and the late-interaction order of prose
that search takes from them (search/late.py)."""

from __future__ import annotations

import numpy as np
import pytest

from groundmcp.encoders import token_signs
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.record import P
from groundmcp.rerank.late_interaction import LateInteractionReranker
from groundmcp.search import query as search_query
from groundmcp.search.late import LATE_DEPTH
from groundmcp.search.query import SearchRequest, search

DOCS = {
    "backups.md": "# Backups\n\nNightly backups are written to the object store at two in the morning. "
    "A backup older than thirty days is deleted, and restoring one takes about an hour.\n",
    "deploy.md": "# Deploying\n\nTo ship a release, tag the commit, wait for the pipeline to build the "
    "image, then promote it from staging to production with the promote command.\n",
    "oncall.md": "# On call\n\nThe person on call answers pages within fifteen minutes, writes down what "
    "happened, and hands over to the next person every Monday at noon.\n",
    "vacation.md": "# Time off\n\nAsk for holidays two weeks ahead in the team calendar. Public holidays "
    "follow the country you work from.\n",
    "coffee.md": "# The kitchen\n\nThe coffee machine is descaled every Friday. Whoever empties the last "
    "bag of beans orders more from the shop downstairs.\n",
    "security.md": "# Secrets\n\nNever paste credentials into chat. Passwords live in the vault, and a "
    "leaked key is rotated the same day it is found.\n",
    "review.md": "# Code review\n\nEvery change needs one approving review. Reviewers look at tests "
    "first, then naming, then the design, and answer within a working day.\n",
    "meetings.md": "# Meetings\n\nThe weekly planning meeting is on Tuesday. Notes go into the shared "
    "folder, and decisions are written at the top.\n",
}
CODE = 'def rotate_key(vault, name):\n    """Replace the named key in the vault."""\n    return vault.replace(name)\n'


def test_a_signature_is_one_bit_a_dimension_for_each_token_centred_on_the_texts_mean():
    rng = np.random.default_rng(0)
    tokens = rng.normal(size=(5, 16)).astype(np.float32) + 3.0  # a shared offset, as real tokens have
    rows = token_signs.unpack(token_signs.pack(tokens), 16)
    assert rows.shape == (5, 16)
    expected = np.where(tokens - tokens.mean(axis=0) > 0, 1.0, -1.0) / 4.0  # unit rows: 1/sqrt(16)
    assert np.array_equal(rows, expected)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)


@pytest.mark.parametrize("bad", ["", "not base64!", "AAAA", token_signs.pack(np.ones((3, 8)))])
def test_an_empty_malformed_or_other_width_signature_reads_as_no_tokens_and_scores_lowest(bad):
    assert token_signs.unpack(bad, 16).shape == (0, 16)
    query = token_signs.query_rows(np.ones((3, 16)))
    good = token_signs.pack(np.random.default_rng(1).normal(size=(4, 16)))
    scores = token_signs.late_scores(query, [0.5, 0.5], [bad, good])
    assert scores[0] == pytest.approx((-1.0 + 0.5) / 2)  # MaxSim's floor, averaged with the cosine
    assert scores[1] > scores[0]


def test_signed_encoding_gives_the_same_vectors_and_one_signature_row_per_ordinary_token(real_encoder):
    texts = ["Nightly backups are written to the object store.", "word " * 400, "x"]
    plain = real_encoder.encode_documents(texts)
    for batch in (texts, texts[:1]):  # a batch of SMALL_BATCH or more, and one text on the query workers
        vectors, signatures = real_encoder.encode_documents_signed(batch)
        assert np.allclose(vectors, plain[: len(batch)], atol=1e-6)
        for text, signature in zip(batch, signatures, strict=True):
            ordinary = min(real_encoder.count_tokens(text), real_encoder.max_tokens - real_encoder.special_tokens)
            assert token_signs.unpack(signature, real_encoder.dim).shape == (ordinary, real_encoder.dim)
    query = real_encoder.query_tokens("how are backups kept")
    assert query.shape == (real_encoder.count_tokens("how are backups kept"), real_encoder.dim)


def test_an_encoder_that_cannot_give_tokens_signs_nothing(hashing_encoder):
    vectors, signatures = hashing_encoder.encode_documents_signed(["one text", "another"])
    assert vectors.shape == (2, hashing_encoder.dim) and signatures == ["", ""]
    assert hashing_encoder.query_tokens("a query") is None


@pytest.fixture
def docs_index(store, tmp_path, real_encoder):
    root = tmp_path / "handbook"
    root.mkdir()
    for name, text in DOCS.items():
        (root / name).write_text(text)
    (root / "vault.py").write_text(CODE)
    ingest_path(str(root), store=store, encoder=real_encoder, options=IngestOptions(collection="c"))
    return store


def test_prose_chunks_keep_a_signature_that_no_hit_or_retrieve_carries(docs_index, real_encoder):
    hits = search(docs_index, real_encoder, "c", SearchRequest("rotate a leaked key", top_k=20))
    assert {h.kind for h in hits} == {"doc", "code"}
    raw = docs_index.query("c", dense=real_encoder.encode_query("key").tolist(), sparse=None, mode="dense", limit=20)
    assert raw and all(P.TOKEN_SIGNS not in h.payload for h in raw)
    assert all(P.TOKEN_SIGNS not in h.payload for h in docs_index.retrieve("c", [h.id for h in hits]))
    inputs = docs_index.late_inputs("c", [h.id for h in hits])
    assert set(inputs) == {h.id for h in hits}
    for h in hits:
        dense, signature = inputs[h.id]
        assert len(dense) == real_encoder.dim
        assert bool(signature) == (h.kind == "doc")  # code keeps none
        if signature:
            assert len(token_signs.unpack(signature, real_encoder.dim)) > 10


def test_search_puts_prose_in_late_interaction_order_in_the_places_prose_held(docs_index, real_encoder, monkeypatch):
    query = "when is the person who answers pages replaced"
    hits = search(docs_index, real_encoder, "c", SearchRequest(query, top_k=LATE_DEPTH))
    with monkeypatch.context() as m:
        m.setattr(search_query, "late_ordered", lambda store, encoder, collection, q, v, found, tokens=None: found)
        fused = search(docs_index, real_encoder, "c", SearchRequest(query, top_k=LATE_DEPTH))
    assert sorted(h.id for h in hits) == sorted(h.id for h in fused)
    assert [h.score for h in hits] == [h.score for h in fused]  # each place keeps its score
    assert [h.kind for h in hits] == [h.kind for h in fused]  # code keeps its places
    # The order is the float late-interaction reranker's, to the precision of one bit a dimension.
    prose = [h for h in fused if h.kind == "doc"]
    reranker = LateInteractionReranker(real_encoder)
    by_float = [prose[i].id for i, _ in reranker.rerank(query, [h.embed_text for h in prose])]
    by_signs = [h.id for h in hits if h.kind == "doc"]
    assert by_signs[0] == by_float[0] and hits[0].path == "oncall.md"
    assert _kendall(by_signs, by_float) >= 0.6
    # Exactly the order of late_scores over what the store keeps: MaxSim on the signature, and the cosine.
    inputs = docs_index.late_inputs("c", [h.id for h in prose])
    q = real_encoder.encode_query(query)
    scores = token_signs.late_scores(
        real_encoder.query_tokens(query), [float(np.dot(inputs[h.id][0], q)) for h in prose], [inputs[h.id][1] for h in prose]
    )
    assert by_signs == [prose[i].id for i in sorted(range(len(prose)), key=lambda i: (-scores[i], i))]


def _kendall(a: list[str], b: list[str]) -> float:
    """Kendall's tau between two orders of the same items."""
    pos = {x: i for i, x in enumerate(b)}
    ranks = [pos[x] for x in a]
    pairs = [(i, j) for i in range(len(ranks)) for j in range(i + 1, len(ranks))]
    agree = sum(1 if ranks[i] < ranks[j] else -1 for i, j in pairs)
    return agree / len(pairs)


def test_code_led_lists_and_searches_that_ask_for_the_reranker_keep_their_order(docs_index, real_encoder, monkeypatch):
    calls = []
    monkeypatch.setattr(docs_index, "late_inputs", lambda *a: calls.append(a) or {})
    search(docs_index, real_encoder, "c", SearchRequest("rotate_key vault replace", top_k=5, kinds=("code",)))
    search(docs_index, real_encoder, "c", SearchRequest("backups", top_k=5, mode="dense"))
    assert calls == []  # a code-only list, and a dense search, read no signature
    search(docs_index, real_encoder, "c", SearchRequest("backups", top_k=5))
    assert calls  # a prose-led hybrid search does


def test_the_engines_search_orders_prose_by_signature_and_ingest_of_texts_keeps_them(tmp_path, real_encoder):
    """The engine searches through its query-vector cache (search/query_cache.py): the late step must
    see through it, or no search the engine serves would take it. Texts a client sends are prose too."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    try:
        engine.ingest_texts([(name, text) for name, text in DOCS.items()], collection="notes")
        assert engine.query_encoder.gives_tokens
        query = "when is the person who answers pages replaced"
        hits = engine.search(SearchRequest(query, top_k=LATE_DEPTH), collection="notes")
        inputs = engine.store.late_inputs("notes", [h.id for h in hits])
        assert all(inputs[h.id][1] for h in hits)  # every text kept its signature
        q = real_encoder.encode_query(query)
        scores = token_signs.late_scores(
            real_encoder.query_tokens(query), [float(np.dot(inputs[h.id][0], q)) for h in hits], [inputs[h.id][1] for h in hits]
        )
        assert [h.id for h in hits] == [hits[i].id for i in sorted(range(len(hits)), key=lambda i: (-scores[i], i))]
    finally:
        engine.close()


def test_sentence_transformers_run_gives_the_signatures_and_query_tokens_plain_torch_gives():
    """A model that plain torch does not run (or a GPU) keeps sentence-transformers: its tokens come
    from `encode(output_value=None)` and must say what plain torch's say."""
    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    st = SentenceTransformerEncoder(backend="sentence-transformers")
    real_encoder = SentenceTransformerEncoder()  # its own: the session's may have switched backends
    assert st.backend == "sentence-transformers" and real_encoder.backend == "torch"
    texts = ["The person on call hands over every Monday at noon.", "Backups older than thirty days are deleted."]
    (ours, our_signs), (theirs, their_signs) = real_encoder.encode_documents_signed(texts), st.encode_documents_signed(texts)
    assert np.allclose(ours, theirs, atol=1e-5)
    for a, b in zip(our_signs, their_signs, strict=True):
        rows_a, rows_b = token_signs.unpack(a, st.dim), token_signs.unpack(b, st.dim)
        assert rows_a.shape == rows_b.shape and np.mean(rows_a == rows_b) > 0.995  # bits near 0 may flip
    vector, tokens = st.encode_query_with_tokens("who is on call")
    assert np.allclose(tokens, real_encoder.query_tokens("who is on call"), atol=1e-4)
    assert float(vector @ real_encoder.encode_query("who is on call")) > 0.99999


def test_signatures_can_be_turned_off_and_a_change_re_encodes_prose_only(tmp_path, real_encoder):
    """GROUNDMCP_TOKEN_SIGNATURES=false: prose chunks keep no signature (searches keep the fused
    order); turning it back on re-encodes the prose files on their next ingest, not the code."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    root = tmp_path / "work" / "project"
    root.mkdir(parents=True)
    for name in ("oncall.md", "review.md"):
        (root / name).write_text(DOCS[name])
    (root / "vault.py").write_text(CODE)

    def ingest(signatures: bool):
        settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"], token_signatures=signatures)
        engine = Engine(settings, encoder=real_encoder)
        try:
            report = engine.ingest(str(root))
            hits = engine.search(SearchRequest("who answers pages", top_k=10))
            inputs = engine.store.late_inputs(settings.collection, [h.id for h in hits])
            signed = {h.path for h in hits if inputs[h.id][1]}
            return report, {h.path for h in hits}, signed
        finally:
            engine.close()

    report, found, signed = ingest(False)
    assert len(report.added) == 3 and {"oncall.md", "review.md", "vault.py"} <= found and not signed
    report, found, signed = ingest(False)
    assert (report.added, report.changed) == ([], [])  # the same key: nothing to redo
    report, found, signed = ingest(True)
    assert sorted(report.changed) == ["oncall.md", "review.md"]  # the prose, not vault.py
    assert signed == {"oncall.md", "review.md"}
    report, _, signed = ingest(False)
    assert sorted(report.changed) == ["oncall.md", "review.md"] and not signed
