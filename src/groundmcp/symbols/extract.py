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

# Bump a language's version when its extractor changes what a file's record holds (definitions,
# references, their fields): the next ingest re-extracts the records of that language's unchanged
# files from their stored chunks (backfill.py), without re-chunking or encoding them. A record
# written before versions existed has none and is re-extracted once, whatever its language.
VERSIONS = {lang: 1 for lang in EXTRACTORS}

RESOLVED = {
    "python": "definitions (functions, methods, classes, module and class level names); calls, base classes, "
    "decorators; imports with aliases, relative and absolute ones resolved to files; callers resolved through "
    "scopes, imports (re-exports, star imports), self/cls and super() along the bases, class and module "
    "qualifiers, and names bound outside the index",
    "javascript": "definitions (functions, classes, methods, arrow functions bound to names, functions wrapped in "
    "a call and bound to a name, CommonJS exports, prototype methods, top-level names); calls, new, extends, "
    "decorators; import/export-from/require with aliases, relative paths resolved to files, package names "
    "outside the index; callers resolved through scopes, imports and this/super along the bases",
    "go": "definitions (functions, methods under their receiver, types); calls by name; imports with the package "
    "name each binds (not mapped to files)",
    "rust": "definitions (functions, structs, enums, traits, impl methods, modules, macros); calls and macro "
    "calls by name; `use` trees and extern crate with what each binds (not mapped to files)",
    "java": "definitions (classes, interfaces, enums, records, methods, constructors); calls (with the object "
    "they are made on) and `new`; imports and static imports resolved to the class's file; a class's own "
    "members called unqualified",
    "c": "definitions (functions, structs, unions, enums, typedefs); calls by name; #include \"x.h\" resolved next "
    "to the file or by its path (<x.h> is outside the index)",
    "cpp": "definitions (functions, classes, structs, namespaces, templates, aliases); calls by name; #include as "
    "for C; using, using namespace and namespace aliases with what they bind (namespaces not mapped to files)",
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
