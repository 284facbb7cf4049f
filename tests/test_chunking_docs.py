"""Document chunking: Markdown, reStructuredText, HTML, plain text and PDF, by structure."""

from __future__ import annotations

import io
import itertools
import re

from pypdf import PdfReader, PdfWriter

from groundmcp.chunking import Chunk, chunk_file
from groundmcp.chunking.docs import FOLD_TAIL


def count(text: str) -> int:
    return len(re.findall(r"\w+|[^\w\s]", text))


def chunk(path: str, source: str, **sizes: int) -> list[Chunk]:
    chunks = chunk_file(path, source.encode(), count_tokens=count, **sizes)
    lines = source.split("\n")
    for c in chunks:
        assert c.kind == "doc"
        if c.language not in ("html", "pdf"):
            assert c.text == "\n".join(lines[c.start_line - 1 : c.end_line]), c
    return chunks


def within(chunks: list[Chunk], max_tokens: int) -> bool:
    """Each chunk fits the budget, except a section's last piece, into which a last bit of less
    than FOLD_TAIL of a window was folded: that one runs over by less than that."""
    for c, nxt in itertools.zip_longest(chunks, chunks[1:]):
        size = count(c.embed_text)
        last_of_section = nxt is None or nxt.symbol != c.symbol or nxt.start_line > c.end_line
        if size > max_tokens and not (last_of_section and size < max_tokens * (1 + FOLD_TAIL)):
            return False
    return True


def spans(chunks: list[Chunk]) -> list[tuple[str, int, int]]:
    return [(c.symbol, c.start_line, c.end_line) for c in chunks]


MARKDOWN = """\
---
title: Front matter
---
# Guide

Intro paragraph.

## Install

Run this:

```sh
# not a heading
pip install tool
```

### From source

Clone it and build it.

## Usage

Use it well.
"""


def test_markdown_sections_with_heading_paths() -> None:
    chunks = chunk("docs/guide.md", MARKDOWN, max_tokens=30, overlap_tokens=4)
    assert spans(chunks) == [
        ("Guide", 1, 6),  # front matter is text, not a heading; it joins the first section
        ("Guide > Install", 8, 15),
        ("Guide > Install > From source", 17, 19),
        ("Guide > Usage", 21, 23),
    ]
    assert chunks[1].header == "docs/guide.md · Guide > Install"
    assert chunks[1].text.endswith("pip install tool\n```")
    assert all(c.language == "markdown" for c in chunks)


def test_markdown_small_sections_merge_under_the_first_heading() -> None:
    chunks = chunk("docs/guide.md", MARKDOWN)
    assert spans(chunks) == [("Guide", 1, 23)]
    assert chunks[0].header == "docs/guide.md · Guide"


def test_markdown_fence_is_not_split_when_it_fits() -> None:
    paragraphs = "\n\n".join(f"Paragraph {i} says something about the tool and its options." for i in range(6))
    fence = "```python\n" + "\n".join(f"value_{i} = compute({i})" for i in range(8)) + "\n```"
    source = f"# Title\n\n## Big\n\n{paragraphs}\n\n{fence}\n\n{paragraphs}\n"
    chunks = chunk("big.md", source, max_tokens=80, overlap_tokens=10)
    assert len(chunks) > 3 and [c.symbol for c in chunks][:2] == ["Title", "Title > Big"]  # "# Title" alone
    assert any(fence in c.text for c in chunks)
    assert all("```python" not in c.text or fence in c.text for c in chunks)
    assert within(chunks, 80)


def test_markdown_oversized_fence_is_cut_into_windows() -> None:
    fence = "```\n" + "\n".join(f"line {i} of a very long listing" for i in range(60)) + "\n```"
    chunks = chunk("long.md", f"# Listing\n\n{fence}\n", max_tokens=60, overlap_tokens=8)
    assert len(chunks) > 3
    for prev, nxt in itertools.pairwise(chunks):
        assert nxt.start_line <= prev.end_line  # overlap between windows of the same section


RST = """\
=====
Guide
=====

Intro.

Install
-------

Run this::

    pip install tool

    tool --init

From source
~~~~~~~~~~~

Clone.

Usage
-----

Use it.

----

After a transition.
"""


def test_rst_sections_levels_and_literal_blocks() -> None:
    chunks = chunk("docs/guide.rst", RST, max_tokens=36, overlap_tokens=2)
    assert spans(chunks) == [
        ("Guide", 1, 5),
        ("Guide > Install", 7, 14),
        ("Guide > Install > From source", 16, 19),
        ("Guide > Usage", 21, 28),
    ]
    assert chunks[1].text.endswith("    tool --init")  # the literal block stays with "Run this::"
    assert chunk("docs/guide.rst", RST)[0].symbol == "Guide"


HTML = """\
<html><head><title>Tool docs</title>
<style>h1 { color: red }</style></head>
<body>
<nav><h2>Menu</h2><a href="/">Home</a></nav>
<p>Welcome text.</p>
<h1>Guide</h1>
<p>Intro &amp; overview.</p>
<script>var html = "<h2>fake</h2>";</script>
<h2 id="install">Install</h2>
<p>Run <code>pip install tool</code>.</p>
<ul><li>first</li><li>second</li></ul>
<h2>Usage</h2>
<pre>tool --help
  tool run</pre>
</body></html>
"""


def test_html_sections_text_only_with_source_lines() -> None:
    chunks = chunk("site/index.html", HTML, max_tokens=24, overlap_tokens=2)
    assert spans(chunks) == [("Guide", 1, 8), ("Guide > Install", 9, 11), ("Guide > Usage", 12, 16)]
    text = "\n".join(c.text for c in chunks)
    assert "Menu" not in text and "fake" not in text and "color" not in text
    assert chunks[0].text == "Welcome text.\nGuide\nIntro & overview."  # text before h1 joins it
    assert chunks[1].text == "Install\nRun pip install tool.\nfirst\nsecond"
    assert chunks[2].text == "Usage\ntool --help\n  tool run"
    assert spans(chunk("site/index.html", HTML)) == [("Guide", 1, 16)]  # all merged under the first heading
    no_headings = chunk("site/plain.html", "<title>Plain page</title><p>Only text.</p>")
    assert [(c.symbol, c.header, c.text) for c in no_headings] == [
        ("Plain page", "site/plain.html · Plain page", "Only text.")
    ]


def test_plain_text_paragraphs_packed_with_overlap() -> None:
    paragraphs = [f"Paragraph {i} tells one small thing about the subject at hand." for i in range(12)]
    source = "\n\n".join(paragraphs) + "\n"
    assert spans(chunk("notes.txt", source)) == [("", 1, 23)]
    chunks = chunk("notes.txt", source, max_tokens=40, overlap_tokens=14)
    assert len(chunks) >= 4 and all(c.header == "notes.txt" for c in chunks)
    assert within(chunks, 40)
    assert chunks[0].start_line == 1 and chunks[-1].end_line == 23
    assert any(nxt.start_line <= prev.end_line for prev, nxt in itertools.pairwise(chunks))


def test_short_last_piece_is_folded_into_the_one_before() -> None:
    words = [f"word{i}" for i in range(400)]
    lines = [" ".join(words[k : k + 10]) for k in range(0, 400, 10)]  # 40 lines of 10 tokens

    def pieces(n_lines: int, fmt: str) -> list[Chunk]:
        body = "\n".join(lines[:n_lines])
        source = f"# Topic\n\n{body}\n" if fmt == "md" else body + "\n"
        return chunk(f"doc.{fmt}", source, max_tokens=100, overlap_tokens=10)

    # The text budget is about 90 tokens (100 less the header): about 8 lines go in a first piece.
    fold_lines = int(FOLD_TAIL * 90) // 10  # a last bit of this many lines is folded, one more is not
    for fmt in ("md", "txt"):
        # a little over the window: one chunk that runs past it, all lines quoted, nothing repeated
        (one,) = pieces(11, fmt)
        assert one.text.endswith(lines[10]) and 100 < count(one.embed_text) < 100 * (1 + FOLD_TAIL)
        # well over it: two pieces, the first within the window, the second starting with overlap
        first, second = pieces(8 + fold_lines + 3, fmt)
        assert count(first.embed_text) <= 100 and within([first, second], 100)
        assert second.text.endswith(lines[8 + fold_lines + 2]) and second.start_line <= first.end_line
        # many windows: only the last short piece is folded, the others fit
        many = pieces(40, fmt)
        assert len(many) >= 4 and many[-1].text.endswith(lines[39]) and within(many, 100)


def _pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages show the given lines in Helvetica, written by hand (pypdf cannot draw text)."""
    objects: list[bytes] = [b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for lines in pages:
        escaped = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines)
        stream = "\n".join(["BT", "/F1 12 Tf", "14 TL", "72 720 Td", *(f"({e}) Tj T*" for e in escaped), "ET"])
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream.encode("latin-1")))
    pages_id = 2 * len(pages) + 2
    page_ids = []
    for k in range(len(pages)):
        objects.append(
            b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 1 0 R >> >>"
            b" /Contents %d 0 R >>" % (pages_id, k + 2)
        )
        page_ids.append(len(objects))
    kids = b" ".join(b"%d 0 R" % i for i in page_ids)
    objects.append(b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(pages)))
    objects.append(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, len(objects), xref)
    return bytes(out)


PAGES = [
    ["Introduction", "This manual explains the tool.", "It has two chapters."],
    ["Installation", "Run pip install tool.", "Usage", "Call tool with --help to see the options."],
]


def test_pdf_by_page_and_outline_heading() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(_pdf(PAGES))))
    writer.add_outline_item(title="Introduction", page_number=0)
    install = writer.add_outline_item(title="Installation", page_number=1)
    writer.add_outline_item(title="Usage", page_number=1, parent=install)
    buffer = io.BytesIO()
    writer.write(buffer)
    chunks = chunk_file("manual.pdf", buffer.getvalue(), count_tokens=count, max_tokens=20, overlap_tokens=2)
    assert [(c.page, c.symbol, c.start_line, c.end_line) for c in chunks] == [
        (1, "Introduction", 1, 3),
        (2, "Installation", 1, 2),
        (2, "Installation > Usage", 3, 4),
    ]
    assert chunks[2].text == "Usage\nCall tool with --help to see the options."
    assert chunks[2].header == "manual.pdf · Installation > Usage"
    merged = chunk_file("manual.pdf", buffer.getvalue(), count_tokens=count)
    assert [(c.page, c.symbol) for c in merged] == [(1, "Introduction"), (2, "Installation")]  # never across pages


def test_pdf_without_outline_chunks_each_page() -> None:
    chunks = chunk_file("plain.pdf", _pdf(PAGES), count_tokens=count)
    assert [(c.page, c.symbol, c.start_line, c.end_line, c.header) for c in chunks] == [
        (1, "", 1, 3, "plain.pdf"),
        (2, "", 1, 4, "plain.pdf"),
    ]
    assert chunks[0].language == "pdf" and chunks[0].text.startswith("Introduction\nThis manual")
