"""HTML and PDF: documents whose chunks quote extracted text rather than the file's own lines.

HTML: the text of the body without script, style, nav, noscript, template and svg, one line per block
element, in sections by h1-h6. `start_line`/`end_line` are the lines of the source file from the
section's heading to the line before the next heading (found by matching each heading's text in the
source); every chunk of a section that had to be cut reports the section's whole range.

PDF: the text pypdf extracts, page by page; `page` is the 1-based page and `start_line`/`end_line` are
1-based line numbers within that page's extracted text, which `text` quotes exactly. Headings come from
the document outline (bookmarks) when it has one: a heading splits its page at the line that reads as
its title. Chunks never span pages.
"""

from __future__ import annotations

import html
import io
import re
from typing import Any

from pypdf import PdfReader
from selectolax.lexbor import LexborHTMLParser, LexborNode

from groundmcp.chunking.base import Chunk, TokenCounter
from groundmcp.chunking.docs import Section, chunk_sections, short_title
from groundmcp.chunking.windows import Sizer

_DROPPED = ["script", "style", "nav", "noscript", "template", "svg"]
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = frozenset({
    "address", "article", "aside", "blockquote", "body", "br", "caption", "dd", "details", "dialog", "div", "dl",
    "dt", "fieldset", "figcaption", "figure", "footer", "form", "header", "hr", "li", "main", "menu", "ol", "p",
    "pre", "section", "summary", "table", "tbody", "tfoot", "thead", "tr", "ul"
})  # fmt: skip
_HIDDEN_SOURCE = re.compile(r"<!--.*?-->|<(script|style)\b.*?</\1\s*>", re.S | re.I)
_SOURCE_HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def chunk_html(
    path: str, text: str, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """HTML by heading sections, text only."""
    tree = LexborHTMLParser(text)
    title_node = tree.css_first("title")
    title = short_title(title_node.text()) if title_node is not None else ""
    tree.strip_tags(_DROPPED)
    root = tree.body or tree.root
    parts = _walk(root) if root is not None else [(0, "", [])]
    source_lines = _match_headings([heading for level, heading, _ in parts if level], _heading_lines(text))
    n_source = text.count("\n") + 1
    lines: list[str] = []
    sections: list[Section] = []
    stack: list[tuple[int, str]] = []
    for k, (level, heading, body) in enumerate(parts):
        if level:
            while stack and stack[-1][0] >= level:
                stack.pop()
            stack.append((level, short_title(heading)))
        start = source_lines[k - 1] if level else 1
        nxt = source_lines[k] if k < len(source_lines) else n_source + 1
        body = ([heading] if level else []) + body
        sections.append(
            Section(
                len(lines),
                len(lines) + len(body),
                level,
                [t for _, t in stack] or ([title] if title else []),
                unit_starts=list(range(len(lines), len(lines) + len(body))),
                source=(start, max(start, nxt - 1)),
            )
        )
        lines += body
    sizer = Sizer(lines, count_tokens)
    return chunk_sections(path, "html", sizer, sections, max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def _walk(root: LexborNode) -> list[tuple[int, str, list[str]]]:
    """(level, heading, lines) per section in document order; the first has level 0 and no heading."""
    parts: list[tuple[int, str, list[str]]] = [(0, "", [])]
    line: list[str] = []

    def flush() -> None:
        joined = " ".join("".join(line).split())
        if joined:
            parts[-1][2].append(joined)
        line.clear()

    stack: list[LexborNode | None] = [root]
    while stack:
        node = stack.pop()
        if node is None:  # the end of a block element
            flush()
            continue
        if node.is_text_node:
            line.append(node.text(deep=False))
            continue
        if not node.is_element_node:
            continue
        tag = node.tag or ""
        heading = " ".join(node.text().split()) if tag in _HEADINGS else ""
        if heading:
            flush()
            parts.append((_HEADINGS[tag], heading, []))
            continue
        if tag == "pre":
            flush()
            parts[-1][2].extend(row.rstrip() for row in node.text().split("\n") if row.strip())
            continue
        if tag in ("td", "th"):
            line.append(" ")
        if tag in _BLOCKS:
            flush()
            stack.append(None)
        children = []
        child = node.first_child
        while child is not None:
            children.append(child)
            child = child.next
        stack.extend(reversed(children))
    flush()
    return parts


def _match_headings(headings: list[str], found: list[tuple[int, str]]) -> list[int]:
    """Source line of each extracted heading: the next source heading with the same text, in order."""
    out: list[int] = []
    cursor = 0
    for heading in headings:
        key = _norm(heading)
        at = next((i for i in range(cursor, len(found)) if found[i][1] == key), None)
        if at is None and cursor < len(found) and len(found) - cursor >= len(headings) - len(out):
            at = cursor  # text differs (entities, hidden parts): assume the order holds
        if at is None:
            out.append(out[-1] if out else 1)
        else:
            out.append(found[at][0])
            cursor = at + 1
    return out


def _heading_lines(source: str) -> list[tuple[int, str]]:
    """(1-based source line, normalised text) of each h1-h6 in order, comments and scripts blanked out."""
    masked = _HIDDEN_SOURCE.sub(lambda m: "\n" * m.group(0).count("\n"), source)
    found: list[tuple[int, str]] = []
    offset_line, last = 1, 0
    for m in _SOURCE_HEADING.finditer(masked):
        offset_line += masked.count("\n", last, m.start())
        last = m.start()
        found.append((offset_line, _norm(html.unescape(_TAG.sub("", m.group(2))))))
    return found


def chunk_pdf(
    path: str, data: bytes, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """PDF by page, split at outline headings found on the page. pypdf errors (broken, encrypted) propagate."""
    reader = PdfReader(io.BytesIO(data))
    entries = _outline(reader)
    lines: list[str] = []
    sections: list[Section] = []
    stack: list[str] = []
    for number, page in enumerate(reader.pages):
        offset = len(lines)
        page_lines = (page.extract_text() or "").split("\n")
        lines += page_lines
        cuts: list[tuple[int, list[str]]] = [(offset, list(stack))]
        for depth, title in entries.get(number, []):
            del stack[depth:]
            stack.append(short_title(title))
            at = next((i for i in range(cuts[-1][0], len(lines)) if _is_title(lines[i], title)), cuts[-1][0])
            cuts.append((at, list(stack)))
        for k, (at, heading_path) in enumerate(cuts):
            end = cuts[k + 1][0] if k + 1 < len(cuts) else len(lines)
            if end > at:
                sections.append(Section(at, end, len(heading_path), heading_path, page=number + 1, offset=offset))
    sizer = Sizer(lines, count_tokens)
    return chunk_sections(path, "pdf", sizer, sections, max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def _is_title(line: str, title: str) -> bool:
    """A page line that reads as an outline title, allowing a section number before it."""
    line, title = _norm(line), _norm(title)
    return bool(title) and (line.startswith(title) or (line.endswith(title) and len(line) - len(title) <= 8))


def _outline(reader: PdfReader) -> dict[int, list[tuple[int, str]]]:
    """Outline entries by 0-based page: (depth, title), in outline order; empty when unreadable."""
    out: dict[int, list[tuple[int, str]]] = {}

    def walk(items: list[Any], depth: int) -> None:
        for item in items:
            if isinstance(item, list):
                walk(item, depth + 1)
                continue
            number = reader.get_destination_page_number(item)
            title = " ".join(str(item.title or "").split())
            if number is not None and number >= 0 and title:
                out.setdefault(number, []).append((depth, title))

    try:
        walk(reader.outline, 0)
    except Exception:
        return {}
    return out
