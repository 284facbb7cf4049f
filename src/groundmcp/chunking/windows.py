"""Packing runs of lines into pieces that fit a token budget.

Every chunker ends here: it hands over line ranges of some text (a function, a section, a gap between
definitions) and gets back ranges that fit. Ranges are 0-based and half-open `(start, end)` over a list
of lines. The token counter is called on candidate pieces (a whole region, then its blocks, then a
window of estimated lines to check it), never per line of a big block nor per character.
"""

from __future__ import annotations

import re

from groundmcp.chunking.base import TokenCounter

Range = tuple[int, int]

_WORD = re.compile(r"\w")
_SUBWORD = re.compile(r"[^\W\d_]{1,6}|\d|[^\w\s]|_")  # a rough stand-in for word pieces
_WORDS_AND_MARKS = re.compile(r"\w+|[^\w\s]")  # word-piece encoders make at least one token of each
_SURELY_OVER = 1.25  # margin for encoders that merge punctuation (byte-level BPE)
_SAMPLE_CHARS = 1000


class Sizer:
    """Counts tokens of lines and ranges of one text, net of the counter's fixed cost (special tokens).

    Lines of a block over the budget get an estimate instead of a call each: tokens per unit of a cheap
    sub-word proxy, learnt from the first such block (or a sample of it), times the line's proxy. `pack`
    checks every range built from estimates with one call. Texts surely over a limit by a lower bound
    that costs no call (words and marks) are not counted whole.
    """

    def __init__(self, lines: list[str], count: TokenCounter) -> None:
        self.lines = lines
        self._count = count
        self.base = count("")  # [CLS]/[SEP] or nothing: paid once per encoded text, not per piece
        self._line_cost: dict[int, float] = {}
        self._scale: float | None = None  # tokens per proxy unit

    def text(self, start: int, end: int) -> str:
        return "\n".join(self.lines[start:end])

    def cost(self, text: str) -> int:
        """Tokens `text` adds to an encoded sequence."""
        return max(0, self._count(text) - self.base) if text.strip() else 0

    def total(self, text: str) -> int:
        """Tokens of `text` encoded on its own, fixed cost included."""
        return self._count(text)

    def line_cost(self, i: int) -> float:
        cost = self._line_cost.get(i)
        if cost is None:
            cost = self._line_cost[i] = self.cost(self.lines[i])
        return cost

    def range_cost(self, start: int, end: int) -> int:
        if end - start == 1:
            return int(self.line_cost(start))
        return self.cost(self.text(start, end))

    def lower_bound(self, text: str) -> int:
        """Tokens a word-piece encoder makes at least: one per word and one per mark."""
        return len(_WORDS_AND_MARKS.findall(text))

    def surely_over(self, text: str, limit: int) -> bool:
        """True when `text` is well over `limit` tokens by the lower bound (a margin for BPE merges)."""
        return self.lower_bound(text) > limit * _SURELY_OVER

    def estimate(self, start: int, end: int, cost: int | None = None) -> None:
        """Give the lines of start..end (those not counted already) an estimated cost.

        `cost` is the counted cost of the whole range, when it was counted.
        """
        proxies = [len(_SUBWORD.findall(self.lines[i])) for i in range(start, end)]
        if cost is not None:
            self._scale = self._scale or cost / max(sum(proxies), 1)
        elif self._scale is None:  # learn the scale from the first lines, up to about a thousand characters
            stop, size = start, 0
            while stop < end and (size < _SAMPLE_CHARS or stop == start):
                size += len(self.lines[stop]) + 1
                stop += 1
            self._scale = self.cost(self.text(start, stop)) / max(sum(proxies[: stop - start]), 1)
        scale = self._scale or 1.0
        for i, proxy in zip(range(start, end), proxies, strict=True):
            self._line_cost.setdefault(i, proxy * scale)


def is_blank(line: str) -> bool:
    return not line.strip()


def has_words(text: str) -> bool:
    return _WORD.search(text) is not None


def trim(lines: list[str], start: int, end: int) -> Range:
    """The range without its leading and trailing blank lines (empty when all are blank)."""
    while start < end and is_blank(lines[start]):
        start += 1
    while end > start and is_blank(lines[end - 1]):
        end -= 1
    return start, end


def blocks(lines: list[str], start: int, end: int) -> list[Range]:
    """Runs of non-blank lines separated by blank lines."""
    out: list[Range] = []
    i = start
    while i < end:
        while i < end and is_blank(lines[i]):
            i += 1
        j = i
        while j < end and not is_blank(lines[j]):
            j += 1
        if j > i:
            out.append((i, j))
        i = j
    return out


def units_from_starts(lines: list[str], starts: list[int], start: int, end: int) -> list[Range]:
    """Units that begin at each of `starts` (sorted) and run to the next, trimmed of blank lines."""
    cuts = sorted({s for s in starts if start < s < end} | {start})
    out: list[Range] = []
    for a, b in zip(cuts, [*cuts[1:], end], strict=True):
        a, b = trim(lines, a, b)
        if b > a:
            out.append((a, b))
    return out


def pack(
    sizer: Sizer,
    units: list[Range],
    budget: int,
    overlap: int,
    *,
    overlap_between_units: bool = True,
    min_tail: int = 0,
) -> list[Range]:
    """Join consecutive units into ranges of at most `budget` tokens.

    A unit over the budget is cut into its lines (a single line over the budget stays whole: a chunk
    quotes whole lines). When a range has to end before the units do, the next one starts with the last
    lines of the previous, up to `overlap` tokens, so a sentence or statement cut at the edge is seen
    whole in one of them; with `overlap_between_units` off, only a cut inside a unit overlaps. Each join
    costs one token for the separator. A range whose size rests on estimates is counted once more, and
    shortened by a line until it fits.

    With `min_tail`, a last range that adds fewer than `min_tail` tokens past the one before it is
    folded into that one, which then runs over the budget by less than `min_tail` (see `fold_tail`).
    """
    items: list[tuple[int, int, float, bool, int]] = []  # start, end, cost, exact, unit
    for unit, (a, b) in enumerate(units):
        if b - a > 1 and sizer.surely_over(sizer.text(a, b), budget):
            cost: int | None = None
        else:
            cost = sizer.range_cost(a, b)
        if cost is not None and (cost <= budget or b - a == 1):
            items.append((a, b, cost, True, unit))
        else:
            sizer.estimate(a, b, cost)
            lines = sizer.lines
            items.extend((i, i + 1, sizer.line_cost(i), False, unit) for i in range(a, b) if not is_blank(lines[i]))
    out: list[Range] = []
    i = 0
    carry: tuple[int, float] | None = None  # (first line of the overlap, its cost)
    while i < len(items):
        first, used, exact = items[i][0], items[i][2], items[i][3]
        if carry is not None and carry[1] + 1 + used <= budget:
            first, used, exact = carry[0], carry[1] + 1 + used, False
        j = i + 1
        while j < len(items) and used + 1 + items[j][2] <= budget:
            used += 1 + items[j][2]
            exact = exact and items[j][3]
            j += 1
        while not exact and sizer.cost(sizer.text(first, items[j - 1][1])) > budget:
            if j - i > 1:
                j -= 1
            elif first < items[i][0]:
                first = items[i][0]  # drop the overlap
            else:
                break  # one line over the budget on its own
        end = items[j - 1][1]
        out.append((first, end))
        cut_inside = j < len(items) and items[j][4] == items[j - 1][4]
        carry = None
        if j < len(items) and overlap > 0 and (overlap_between_units or cut_inside):
            carry = _tail(sizer, first, end, overlap)
        i = j
    return fold_tail(sizer, out, min_tail) if min_tail else out


def fold_tail(sizer: Sizer, ranges: list[Range], min_tail: int) -> list[Range]:
    """`ranges` with the last one joined to the one before when it adds fewer than `min_tail` tokens.

    A last piece that is the overlap it repeats plus a few lines has little meaning of its own, yet
    as a chunk it competes with whole sections for every query. Joined to the piece before, the
    encoder reads that piece as far as its window goes (the lines past it stay searchable by keyword
    and are quoted in the citation). On the public docs set (dense, exact search), sections cut at
    the window scored 0.545 nDCG@10; folding last pieces under half a window, 0.550; under a whole
    window (the default for prose), 0.562 (`bench/chunk_sweep.py`, `groundmcp eval`).
    """
    if len(ranges) < 2:
        return ranges
    (a, b), (c, d) = ranges[-2], ranges[-1]
    start, end = trim(sizer.lines, max(b, c), d)
    if end > start and sizer.cost(sizer.text(start, end)) >= min_tail:
        return ranges
    return [*ranges[:-2], (a, d)]


def _tail(sizer: Sizer, start: int, end: int, overlap: int) -> tuple[int, float] | None:
    """The last lines of `start..end` that fit in `overlap` tokens, never the whole range."""
    first, used = end, 0.0
    while first - 1 > start:
        cost = sizer.line_cost(first - 1)
        if used + cost + (1 if used else 0) > overlap:
            break
        used += cost + (1 if used else 0)
        first -= 1
    first, _ = trim(sizer.lines, first, end)
    return (first, used) if first < end else None


def text_budget(sizer: Sizer, header: str, max_tokens: int) -> int:
    """Tokens left for the text once the header and the newline after it are paid for."""
    left = max_tokens - sizer.base - (sizer.cost(header) + 1 if header else 0)
    return max(left, max_tokens // 2, 1)


def fit(
    sizer: Sizer,
    start: int,
    end: int,
    header: str,
    max_tokens: int,
    overlap: int,
    units: list[Range] | None = None,
    *,
    overlap_between_units: bool = True,
    min_tail: int = 0,
) -> list[Range]:
    """Ranges covering `start..end` (blank edges trimmed), each fitting `max_tokens` with its header
    (the last one may run over by less than `min_tail`: see `fold_tail`).

    One counter call when the whole range fits; otherwise `units` (default: blank-line blocks) are packed.
    """
    start, end = trim(sizer.lines, start, end)
    if end <= start:
        return []
    text = f"{header}\n{sizer.text(start, end)}" if header else sizer.text(start, end)
    if not sizer.surely_over(text, max_tokens) and sizer.total(text) <= max_tokens:
        return [(start, end)]
    budget = text_budget(sizer, header, max_tokens)
    units = units if units is not None else blocks(sizer.lines, start, end)
    return pack(sizer, units, budget, overlap, overlap_between_units=overlap_between_units, min_tail=min_tail)
