"""One file's text to its `FileSymbols`, from the same tree-sitter grammars the chunker uses.

The file is parsed again here rather than sharing the chunker's tree: a parse costs a few
milliseconds against the encoder's tens, and it keeps chunking ignorant of symbols.
"""

from __future__ import annotations

from collections.abc import Sequence

from tree_sitter import Parser

from ..chunking.base import Chunk
from ..chunking.code_specs import SPECS
from ..chunking.languages import grammar
from . import generic, javascript, python
from .model import Definition, FileSymbols
from .walk import Out, walk

EXTRACTORS = {"python": python.visit, "javascript": javascript.visit, "typescript": javascript.visit,
              "tsx": javascript.visit}
EXTRACTORS.update({lang: generic.visitor(spec) for lang, spec in SPECS.items() if lang not in EXTRACTORS})

RESOLVED = {
    "python": "definitions (functions, methods, classes, module and class level names); calls, base classes, "
    "decorators; imports with aliases, relative ones resolved to files",
    "javascript": "definitions (functions, classes, methods, arrow functions bound to names, CommonJS exports, "
    "prototype methods, top-level names); calls, new, extends, decorators; import/export-from/require with "
    "aliases, relative paths resolved to files",
    "go": "definitions (functions, methods under their receiver, types); calls by name; no imports",
    "rust": "definitions (functions, structs, enums, traits, impl methods, modules, macros); calls and macro "
    "calls by name; no `use`",
    "java": "definitions (classes, interfaces, enums, records, methods, constructors); calls and `new` by name; "
    "no imports",
    "c": "definitions (functions, structs, unions, enums, typedefs); calls by name; no #include",
    "cpp": "definitions (functions, classes, structs, namespaces, templates, aliases); calls by name; no #include",
}
RESOLVED["typescript"] = RESOLVED["tsx"] = RESOLVED["javascript"] + "; interfaces, types, enums, namespaces"


def supports(language: str) -> bool:
    return language in EXTRACTORS and grammar(language) is not None


def extract(text: str, language: str) -> FileSymbols | None:
    """The definitions and references of a source text; None when the language has no extractor
    or its grammar is not installed."""
    visit = EXTRACTORS.get(language)
    lang = grammar(language)
    if visit is None or lang is None:
        return None
    try:
        tree = Parser(lang).parse(text.encode("utf-8"))
    except (ValueError, RuntimeError):
        return None
    return walk(tree.root_node, visit, Out(language))


def file_symbols(path: str, data: bytes, language: str, chunks: Sequence[Chunk]) -> FileSymbols | None:
    """`extract` for an ingested file, each definition told the chunks (indexes into `chunks`)
    whose lines it overlaps: the chunk of a method, or the head and members of a class."""
    symbols = extract(data.decode("utf-8", "replace").removeprefix("\ufeff"), language)
    if symbols is None:
        return None
    symbols.definitions = [_covered(d, chunks) for d in symbols.definitions]
    return symbols


def _covered(d: Definition, chunks: Sequence[Chunk]) -> Definition:
    hits = tuple(i for i, c in enumerate(chunks) if c.start_line <= d.end_line and c.end_line >= d.start_line)
    return Definition(d.kind, d.name, d.qualified, d.signature, d.start_line, d.end_line, hits)
