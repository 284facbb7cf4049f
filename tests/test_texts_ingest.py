"""Texts sent by a client (ingest(texts=...)): a path or language picks the chunker, code is
recognised when neither is given, and one text costs the same whatever the collection holds."""

from __future__ import annotations

import pytest

from groundmcp.chunking.detect import detect_language
from groundmcp.errors import InputError
from groundmcp.ingest.pipeline import IngestOptions, TextInput, ingest_texts
from groundmcp.record import TEXTS_ROOT
from groundmcp.store.base import Filters

CODE = "def parse_currency(text):\n    return float(text.strip('$'))\n\n\nclass Ledger:\n    def total(self):\n        return 0\n"
JS = "var bindKey = baseRest(function(object, key, partials) {\n  return createWrap(key, object, partials);\n});\n"
PROSE = "Unchanged files are not read again. Import the module from the package, then def-ine your class."


def _chunks(store, name):
    rows = store.scroll(name, Filters(roots=[TEXTS_ROOT], visible=True), ("path", "language", "kind", "symbol"))
    return [payload for _, payload in rows if payload.get("kind") in ("code", "doc")]


def test_a_path_or_language_picks_the_chunker_and_code_is_recognised(edge_store, hashing_encoder):
    docs = [
        TextInput("a", CODE, path="src/money.py"),
        TextInput("b", CODE, language="python"),
        TextInput("c", JS),  # no path, no language: recognised as JavaScript
        TextInput("d", PROSE),  # prose that mentions `def` and `import` stays prose
        TextInput("e.md", "# Notes\n\nSome text.\n"),  # an id with an extension works as before
    ]
    ingest_texts(docs, store=edge_store, encoder=hashing_encoder, options=IngestOptions(collection="t"))
    by_path: dict[str, list[dict]] = {}
    for p in _chunks(edge_store, "t"):
        by_path.setdefault(p["path"], []).append(p)
    assert set(by_path) == {"src/money.py", "b.py", "c.js", "d", "e.md"}
    assert {p["language"] for p in by_path["src/money.py"]} == {"python"}
    assert {p["symbol"] for p in by_path["b.py"]} >= {"parse_currency", "Ledger.total"}  # chunked along its syntax
    assert {(p["language"], p["kind"]) for p in by_path["c.js"]} == {("javascript", "code")}
    assert {(p["language"], p["kind"]) for p in by_path["d"]} == {("text", "doc")}
    assert {p["language"] for p in by_path["e.md"]} == {"markdown"}


def test_detection_needs_a_clean_parse_not_just_keywords():
    assert detect_language(CODE) == "python"
    assert detect_language(JS) == "javascript"
    assert detect_language("package main\n\nfunc main() {\n\tprintln(1)\n}\n") == "go"
    assert detect_language(PROSE) is None
    assert detect_language("def is how Python starts a function; class starts a class.\nimport this") is None


@pytest.mark.parametrize(
    "doc, message",
    [
        (TextInput("a", "x", path="../etc/passwd"), "is not a relative file name"),
        (TextInput("a", "x", path="  "), "is not a relative file name"),
        (TextInput("a", "x", language="klingon"), "unknown language 'klingon'"),
    ],
)
def test_a_bad_path_or_language_says_what_to_give(edge_store, hashing_encoder, doc, message):
    with pytest.raises(InputError, match=message):
        ingest_texts([doc], store=edge_store, encoder=hashing_encoder, options=IngestOptions(collection="t"))


class CountingStore:
    """The real store, counting the points its scrolls hand back (what an ingest reads)."""

    def __init__(self, store):
        self._store, self.read = store, 0

    def scroll(self, *args, **kwargs):
        for row in self._store.scroll(*args, **kwargs):
            self.read += 1
            yield row

    def __getattr__(self, name):
        return getattr(self._store, name)


def test_one_text_reads_the_same_points_at_a_small_and_a_large_collection(edge_store, hashing_encoder):
    """The manifest read for a call covers the texts it sends, not every text of the collection."""
    options = IngestOptions(collection="t")
    counting = CountingStore(edge_store)

    def one_more(i: int) -> int:
        counting.read = 0
        ingest_texts([(f"note-{i}", f"note number {i} about topic {i % 7}")], store=counting,
                     encoder=hashing_encoder, options=options)
        return counting.read

    ingest_texts([(f"seed-{i}", f"seed {i}") for i in range(5)], store=edge_store, encoder=hashing_encoder,
                 options=options)
    small = [one_more(i) for i in range(3)]
    ingest_texts([(f"bulk-{i}", f"bulk text {i} " * 20) for i in range(1500)], store=edge_store,
                 encoder=hashing_encoder, options=options)
    large = [one_more(i) for i in range(3, 6)]
    assert edge_store.count("t") > 1500
    assert max(large) == max(small) <= 2  # nothing of the 1,500 other texts is read
    # re-sending an unchanged text reads its own chunks only, and encodes nothing
    counting.read = 0
    report = ingest_texts([("note-4", "note number 4 about topic 4")], store=counting, encoder=hashing_encoder,
                          options=options)
    assert report.unchanged == 1 and report.chunks == 0 and counting.read <= 2
