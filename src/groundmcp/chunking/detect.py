"""Which language a text with no file name is written in, so code sent as text is chunked as code.

A text is taken for code only when two things agree: its lines look like a language's (keywords at
line starts, its punctuation), and that language's tree-sitter grammar parses it with almost no
errors and finds a definition or statement structure in it. Prose fails the second test in every
grammar (it parses as a run of ERROR nodes), so a note that merely mentions `def` stays prose.
"""

from __future__ import annotations

import re

from tree_sitter import Node, Parser

from groundmcp.chunking.languages import _CODE_EXTENSIONS, _DOC_EXTENSIONS, grammar

# Signals per language: lines that start the way that language's code does. Order breaks ties.
_SIGNALS: dict[str, re.Pattern[str]] = {
    "python": re.compile(r"^\s*(?:def |class \w+[:(]|import \w|from [\w.]+ import |@\w|if __name__)", re.M),
    "javascript": re.compile(
        r"^\s*(?:function[\s*]|(?:const|let|var) \w+ ?=|export (?:default |const |function )|import .+ from |"
        r"module\.exports|\w+(?:\.\w+)*\.prototype\.)",
        re.M,
    ),
    "typescript": re.compile(r"^\s*(?:interface \w+|type \w+ ?=|(?:export )?(?:const|let) \w+: \w)", re.M),
    "go": re.compile(r"^\s*(?:package \w+$|func [\w(]|type \w+ struct)", re.M),
    "rust": re.compile(r"^\s*(?:(?:pub )?fn \w|impl\b|use \w+::|(?:pub )?struct \w+ ?\{|let mut )", re.M),
    "java": re.compile(r"^\s*(?:(?:public|private|protected)\s+(?:static\s+)?[\w<>\[\]]+\s+\w+\s*\(|package [\w.]+;)", re.M),
    "c": re.compile(r"^\s*(?:#include\s*[<\"]|(?:static\s+)?(?:int|void|char|double|size_t)\s+\**\w+\s*\()", re.M),
}
MIN_SIGNALS = 1
MAX_ERROR_SHARE = 0.02  # of the text's bytes inside ERROR or missing nodes


def detect_language(text: str) -> str | None:
    """The code language `text` is written in, or None for prose (or code of a language without a
    grammar here). Only the first 20 kB are looked at."""
    sample = text[:20_000]
    scored = sorted(
        ((len(p.findall(sample)), -i, lang) for i, (lang, p) in enumerate(_SIGNALS.items())), reverse=True
    )
    for count, _, lang in scored:
        if count < MIN_SIGNALS:
            break
        if _parses(sample, lang):
            return lang
    return None


def suffix_for(language: str) -> str | None:
    """The usual file extension of a code language (`.py` for python), None if it is unknown."""
    exts = _CODE_EXTENSIONS.get(language)
    return exts[0] if exts else None


def doc_suffix_for(language: str) -> str | None:
    """The usual extension of a document language (`.md` for markdown, `.txt` for text)."""
    if language == "text":
        return ".txt"
    exts = _DOC_EXTENSIONS.get(language)
    return exts[0] if exts else None


def _parses(text: str, language: str) -> bool:
    lang = grammar(language)
    if lang is None:
        return False
    source = text.encode("utf-8")
    try:
        root = Parser(lang).parse(source).root_node
    except (ValueError, RuntimeError):
        return False
    if not root.has_error:
        return True
    return _error_bytes(root) <= MAX_ERROR_SHARE * max(len(source), 1)


def _error_bytes(node: Node) -> int:
    if node.type == "ERROR" or node.is_missing:
        return max(node.end_byte - node.start_byte, 1)
    if not node.has_error:
        return 0
    return sum(_error_bytes(c) for c in node.children)
