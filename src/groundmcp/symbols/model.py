"""What the syntax index knows of one file: its definitions and the references it makes.

Both are plain values, written compactly into the file's symbols record (`record.py`) as rows of
fixed columns rather than dicts, since a large file has thousands of references and the record is
read whole when a name it holds is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

DefKind = Literal[
    "function", "method", "class", "variable", "interface", "type", "enum", "struct", "trait", "module", "macro"
]
RefKind = Literal["call", "new", "import", "inherit", "decorator"]

CALL_KINDS = ("call", "new", "decorator")  # references that run the definition they name


@dataclass(frozen=True, slots=True)
class Definition:
    """A named definition. Lines are 1-based and inclusive; `start_line` takes in decorators and
    `export`, like the chunk that holds it. `chunks`: the indexes, in the file's chunk list, of the
    chunks its lines overlap (the writer turns them into point ids)."""

    kind: str
    name: str
    qualified: str  # "Class.method", "outer.inner", or the name at the top level
    signature: str
    start_line: int
    end_line: int
    chunks: tuple[int, ...] = ()

    def row(self) -> list:
        return [self.kind, self.name, self.qualified, self.signature, self.start_line, self.end_line, list(self.chunks)]

    @classmethod
    def from_row(cls, row: list) -> Definition:
        kind, name, qualified, signature, start, end, chunks = row
        return cls(kind, name, qualified, signature, start, end, tuple(chunks))


@dataclass(frozen=True, slots=True)
class Reference:
    """A use of a name: a call, a construction, an import, a base class, a decorator.

    `scope`: the qualified name of the definition it sits in ("" at the top level). `qualifier`:
    for a call, what the name was reached through (`self`, `os.path`: "" for a bare name); for
    an import, the module it came from as written (`os.path`, `.models`, `./util`). `target`: for
    an import, the name in that module (`b` in `from m import b as c`, whose `name` is `c`; "*"
    for a star import, "" for `import m` itself)."""

    name: str
    kind: str
    line: int
    scope: str = ""
    qualifier: str = ""
    target: str = ""

    def row(self) -> list:
        return [self.name, self.kind, self.line, self.scope, self.qualifier, self.target]

    @classmethod
    def from_row(cls, row: list) -> Reference:
        return cls(*row)


@dataclass(slots=True)
class FileSymbols:
    """A file's definitions and references, in file order."""

    language: str
    definitions: list[Definition] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)

    def imports(self) -> list[Reference]:
        return [r for r in self.references if r.kind == "import"]
