"""Search and symbols: hits carry the qualified symbol they belong to, and a query that names an
identifier gets its definition first (search/lift.py), on a real ingest and a real store."""

from __future__ import annotations

import shutil

import pytest

from groundmcp.engine import Engine
from groundmcp.search import lift as lift_module
from groundmcp.search.lift import identifiers, names_the_query
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings

from .conftest import STDLIB_JSON
from .test_symbols_index import write


@pytest.mark.parametrize(("query", "expected"), [
    ("parse_header", ["parse_header"]),
    ("where is JSONDecoder.decode defined", ["JSONDecoder.decode"]),
    ("getUser() returns None", ["getUser"]),
    ("call foo(a, b) here", ["foo"]),
    ("HTTPClient retries", ["HTTPClient"]),
    ("__init__", ["__init__"]),
    ("measure", ["measure"]),  # a whole query of one word is a name
    ("py_scanstring c_make_scanner", ["py_scanstring", "c_make_scanner"]),
    ("Clear the set.", []),  # capitalised words and prose are not
    ("Serialize the given arguments as JSON", []),
    ("e.g. the thing", []),
    ("version 1.2.3", []),
    ("", []),
])
def test_what_counts_as_an_identifier(query, expected):
    assert identifiers(query) == expected


def test_a_query_names_its_identifier_when_few_other_words_are_around_it():
    assert names_the_query("where is parse_header defined", ["parse_header"])
    assert not names_the_query("Similar to pass_context, but only pass the object on", ["pass_context"])


@pytest.fixture
def engine(tmp_path, hashing_encoder):
    root = write(tmp_path / "proj")
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    e = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    e.ingest(str(root))
    assert e.lift_definitions  # on by default (GROUNDMCP_LIFT_DEFINITIONS)
    yield e
    e.close()


def test_hits_carry_their_qualified_symbol_and_lead_to_its_definition(engine):
    hits = engine.search(SearchRequest(query="decode a JSON document with raw_decode", top_k=20, mode="dense"))
    method = next(h for h in hits if h.symbol == "JSONDecoder.decode")  # the hit names its definition
    found = engine.find_symbol(method.symbol)
    assert [x.path for x in found] == [method.path] and method.id in found[0].definition.chunks  # and back


def test_a_query_naming_an_identifier_gets_its_definition_first(engine):
    for query in ("JSONDecoder.raw_decode", "where is py_scanstring defined", "py_encode_basestring()"):
        name = identifiers(query)[0]
        wanted = engine.find_symbol(name)[0].definition.chunks[0]
        engine.lift_definitions = False
        plain = engine.search(SearchRequest(query=query, top_k=5, mode="dense"))
        engine.lift_definitions = True
        lifted = engine.search(SearchRequest(query=query, top_k=5, mode="dense"))
        assert lifted[0].id == wanted, query
        assert len(lifted) == 5 and [h.score for h in lifted] == sorted((h.score for h in lifted), reverse=True)
        assert [h for h in lifted if h.id != wanted] == [h for h in plain if h.id != wanted][:4]


def test_a_sentence_mentioning_an_identifier_adds_its_definition_below_the_first_hits(engine):
    query = "a helper that behaves like py_scanstring but is written for the other kind of strings we see"
    wanted = engine.find_symbol("py_scanstring")[0].definition.chunks[0]
    engine.lift_definitions = False
    plain = engine.search(SearchRequest(query=query, top_k=4, mode="dense"))
    engine.lift_definitions = True
    lifted = engine.search(SearchRequest(query=query, top_k=4, mode="dense"))
    if wanted in {h.id for h in plain}:
        assert lifted == plain  # found already: left where it was
    else:
        assert [h.id for h in lifted] == [h.id for h in plain[:3]] + [wanted]


def test_ambiguous_names_and_filtered_searches_add_nothing(engine, monkeypatch):
    # `measure` has three definitions (the limit): all lifted; a path filter only reorders
    top = engine.search(SearchRequest(query="measure", top_k=10, mode="dense"))
    assert {h.path for h in top[:3]} == {"pkg/models.py", "other/measure.py", "web/util.js"}
    only_web = engine.search(SearchRequest(query="JSONDecoder.decode", top_k=10, mode="dense", path_glob="web/"))
    assert all(h.path.startswith("web/") for h in only_web)
    # `__init__` is defined in three places, more than MAX_DEFINITIONS here: nothing is lifted
    monkeypatch.setattr(lift_module, "MAX_DEFINITIONS", 2)
    engine.lift_definitions = False
    plain = engine.search(SearchRequest(query="__init__", top_k=5, mode="dense"))
    engine.lift_definitions = True
    assert engine.search(SearchRequest(query="__init__", top_k=5, mode="dense")) == plain


def test_the_lift_can_be_turned_off(tmp_path, hashing_encoder, monkeypatch):
    monkeypatch.setenv("GROUNDMCP_LIFT_DEFINITIONS", "false")
    e = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        assert e.lift_definitions is False
    finally:
        e.close()
