"""Search with the real bundled encoder over real files, on both store backends."""

from __future__ import annotations

import pytest

from groundmcp.errors import CollectionNotFound, IncompatibleCollection, InputError
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.engine import SearchRequest, search


@pytest.fixture
def indexed(store, real_encoder, project, stdlib_json_copy):
    for root in (project, stdlib_json_copy):
        ingest_path(str(root), store=store, encoder=real_encoder, options=IngestOptions(collection="c"))
    return store


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
    from groundmcp.search.engine import SearchHit

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
