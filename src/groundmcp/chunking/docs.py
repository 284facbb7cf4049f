"""Documents chunked along their structure: Markdown and reStructuredText by section, text by paragraph.

A section runs from its heading to the next heading of any level; its symbol is the heading path
("Title > Section > Sub"). A section that fits the budget is one chunk, and the small sections after it
that sit below it in the outline are merged in while they fit (the chunk keeps the first heading path).
A section over the budget is cut between blocks (paragraphs, list items, fenced code, directives), with
overlap; a block is cut only when it alone is over the budget. A last piece that would add less than
a window of its own is folded into the piece before it (`windows.fold_tail`): a section under two
windows stays one chunk, read by the encoder as far as its window goes, and by keyword in full.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from markdown_it import MarkdownIt

from groundmcp.chunking.base import Chunk, TokenCounter
from groundmcp.chunking.languages import DOC
from groundmcp.chunking.windows import Range, Sizer, blocks, fit, has_words, pack, text_budget, trim, units_from_starts

SEP = " · "
PATH_SEP = " > "
MAX_TITLE_CHARS = 80
FOLD_TAIL = 1.0  # of the text budget: a shorter last piece of a section joins the piece before it


def min_tail(budget: int) -> int:
    return int(budget * FOLD_TAIL)


def short_title(title: str) -> str:
    """A heading on one line, cut to a length that leaves the header room in the budget."""
    title = " ".join(title.split())
    return title if len(title) <= MAX_TITLE_CHARS else title[: MAX_TITLE_CHARS - 1].rstrip() + "…"


@dataclass(slots=True)
class Section:
    """Lines start..end (0-based, half-open) of the sizer's lines under one heading path."""

    start: int
    end: int
    level: int  # 0 before the first heading
    path: list[str]
    unit_starts: list[int] | None = None  # where blocks begin; None: blank-line separated blocks
    page: int | None = None  # sections on different pages are never merged
    offset: int = 0  # index of the line reported as line 1 (a PDF page's first line)
    source: Range | None = None  # 1-based line range to report instead (HTML: lines of the source file)
    cost: int | None = field(default=None, repr=False)


def chunk_sections(
    path: str, language: str, sizer: Sizer, sections: list[Section], *, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Chunks of consecutive sections: merged while small, cut at block boundaries when large.

    A small section absorbs the sections after it that sit below it in the outline (deeper level, same
    page). The text before the first heading (level 0) joins the first section when both fit, and the
    chunk then takes that section's heading path.
    """
    out: list[Chunk] = []
    i = 0
    while i < len(sections):
        first = anchor = sections[i]
        a, b = trim(sizer.lines, first.start, first.end)
        used, j = _cost(sizer, first, max_tokens), i + 1
        if first.level == 0 and j < len(sections) and sections[j].page == first.page:
            nxt = sections[j]
            extra = _cost(sizer, nxt, max_tokens)
            if used + 1 + extra <= text_budget(sizer, _header(path, nxt), max_tokens):
                anchor, used, j = nxt, used + 1 + extra, j + 1
                b = max(b, trim(sizer.lines, nxt.start, nxt.end)[1])
        header = _header(path, anchor)
        budget = text_budget(sizer, header, max_tokens)
        if used > budget:
            starts = first.unit_starts
            units = blocks(sizer.lines, a, b) if starts is None else units_from_starts(sizer.lines, starts, a, b)
            ranges = pack(sizer, units, budget, overlap_tokens, min_tail=min_tail(budget))
        else:  # a preamble (level 0) that could not join the first section stays alone
            while anchor.level and j < len(sections) and sections[j].level > anchor.level:
                if sections[j].page != first.page or used + 1 + _cost(sizer, sections[j], max_tokens) > budget:
                    break
                used += 1 + _cost(sizer, sections[j], max_tokens)
                b = max(b, trim(sizer.lines, sections[j].start, sections[j].end)[1])
                j += 1
            ranges = [(a, b)] if b > a else []
        last = sections[j - 1]
        symbol = PATH_SEP.join(anchor.path)
        for ra, rb in ranges:
            text = sizer.text(ra, rb)
            if not has_words(text):
                continue
            if first.source is not None:
                start_line, end_line = first.source[0], (last.source or first.source)[1]
            else:
                start_line, end_line = ra - first.offset + 1, rb - first.offset
            out.append(Chunk(path, language, DOC, symbol, start_line, end_line, text, header, first.page))
        i = j
    return out


def _header(path: str, section: Section) -> str:
    return f"{path}{SEP}{PATH_SEP.join(section.path)}" if section.path else path


def _cost(sizer: Sizer, section: Section, limit: int) -> int:
    """The section's tokens; its lower bound when that is surely over `limit` (no counter call)."""
    if section.cost is None:
        a, b = trim(sizer.lines, section.start, section.end)
        text = sizer.text(a, b)
        if sizer.surely_over(text, limit):
            section.cost = sizer.lower_bound(text)
        else:
            section.cost = sizer.range_cost(a, b) if b > a else 0
    return section.cost


def chunk_text(
    path: str, text: str, language: str = "text", *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Plain text: paragraphs (blank-line separated) packed up to the budget, with overlap when cut."""
    sizer = Sizer(text.split("\n"), count_tokens)
    fold = min_tail(text_budget(sizer, path, max_tokens))
    return [
        Chunk(path, language, DOC, "", a + 1, b, sizer.text(a, b), path)
        for a, b in fit(sizer, 0, len(sizer.lines), path, max_tokens, overlap_tokens, min_tail=fold)
    ]


# --- Markdown ---------------------------------------------------------------------------------------

_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)\s*$")


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark").enable("table")


def chunk_markdown(
    path: str, text: str, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Markdown by ATX and setext headings (not those inside lists or quotes), using markdown-it's line map."""
    lines = text.split("\n")
    parsed = list(lines)
    if lines and lines[0].strip() == "---":  # YAML front matter: kept as text, hidden from the parser
        end = next((i for i in range(1, min(len(lines), 200)) if _FRONT_MATTER_END.match(lines[i])), None)
        if end is not None:
            parsed[: end + 1] = [""] * (end + 1)
    tokens = _markdown().parse("\n".join(parsed))
    starts: list[int] = []
    headings: list[tuple[int, int, str]] = []  # line, level, title
    for k, token in enumerate(tokens):
        if token.map is None:
            continue
        if token.level == 0 or (token.type == "list_item_open" and token.level == 1):
            starts.append(token.map[0])
        if token.type == "heading_open" and token.level == 0:
            inline = tokens[k + 1]
            title = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
            headings.append((token.map[0], int(token.tag[1]), " ".join(title.split()) or inline.content.strip()))
    sections = _outline(len(lines), headings, starts)
    sizer = Sizer(lines, count_tokens)
    return chunk_sections(path, "markdown", sizer, sections, max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def _outline(n_lines: int, headings: list[tuple[int, int, str]], starts: list[int] | None) -> list[Section]:
    """Sections from (line, level, title) headings in order; the lines before the first one are level 0."""
    sections: list[Section] = []
    first = headings[0][0] if headings else n_lines
    if first > 0:
        sections.append(Section(0, first, 0, [], starts))
    stack: list[tuple[int, str]] = []
    for k, (line, level, title) in enumerate(headings):
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, short_title(title)))
        end = headings[k + 1][0] if k + 1 < len(headings) else n_lines
        sections.append(Section(line, end, level, [t for _, t in stack], starts))
    return sections


# --- reStructuredText -------------------------------------------------------------------------------
# Titles are found by their adornment rather than with docutils: docutils parses and transforms the whole
# document (slow on big trees), reports every Sphinx role and directive it does not know as an error,
# and gives no dependable line numbers for section titles. The rules below follow its title syntax: an
# underline (optionally with a matching overline) of one repeated punctuation character, at least as
# long as the title or at least four characters, after a blank line; levels in order of first use.

_ADORNMENT = re.compile(r"^([!-/:-@\[-`{-~])\1{2,}\s*$")


def chunk_rst(path: str, text: str, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    """reStructuredText by section titles; a directive or literal block stays with the paragraph above."""
    lines = text.split("\n")
    styles: list[tuple[str, bool]] = []
    headings: list[tuple[int, int, str]] = []
    i = 0
    while i < len(lines) - 1:
        found = _rst_title(lines, i)
        if found is None:
            i += 1
            continue
        style, title, size = found
        if style not in styles:
            styles.append(style)
        headings.append((i, styles.index(style) + 1, title))
        i += size
    starts = [a for a, _ in blocks(lines, 0, len(lines)) if not lines[a][:1].isspace()]
    sizer = Sizer(lines, count_tokens)
    sections = _outline(len(lines), headings, starts)
    return chunk_sections(path, "rst", sizer, sections, max_tokens=max_tokens, overlap_tokens=overlap_tokens)


def _rst_title(lines: list[str], i: int) -> tuple[tuple[str, bool], str, int] | None:
    """((char, overlined), title, lines used) when a section title starts at line i."""
    if i > 0 and lines[i - 1].strip() and not _ADORNMENT.match(lines[i - 1]):
        return None
    over = _ADORNMENT.match(lines[i])
    if over and i + 2 < len(lines):
        title, under = lines[i + 1].strip(), _ADORNMENT.match(lines[i + 2])
        if title and not _ADORNMENT.match(lines[i + 1]) and under and under.group(1) == over.group(1):
            return (over.group(1), True), title, 3
        return None
    if over or not lines[i].strip() or lines[i][:1].isspace():
        return None
    under = _ADORNMENT.match(lines[i + 1])
    title = lines[i].strip()
    if under and (len(lines[i + 1].rstrip()) >= len(title) or len(lines[i + 1].rstrip()) >= 4):
        return (under.group(1), False), title, 2
    return None
