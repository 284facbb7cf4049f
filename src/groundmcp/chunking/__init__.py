"""Files to chunks: code along its syntax, documents along their structure.

`chunk_file` is the one entry point; it picks the chunker from the path. Sizes are in encoder tokens and
count the header with the text, since the encoder sees both (`Chunk.embed_text`).
"""

from __future__ import annotations

from groundmcp.chunking.base import Chunk, TokenCounter
from groundmcp.chunking.code import chunk_code
from groundmcp.chunking.docs import chunk_markdown, chunk_rst, chunk_text
from groundmcp.chunking.languages import CODE, DOC, has_grammar, language_for
from groundmcp.chunking.markup import chunk_html, chunk_pdf

__all__ = ["CHUNK_SCHEME", "Chunk", "TokenCounter", "chunk_file", "chunking_key", "language_for"]

# Bump a family's version when its chunkers change which chunks a file gives: ingest re-chunks (and
# re-encodes) the files of that family on their next run, and leaves the others as they are.
# prose 2: a short last piece is folded into the one before it (windows.fold_tail).
# code 2: the dense encoder reads camelCase names as words (`Chunk.dense_text`, words.py); the chunks
# are the same, their vectors are not.
# prose 3: a prose chunk keeps its token signature (encoders/token_signs.py), which search orders
# prose by (search/late.py); the chunks and their vectors are the same.
CHUNKER_VERSIONS = {"code": 2, "prose": 3}
# A change that reaches some languages of a family only bumps those, so the rest are not re-encoded
# (their key names both versions, so a bump of the family reaches them too).
# javascript/typescript 2: functions wrapped in a call (`var f = wrap(function () {})`), CommonJS
# exports and prototype methods are definitions, with their symbol and signature in the header.
# 3: `module.exports = function` is the module's code (no symbol), not a definition `module.exports`.
LANGUAGE_VERSIONS = {"javascript": 3, "typescript": 3, "tsx": 3}
CHUNK_SCHEME = "groundmcp-chunks-" + "-".join(
    f"{f}{v}" for f, v in sorted({**CHUNKER_VERSIONS, **LANGUAGE_VERSIONS}.items())
)

_DOC_CHUNKERS = {"markdown": chunk_markdown, "rst": chunk_rst, "html": chunk_html}


def chunk_file(
    path: str, data: bytes, *, count_tokens: TokenCounter, max_tokens: int = 256, overlap_tokens: int = 32
) -> list[Chunk]:
    """Chunks of one file; `path` is relative to the ingest root with forward slashes.

    PDFs are read from the bytes; anything else is decoded as UTF-8 (a `UnicodeDecodeError` is the
    caller's to handle: it should have skipped binary files). Files of an unknown type are chunked as
    plain text. Chunks with no word character in them (whitespace, lone braces) are dropped.
    """
    if max_tokens < 8 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"chunk sizes max_tokens={max_tokens}, overlap_tokens={overlap_tokens} do not work: "
            "max_tokens must be at least 8 and overlap_tokens between 0 and max_tokens - 1"
        )
    language, kind = language_for(path) or ("text", DOC)
    sizes = {"max_tokens": max_tokens, "overlap_tokens": overlap_tokens}
    if language == "pdf":
        chunks = chunk_pdf(path, data, count_tokens=count_tokens, **sizes)
    else:
        text = data.decode("utf-8").removeprefix("\ufeff")
        if _family(language, kind) == "code":
            chunks = chunk_code(path, text, language, count_tokens=count_tokens, **sizes)
        elif language in _DOC_CHUNKERS:
            chunks = _DOC_CHUNKERS[language](path, text, count_tokens=count_tokens, **sizes)
        else:
            chunks = chunk_text(path, text, language, count_tokens=count_tokens, **sizes)
    return [c for c in chunks if c.text.strip()]


def chunking_key(path: str, max_tokens: int, overlap_tokens: int, *, version: int | None = None) -> str:
    """What decides the chunks of the file at `path` besides its content: its chunker family's
    version and the chunk sizes. Ingest stores it with every chunk and re-chunks a file whose key
    differs, so a new chunker or a new chunk size reaches files that did not change (a language
    of LANGUAGE_VERSIONS is named by its family's version and its own: `code-2.3`). The sizes are
    the ones asked for (the settings), before ingest fits them to the model's window: the model is
    not loaded to decide whether a file needs it. `version`: the family's version to name (by
    default the current one)."""
    language, kind = language_for(path) or ("text", DOC)
    family = _family(language, kind)
    if version is None:
        version = CHUNKER_VERSIONS[family]
        if language in LANGUAGE_VERSIONS:  # both: a family's bump reaches its languages too
            return f"{family}-{version}.{LANGUAGE_VERSIONS[language]}/{max_tokens}/{overlap_tokens}"
    return f"{family}-{version}/{max_tokens}/{overlap_tokens}"


def _family(language: str, kind: str) -> str:
    """Which chunkers `chunk_file` uses: syntax-aware for code, structural for prose."""
    return "code" if language != "pdf" and (kind == CODE or has_grammar(language)) else "prose"
