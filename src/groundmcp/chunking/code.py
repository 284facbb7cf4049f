"""Source code chunked along its syntax: one chunk per function, method or type; a head chunk per class.

Definitions come from tree-sitter (tables in `code_specs`). Code between definitions (imports,
constants, statements, fields declared between methods) is packed into line windows of its own. A class,
impl, trait or namespace gets a chunk for its head (its first line through the line before its first
member definition: decorators, docstring, fields), then one chunk per member, nested classes recursing,
so a search for the class name finds the head and a search for a method finds just that method.
Functions nested in functions stay inside their parent's chunk. Anything over the budget is cut into
line windows with overlap. Files without a grammar are chunked as line windows only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node, Parser

from groundmcp.chunking.base import Chunk, TokenCounter
from groundmcp.chunking.code_specs import SPECS, LangSpec, field_name, js_function_value
from groundmcp.chunking.languages import CODE, grammar
from groundmcp.chunking.windows import Range, Sizer, blocks, fit, has_words, trim

SEP = " · "
MAX_SIGNATURE_CHARS = 160

# Lines that say nothing on their own: punctuation (`}`, `});`), a closing bracket with a comment after it
# (`}  // namespace geo`), access labels, and in C and C++ `#if`/`#ifdef`/`#else`/`#endif`.
_TRIVIAL = r"[\W_]*|[)\]}][^\w]*?(?://|#).*|(?:public|private|protected)\s*:"
_TRIVIAL_LINE = re.compile(rf"^\s*(?:{_TRIVIAL})\s*$")
_TRIVIAL_LINE_C = re.compile(rf"^\s*(?:{_TRIVIAL}|#\s*(?:if|ifdef|ifndef|else|elif|endif)\b.*)\s*$")
_DEFAULT_EXPORTS = frozenset(
    {"function_expression", "function", "generator_function", "arrow_function", "class", "class_expression"}
)
_LEADING_ANNOTATIONS = re.compile(r"^(?:@[\w.]+(?:\((?:[^()]|\([^()]*\))*\))?\s*)+")


@dataclass(slots=True)
class _Def:
    node: Node  # the definition itself (inside any wrapper)
    start: int  # first line, 0-based, decorators and leading comments included
    end: int  # one past the last line
    name: str
    signature: str


@dataclass(frozen=True, slots=True)
class _Context:
    path: str
    language: str
    source: bytes
    sizer: Sizer
    spec: LangSpec
    max_tokens: int
    overlap: int


def chunk_code(
    path: str, text: str, language: str, *, count_tokens: TokenCounter, max_tokens: int, overlap_tokens: int
) -> list[Chunk]:
    """Chunks of a source file; line windows when there is no grammar or nothing parses as a definition."""
    lines = text.split("\n")
    sizer = Sizer(lines, count_tokens)
    source = text.encode("utf-8")
    ctx = _Context(
        path, language, source, sizer, SPECS.get(language, LangSpec(frozenset())), max_tokens, overlap_tokens
    )
    lang = grammar(language)
    if lang is None:
        return _gap(ctx, 0, len(lines), [], [])
    try:
        tree = Parser(lang).parse(source)
    except (ValueError, RuntimeError):
        return _gap(ctx, 0, len(lines), [], [])
    return _scope(ctx, _definitions(ctx, tree.root_node.children, 0), 0, len(lines), [], [])


def _scope(ctx: _Context, defs: list[_Def], start: int, end: int, names: list[str], heads: list[str]) -> list[Chunk]:
    """Chunks for the lines start..end of one scope (module, class body) holding the definitions `defs`."""
    out: list[Chunk] = []
    cursor = start
    for d in defs:
        if d.start > cursor:
            out += _gap(ctx, cursor, d.start, names, heads)
        out += _definition(ctx, d, names, heads)
        cursor = max(cursor, d.end)
    if end > cursor:
        out += _gap(ctx, cursor, end, names, heads)
    return out


def _definition(ctx: _Context, d: _Def, names: list[str], heads: list[str]) -> list[Chunk]:
    symbol_names = [*names, d.name]
    symbol = ".".join(symbol_names)
    header = SEP.join([ctx.path, *heads, d.signature])
    body = d.node.child_by_field_name("body") if d.node.type in ctx.spec.containers else None
    members = _definitions(ctx, body.children, d.start, in_container=True) if body is not None else []
    if not members:
        return _windows(ctx, d.start, d.end, symbol, header)
    first = members[0].start
    head = trim(ctx.sizer.lines, d.start, first)
    one_line_scope = d.node.type in ctx.spec.scopes and head[1] - head[0] <= 1
    out = _windows(ctx, d.start, first, symbol, header) if first > d.start and not one_line_scope else []
    return out + _scope(ctx, members, first, d.end, symbol_names, [*heads, d.signature])


def _gap(ctx: _Context, start: int, end: int, names: list[str], heads: list[str]) -> list[Chunk]:
    """Code between definitions, in windows; lines that say nothing alone (`}`, `#endif`) are dropped."""
    lines = ctx.sizer.lines
    trivial = _TRIVIAL_LINE_C if ctx.language in ("c", "cpp") else _TRIVIAL_LINE
    units = [(a, b) for a, b in blocks(lines, start, end) if not all(trivial.match(line) for line in lines[a:b])]
    if not units:
        return []
    header = SEP.join([ctx.path, *heads])
    out: list[Chunk] = []
    for run in _runs(lines, units):  # a run of meaningful blocks is cut from its neighbours by trivial ones
        out += _windows(ctx, run[0][0], run[-1][1], ".".join(names), header, run, overlap_between_units=False)
    return out


def _runs(lines: list[str], units: list[Range]) -> list[list[Range]]:
    """Consecutive units grouped while only blank lines separate them."""
    runs: list[list[Range]] = []
    for a, b in units:
        if runs and all(not lines[i].strip() for i in range(runs[-1][-1][1], a)):
            runs[-1].append((a, b))
        else:
            runs.append([(a, b)])
    return runs


def _windows(
    ctx: _Context,
    start: int,
    end: int,
    symbol: str,
    header: str,
    units: list[Range] | None = None,
    *,
    overlap_between_units: bool = True,
) -> list[Chunk]:
    """Chunks of start..end under one symbol and header; overlapping windows when over the budget."""
    sizer = ctx.sizer
    ranges = fit(
        sizer, start, end, header, ctx.max_tokens, ctx.overlap, units, overlap_between_units=overlap_between_units
    )
    return [
        Chunk(ctx.path, ctx.language, CODE, symbol, a + 1, b, sizer.text(a, b), header)
        for a, b in ranges
        if has_words(sizer.text(a, b))
    ]


def _definitions(ctx: _Context, children: list[Node], floor: int, *, in_container: bool = False) -> list[_Def]:
    """Definitions among `children` (transparent nodes opened), each with its attached comments.

    In a class body a one-line member (`int x() const { return x_; }`, `Foo() = default;`) is left to
    the code around it, so accessors and defaulted members ride with the fields instead of making
    chunks of one line each.
    """
    spec = ctx.spec
    defs: list[_Def] = []
    attached: list[Node] = []
    last_end = floor - 1  # last row taken by a definition: a trailing comment on it is not attached below
    stack = list(reversed(children))
    while stack:
        node = stack.pop()
        if not node.is_named:
            continue
        if node.type in spec.transparent:
            stack.extend(reversed(node.children))
            attached = []
            continue
        if node.type in spec.attached:
            if node.start_point.row > last_end and (
                not attached or node.start_point.row <= _last_row(attached[-1]) + 1
            ):
                attached.append(node)
            elif node.start_point.row > last_end:
                attached = [node]
            continue
        found = _resolve(spec, node)
        if found is None:
            attached = []
            continue
        inner, name = found
        if in_container and inner.type not in spec.containers and node.start_point.row == _last_row(node):
            attached = []
            continue
        start = node.start_point.row
        if attached and _last_row(attached[-1]) + 1 >= start:
            start = attached[0].start_point.row
        start = max(start, floor, last_end + 1 if defs else floor)
        end = _last_row(node) + 1
        defs.append(_Def(inner, start, end, name, _signature(inner, name, ctx.source)))
        last_end = end - 1
        attached = []
    return defs


def _resolve(spec: LangSpec, node: Node) -> tuple[Node, str] | None:
    """(definition, name) for a definition or a wrapper around one, else None."""
    if node.type in spec.wrappers:
        for child in node.named_children:
            found = _resolve(spec, child)
            if found is not None:
                return found
        value = node.child_by_field_name("value")  # `export default function () {}`
        if node.type == "export_statement" and value is not None and value.type in _DEFAULT_EXPORTS:
            return value, field_name(value) or "default"
        return None
    if node.type not in spec.leaves and node.type not in spec.containers:
        return None
    name_of = spec.names.get(node.type, field_name)
    name = name_of(node)
    return (node, name) if name else None


def _last_row(node: Node) -> int:
    """The last line a node has text on (a node ending with its newline ends at column 0 of the next)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def _signature(node: Node, name: str, source: bytes) -> str:
    """The definition up to its body, on one line: `def f(a, b) -> int`, `class Foo(Base)`."""
    body = node.child_by_field_name("body")
    if node.type in ("lexical_declaration", "variable_declaration", "assignment_expression"):
        value = js_function_value(node)
        body = value.child_by_field_name("body") if value is not None else None
    if body is not None and body.start_byte > node.start_byte:
        head = source[node.start_byte : body.start_byte].decode("utf-8", "replace")
    else:
        line_end = source.find(b"\n", node.start_byte, node.end_byte)
        head = source[node.start_byte : line_end if line_end >= 0 else node.end_byte].decode("utf-8", "replace")
    head = " ".join(head.split())
    head = _LEADING_ANNOTATIONS.sub("", head)
    head = re.sub(r"\(\s+", "(", head)
    head = re.sub(r",?\s+\)", ")", head)
    head = head.rstrip(" {:=;").rstrip()
    if name == "default" and "default" not in head:
        head = f"export default {head}"
    elif name.split(".")[-1] not in head:
        head = f"{head} {name}".strip()
    if len(head) > MAX_SIGNATURE_CHARS:
        head = head[: MAX_SIGNATURE_CHARS - 1].rstrip() + "…"
    return head
