"""Hybrid search nudges up code chunks whose definition name the query says in words (search/names.py)."""

from __future__ import annotations

import pytest

from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.names import NAME_DEPTH, NAME_WEIGHT, name_words, named_first
from groundmcp.search.query import HYBRID_FUSION, PREFETCH, SearchHit, SearchRequest, search
from groundmcp.sparse import query_vector

from .conftest import write_project


def hit(i: int, score: float, symbol: str = "", kind: str = "code") -> SearchHit:
    return SearchHit(f"id{i:03d}", score, f"f{i}.py", "/r", 1, 2, "python", kind, symbol, "text")


def test_a_names_words_are_its_last_parts_split_and_stemmed_without_stop_words():
    assert name_words("dropRightWhile") == {"drop", "right"}  # "while" is a stop word
    assert name_words("Cookie.dump_value") == {"dump", "valu"}  # the class is not the name
    assert name_words("parseHTTPResponse") == {"pars", "http", "respons"}
    assert name_words("__init__") == {"init"}
    assert name_words("_") == frozenset()


def test_the_named_hit_gains_its_share_of_the_weight_and_moves_up():
    hits = [hit(0, 0.80, "render_page"), hit(1, 0.78, "dropRightWhile"), hit(2, 0.77, "takeWhile")]
    out = named_first("creates a slice of array with elements dropped from the right", hits)
    assert [h.id for h in out] == ["id001", "id000", "id002"]
    assert out[0].score == pytest.approx(0.78 + NAME_WEIGHT)  # both words of the name: full share
    assert out[1].score == 0.80 and out[2].score == 0.77  # no word of theirs in the query
    half = named_first("drop it", hits)
    assert half[0].id == "id001" and half[0].score == pytest.approx(0.78 + NAME_WEIGHT / 2)


def test_prose_hits_nameless_hits_and_hits_below_the_depth_keep_their_scores():
    hits = [hit(0, 0.9), hit(1, 0.85, "Install > Drop tables", kind="doc")]
    hits += [hit(i, 0.8 - i / 1000) for i in range(2, NAME_DEPTH)]
    hits += [hit(NAME_DEPTH, 0.5, "drop_tables")]
    out = named_first("drop tables", hits)
    assert [h.id for h in out] == [h.id for h in hits]
    assert [h.score for h in out] == [h.score for h in hits]


def test_a_query_of_stop_words_only_changes_nothing():
    hits = [hit(0, 0.5, "other"), hit(1, 0.4, "the_it")]
    assert named_first("the it", hits) == hits


@pytest.fixture(scope="module")
def project_index(tmp_path_factory, real_encoder):
    from groundmcp.store.factory import open_store

    base = tmp_path_factory.mktemp("nudge")
    store = open_store(data_dir=base / "data", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
    ingest_path(str(write_project(base / "project")), store=store, encoder=real_encoder,
                options=IngestOptions(collection="c"))
    yield store
    store.close()


def test_hybrid_search_adds_the_nudge_to_the_stores_fused_score_and_dense_does_not(project_index, real_encoder):
    query = "retry with exponential backoff"
    fused = {
        h.id: h.score
        for h in project_index.query(
            "c", dense=real_encoder.encode_query(query).tolist(), sparse=query_vector(query), mode="hybrid",
            limit=NAME_DEPTH, prefetch_limit=PREFETCH, fusion=HYBRID_FUSION,
        )
    }
    hits = search(project_index, real_encoder, "c", SearchRequest(query, top_k=5))
    assert hits[0].symbol == "retryWithBackoff"  # {retri, backoff}: both in the query
    assert hits[0].score == pytest.approx(fused[hits[0].id] + NAME_WEIGHT)
    others = [h for h in hits[1:] if not (h.kind == "code" and name_words(h.symbol) & {"retri", "backoff", "exponenti"})]
    assert others and all(h.score == pytest.approx(fused[h.id]) for h in others)
    dense = search(project_index, real_encoder, "c", SearchRequest(query, top_k=1, mode="dense"))[0]
    assert dense.symbol == "retryWithBackoff" and dense.score < 1.0  # a cosine, nothing added


def test_top_k_one_still_sees_a_named_definition_ranked_below_the_first(project_index, real_encoder):
    """The fused top NAME_DEPTH is fetched whatever top_k asks for, so top_k=1 gets what top_k=10 puts first."""
    query = "compute the invoice total with tax"
    assert (
        search(project_index, real_encoder, "c", SearchRequest(query, top_k=1))[0].id
        == search(project_index, real_encoder, "c", SearchRequest(query, top_k=10))[0].id
    )
