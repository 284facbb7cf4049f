"""Search with the real bundled encoder over real files, on both store backends."""

from __future__ import annotations

import shutil

import pytest

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.errors import CollectionNotFound, IncompatibleCollection, InputError
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.query import SearchRequest, search

from .conftest import STDLIB_JSON, write_project


@pytest.fixture(scope="module", params=["edge", "qdrant-local"])
def indexed(request, tmp_path_factory, real_encoder):
    """The sample project and a copy of the stdlib's json package, ingested with the real encoder
    into collection "c" of each store backend (as conftest's `store`), once per backend for the
    module: the tests that take it only read (ingesting is most of what they cost)."""
    from groundmcp.store.factory import open_store

    base = tmp_path_factory.mktemp(f"search-{request.param}")
    local = base / "local" if request.param == "qdrant-local" else None
    store = open_store(data_dir=base / "data", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=local)
    json_copy = base / "json_pkg"
    shutil.copytree(STDLIB_JSON, json_copy, ignore=shutil.ignore_patterns("__pycache__"))
    for root in (write_project(base / "project"), json_copy):
        ingest_path(str(root), store=store, encoder=real_encoder, options=IngestOptions(collection="c"))
    yield store
    store.close()


def find(store, encoder, query, **kw):
    return search(store, encoder, "c", SearchRequest(query=query, **kw))


@pytest.mark.parametrize("mode", ["hybrid", "dense", "sparse"])
def test_finds_the_function_by_meaning_and_by_name(indexed, real_encoder, mode):
    hits = find(indexed, real_encoder, "retry with exponential backoff", mode=mode, top_k=3)
    assert hits[0].path == "src/retry.js"
    assert hits[0].symbol == "retryWithBackoff"
    hits = find(indexed, real_encoder, "InvoiceCalculator total_with_tax", mode=mode, top_k=3)
    assert hits[0].symbol == "InvoiceCalculator.total_with_tax"


def test_hits_carry_citations(indexed, real_encoder, project):
    hit = find(indexed, real_encoder, "how are refunds issued", top_k=1)[0]
    assert hit.path == "docs/guide.md" and hit.kind == "doc" and hit.language == "markdown"
    assert hit.symbol.startswith("User guide")
    lines = (project / "docs" / "guide.md").read_text().splitlines()
    refund_line = next(i for i, line in enumerate(lines, 1) if "14 days" in line)
    assert hit.start_line <= refund_line <= hit.end_line
    assert hit.text == "\n".join(lines[hit.start_line - 1 : hit.end_line])
    assert hit.citation == f"docs/guide.md:{hit.start_line}-{hit.end_line}"


def test_real_library_code_is_found(indexed, real_encoder):
    hits = find(indexed, real_encoder, "decode a JSON document from a string", top_k=5, languages=("python",))
    assert any(h.path in ("decoder.py", "__init__.py") for h in hits)


def test_filters_by_language_kind_and_path_glob(indexed, real_encoder):
    q = "billing"
    assert {h.language for h in find(indexed, real_encoder, q, languages=("markdown",))} == {"markdown"}
    assert {h.kind for h in find(indexed, real_encoder, q, kinds=("code",))} == {"code"}
    hits = find(indexed, real_encoder, q, path_glob="src/**/*.py")
    assert hits and {h.path for h in hits} == {"src/billing.py"}
    hits = find(indexed, real_encoder, "scanner", path_glob="*.py", top_k=20)
    assert hits and all(h.path.endswith(".py") for h in hits)
    hits = find(indexed, real_encoder, "anything", path_glob="docs")
    assert hits and {h.path for h in hits} == {"docs/guide.md"}
    hits = find(indexed, real_encoder, "anything", path_glob="docs/guide.md")
    assert {h.path for h in hits} == {"docs/guide.md"}


def test_bad_requests_get_actionable_errors(indexed, real_encoder):
    with pytest.raises(InputError, match="empty"):
        find(indexed, real_encoder, "   ")
    with pytest.raises(InputError, match="top_k"):
        find(indexed, real_encoder, "x", top_k=0)
    with pytest.raises(InputError, match="mode"):
        find(indexed, real_encoder, "x", mode="fuzzy")
    with pytest.raises(CollectionNotFound, match="'c'"):
        search(indexed, real_encoder, "nope", SearchRequest(query="x"))
    with pytest.raises(IncompatibleCollection, match="384-d"):
        search(indexed, HashingEncoder(dim=16), "c", SearchRequest(query="x"))


def test_stop_word_only_query_falls_back_to_dense(indexed, real_encoder):
    assert find(indexed, real_encoder, "the of and", mode="hybrid")
    assert find(indexed, real_encoder, "the of and", mode="sparse") == []


def test_snippet_window_centres_on_query_terms():
    from groundmcp.search.snippet import best_window

    text = "\n".join(f"filler line {i}" for i in range(30)) + "\nrefunds are issued in 14 days\n" + "tail\n" * 5
    snip = best_window(text, 101, "when are refunds issued", 4)
    assert any("refunds" in line for line in snip.lines)
    assert snip.end_line - snip.start_line == 3
    assert snip.cut_before + len(snip.lines) + snip.cut_after == len(text.split("\n"))
    assert snip.lines[0] == text.split("\n")[snip.start_line - 101]
    short = best_window("a\nb", 7, "x", 4)
    assert (short.start_line, short.end_line, short.cut_before, short.cut_after) == (7, 8, 0, 0)


def _hit(i: int, text: str):
    from groundmcp.search.query import SearchHit

    return SearchHit(f"id{i}", 1.0 / (i + 1), f"src/f{i}.py", "/r", 1, text.count("\n") + 1, "python", "code", f"f{i}", text)


def test_budget_keeps_rank_order_trims_and_omits_within_the_limit():
    from groundmcp.search.budget import fit, json_tokens

    long = "\n".join(f"line {n} about parsing invoices" for n in range(300))
    hits = [_hit(0, long)] + [_hit(i, f"def f{i}():\n    return {i}\n") for i in range(1, 60)]
    fitted = fit(hits, "parsing invoices", 1000)
    assert [f.hit.id for f in fitted.hits] == [h.id for h in hits[: len(fitted.hits)]]
    assert fitted.hits[0].truncated and len(fitted.hits) > 5 and fitted.omitted
    assert fitted.used_tokens <= 1000
    assert sum(json_tokens(f.text) for f in fitted.hits) < 1000
    whole = fit(hits[1:4], "x", 4000)
    assert not whole.omitted and not any(f.truncated for f in whole.hits)


# -- the collection info cache: no point count per search, never a stale answer ------------------


class CountingStore:
    """The real store, counting the `info` calls (each is an exact point count)."""

    def __init__(self, store):
        self._store, self.infos = store, 0

    def info(self, name):
        self.infos += 1
        return self._store.info(name)

    def __getattr__(self, attr):
        return getattr(self._store, attr)


def test_searches_read_the_collection_info_once(indexed, real_encoder):
    from groundmcp.search.query import CollectionInfoCache

    counting = CountingStore(indexed)
    infos = CollectionInfoCache(counting)
    for query in ("retry with backoff", "refunds", "InvoiceCalculator"):
        assert search(counting, real_encoder, "c", SearchRequest(query=query), infos=infos)
    assert counting.infos == 1


def test_search_after_ingest_and_delete_in_the_same_process_sees_the_collection_as_it_is(
    store, real_encoder, project, stdlib_json_copy
):
    from groundmcp.search.query import CollectionInfoCache

    infos = CollectionInfoCache(store)

    def find_in(query, encoder=real_encoder):
        return search(store, encoder, "c", SearchRequest(query=query, top_k=3), infos=infos)

    def ingest(root, encoder=real_encoder):
        ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="c"))

    with pytest.raises(CollectionNotFound):
        find_in("retry with exponential backoff")
    ingest(project)  # the collection now exists: a miss is never cached
    assert find_in("retry with exponential backoff")[0].path == "src/retry.js"
    assert not any(h.path.endswith("decoder.py") for h in find_in("JSONDecoder raw_decode"))
    ingest(stdlib_json_copy)  # new points in a cached collection are found at once
    assert any(h.path == "decoder.py" for h in find_in("JSONDecoder raw_decode"))
    store.delete_collection("c")  # deleted behind the cache's back (no forget)
    with pytest.raises(CollectionNotFound, match="'c'"):
        find_in("retry")
    ingest(project, HashingEncoder(dim=64))  # made again with another model
    with pytest.raises(IncompatibleCollection, match="64-d"):
        find_in("retry")
    assert find_in("retry", HashingEncoder(dim=64))  # and its own encoder can search it
    store.delete_collection("c")
    ingest(project)  # and once more with the first model: the cached incompatible info goes
    assert find_in("retry with exponential backoff")[0].path == "src/retry.js"


def test_collection_info_cache_forgets_and_expires(indexed, real_encoder):
    from groundmcp.search.query import CollectionInfoCache

    now = [0.0]
    counting = CountingStore(indexed)
    infos = CollectionInfoCache(counting, ttl=10.0, clock=lambda: now[0])
    infos.get("c", real_encoder)
    infos.get("c", real_encoder)
    assert counting.infos == 1
    infos.forget("c")
    infos.get("c", real_encoder)
    assert counting.infos == 2
    now[0] = 10.5  # another process may have made it again: read it again
    infos.get("c", real_encoder)
    infos.get("c", real_encoder)
    assert counting.infos == 3
    with pytest.raises(IncompatibleCollection):  # an incompatible answer is always the store's:
        infos.get("c", HashingEncoder(dim=16))
    assert counting.infos == 4  # the cached entry failed, was read again, and failed again
    infos.get("c", real_encoder)
    assert counting.infos == 5  # and the failure was not kept


# -- line scores for trimming hits: cheaper, and the same as tokenizing every line ---------------


def _words_and_texts():
    """Real text: sources of the stdlib's json, email, http, logging, unittest and asyncio, and
    argparse (docstrings and comments are English prose)."""
    import argparse
    import asyncio
    import email
    import http
    import json
    import logging
    import unittest
    from pathlib import Path

    files = [Path(argparse.__file__)]
    for pkg in (json, email, http, logging, unittest, asyncio):
        files += sorted(Path(pkg.__file__).parent.glob("*.py"))
    return [p.read_text(encoding="utf-8") for p in files]


def test_the_stemmer_keeps_all_but_the_last_two_letters_and_never_lengthens():
    """What QueryTerms relies on to skip stemming words that cannot match (see search/snippet.py)."""
    import os
    from pathlib import Path

    from groundmcp.search.snippet import stem_prefix
    from groundmcp.sparse import CAMEL, IDENT, stem

    stdlib = [p.read_text(encoding="utf-8", errors="replace") for p in Path(os.__file__).parent.glob("*.py")]
    parts = {
        part.lower()
        for text in _words_and_texts() + stdlib
        for word in IDENT.findall(text)
        for piece in word.split("_")
        for part in CAMEL.findall(piece)
    }
    parts |= {"dying", "lying", "tying", "skies", "skis", "idly", "gently", "ugly", "early", "only",
              "singly", "news", "possibilities", "generalizations", "happily", "conditional"}
    assert len(parts) > 15000
    for part in parts:
        stemmed = stem(part)
        assert len(stemmed) <= len(part) and part.startswith(stem_prefix(stemmed)), (part, stemmed)


def test_line_scores_and_windows_match_tokenizing_every_line():
    from groundmcp.search.snippet import QueryTerms, best_window
    from groundmcp.sparse import tokenize

    def reference_window(text, query, n):  # the committed best_window: tokenize every line
        lines = text.split("\n")
        wanted = set(tokenize(query))
        hits = [len(wanted.intersection(tokenize(line))) for line in lines]
        best_start, best = 0, sum(hits[:n])
        for start in range(1, len(lines) - n + 1):
            window = sum(hits[start : start + n])
            if window > best:
                best_start, best = start, window
        return best_start

    texts = _words_and_texts()
    queries = [
        "how are headers parsed", "decode a JSON document from a string", "parseHTTPResponse",
        "raw_decode", "I think I've found a bug! What should I do?", "the of and", "",
        "generalizations of possibilities", "email.message get_payload decode=True", "HTTP status 404",
        "ArgumentParser add_argument", "encodings", "Ünïcödé 日本語", "retries dying tied",
    ]
    for query in queries:
        terms = QueryTerms(query)
        wanted = set(tokenize(query))
        for text in texts[:12]:
            lines = text.split("\n")
            assert terms.scores(lines) == [len(wanted.intersection(tokenize(line))) for line in lines]
            for n in (3, 17, 60):
                if len(lines) > n:
                    assert best_window(text, 1, query, n).cut_before == reference_window(text, query, n)
