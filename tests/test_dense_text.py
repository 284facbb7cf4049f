"""The dense encoder reads a code chunk's camelCase names as words (chunking/words.py):
the bundled encoder lower-cases its input, so `createCompounder` would reach it as one run of word
pieces. The sparse vector, the stored text and the citations keep the file's own spelling."""

from __future__ import annotations

import pytest

from groundmcp.chunking.words import spelled
from groundmcp.encoders.base import Encoder
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.query import SearchRequest, search


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("var lowerCase = createCompounder(fn)", "var lower Case = create Compounder(fn)"),
        ("new DataView(getNative(root))", "new DataView(get Native(root))"),
        ("parseHTTPResponse(XMLHttpRequest)", "parse HTTP Response(XMLHttpRequest)"),
        ("isArrayLikeObject(value)", "is Array Like Object(value)"),
        ("base64Encode toString2", "base64 Encode to String2"),
    ],
)
def test_mixed_case_names_are_spelled_as_words(text, words):
    assert spelled(text) == words


@pytest.mark.parametrize(
    "text",
    [
        "snake_case_name = other_name()",
        "MAX_RETRIES = 3",
        "class ValueError(HTTPServer)",  # PascalCase: as written
        "HTTP OK",
        "plain words, Sentence case.",
        "x2 A1",
    ],
)
def test_everything_else_is_left_as_written(text):
    assert spelled(text) == text


class RecordingEncoder(Encoder):
    """Wraps an encoder and keeps every document text it is asked to encode."""

    def __init__(self, inner: Encoder) -> None:
        self.inner, self.texts = inner, []
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _embed(self, texts, *, is_query):
        if not is_query:
            self.texts.extend(texts)
        return self.inner._embed(texts, is_query=is_query)


def test_the_encoder_reads_code_names_as_words_and_the_index_keeps_them_whole(store, hashing_encoder, tmp_path):
    root = tmp_path / "project"
    root.mkdir()
    (root / "compound.js").write_text(
        "var lowerCase = createCompounder(function(result, word, index) {\n"
        "  return result + (index ? ' ' : '') + word.toLowerCase();\n"
        "});\n"
    )
    (root / "notes.md").write_text("# Notes\n\nThe createCompounder helper joins words.\n")
    encoder = RecordingEncoder(hashing_encoder)
    ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t"))

    js = [t for t in encoder.texts if "Compounder" in t and "function(result" in t]
    md = [t for t in encoder.texts if "helper joins" in t]
    assert js and all("create Compounder" in t and "createCompounder" not in t for t in js)
    assert "to Lower Case()" in js[0] and "var lower Case" in js[0]
    assert md and "createCompounder" in md[0]  # prose is encoded as written

    # The index keeps the file's spelling: the stored text, and the whole identifier for keywords.
    hits = search(store, encoder, "t", SearchRequest(query="createCompounder", mode="sparse", top_k=5))
    assert hits and hits[0].path == "compound.js"
    assert "createCompounder(function(result, word, index)" in hits[0].text
