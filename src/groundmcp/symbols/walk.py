"""The walk every language's extractor shares: an explicit stack over the tree (no recursion, so a
deeply nested expression in minified code cannot overflow), carrying the scope each node sits in.

A language supplies `visit(node, scope, out) -> children | None`: it records what the node
defines or references in `out` and returns the (child, scope) pairs to walk next, or None to walk
all children in the same scope.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from tree_sitter import Node

from .model import Definition, FileSymbols, Reference

MAX_SIGNATURE_CHARS = 160
MAX_QUALIFIER_CHARS = 60


@dataclass(frozen=True, slots=True)
class Scope:
    """Where a node sits: the qualified names around it, and what the innermost one is."""

    names: tuple[str, ...] = ()
    kind: str = "module"  # "module", "class" (members are methods), "function" (locals are not variables)

    def qualify(self, name: str) -> str:
        return ".".join((*self.names, name))

    def enter(self, name: str, kind: str) -> Scope:
        return Scope((*self.names, name), kind)

    @property
    def qualified(self) -> str:
        return ".".join(self.names)


Visit = Callable[[Node, Scope, "Out"], "Iterable[tuple[Node, Scope]] | None"]


class Out:
    """What a walk found, in file order once `symbols` sorts it."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.definitions: list[Definition] = []
        self.references: list[Reference] = []

    def define(self, kind: str, name: str, qualified: str, node: Node, *, start: Node | None = None,
               body: Node | None = None) -> None:
        """Record a definition spanning `start` (its decorators or `export`, default `node`) to the end of
        `node`, its signature being `node`'s text up to `body`."""
        if not name:
            return
        first = start if start is not None else node
        self.definitions.append(
            Definition(kind, name, qualified, signature(node, body), first.start_point.row + 1, last_row(node) + 1)
        )

    def refer(self, name: str | None, kind: str, node: Node, scope: Scope, qualifier: str = "", target: str = "") -> None:
        if name:
            q = " ".join(qualifier.split())
            if len(q) > MAX_QUALIFIER_CHARS:
                q = q[: MAX_QUALIFIER_CHARS - 1] + "…"
            self.references.append(Reference(name, kind, node.start_point.row + 1, scope.qualified, q, target))

    def symbols(self) -> FileSymbols:
        defs = sorted(self.definitions, key=lambda d: (d.start_line, -d.end_line))
        refs = sorted(self.references, key=lambda r: r.line)
        return FileSymbols(self.language, defs, refs)


def walk(root: Node, visit: Visit, out: Out) -> FileSymbols:
    stack: list[tuple[Node, Scope]] = [(root, Scope())]
    while stack:
        node, scope = stack.pop()
        nxt = visit(node, scope, out)
        pairs = [(c, scope) for c in node.named_children] if nxt is None else list(nxt)
        stack.extend(reversed(pairs))
    return out.symbols()


def text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def last_row(node: Node) -> int:
    """The last line a node has text on (a node ending with its newline ends at column 0 of the next)."""
    end = node.end_point
    return end.row - 1 if end.column == 0 and end.row > node.start_point.row else end.row


def signature(node: Node, body: Node | None) -> str:
    """The definition up to its body, on one line: `def f(a, b) -> int`, `class Foo(Base)`."""
    source = node.text or b""
    if body is not None and body.start_byte > node.start_byte:
        head = source[: body.start_byte - node.start_byte]
    else:
        head = source.split(b"\n", 1)[0]
    one = " ".join(head.decode("utf-8", "replace").split())
    one = re.sub(r"\(\s+", "(", one)
    one = re.sub(r",?\s+\)", ")", one).rstrip(" {:=;").rstrip()
    return one if len(one) <= MAX_SIGNATURE_CHARS else one[: MAX_SIGNATURE_CHARS - 1].rstrip() + "…"


def children_in(node: Node, scope: Scope, skip: Iterable[Node | None] = ()) -> list[tuple[Node, Scope]]:
    """`node`'s named children, but those in `skip`, all in `scope`."""
    left_out = {(n.start_byte, n.end_byte, n.type) for n in skip if n is not None}
    return [(c, scope) for c in node.named_children if (c.start_byte, c.end_byte, c.type) not in left_out]
