"""What a collection holds to filter on (its languages and kinds), and the checks that turn a filter
matching nothing into an error that says what to send instead.

A filter value the collection does not hold matches no chunk, so the search would quietly answer
"no results". The checks cost nothing on the usual path: the language and kind lists are read once
per collection (one row per file, not per chunk) and cached with the collection's info; a path glob
is checked against the indexed files only when a search came back empty.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import pathspec

from ..chunking.languages import language_for
from ..errors import InputError
from ..record import EMPTY_KIND, P
from ..store.base import Filters, Store

# Names people type for a language, beyond its own name and its file extensions (`py`, `ts`, ...,
# which `language_for` resolves).
LANGUAGE_ALIASES = {
    "golang": "go",
    "c++": "cpp",
    "cplusplus": "cpp",
    "c#": "csharp",
    "cs": "csharp",
    "node": "javascript",
    "nodejs": "javascript",
    "ecmascript": "javascript",
    "bash": "shell",
    "sh": "shell",
    "zsh": "shell",
    "objc": "objective-c",
    "objectivec": "objective-c",
    "md": "markdown",
    "restructuredtext": "rst",
    "txt": "text",
    "plaintext": "text",
    "yml": "yaml",
    "docker": "dockerfile",
    "makefile": "make",
    "tf": "terraform",
    "hcl": "terraform",
}
KIND_ALIASES = {
    "docs": "doc",
    "document": "doc",
    "documents": "doc",
    "documentation": "doc",
    "prose": "doc",
    "text": "doc",
    "source": "code",
    "src": "code",
}


@dataclass(frozen=True, slots=True)
class Facets:
    """Files per language and per kind among a collection's published files."""

    languages: dict[str, int]
    kinds: dict[str, int]


def read_facets(store: Store, collection: str) -> Facets:
    """One row per file (chunk 0 of each published version): a file's language and kind are the
    same in all its chunks."""
    languages: Counter[str] = Counter()
    kinds: Counter[str] = Counter()
    for _, p in store.scroll(collection, Filters(visible=True, first_chunks=True), [P.LANGUAGE, P.KIND]):
        if p.get(P.KIND) == EMPTY_KIND:
            continue
        languages[p.get(P.LANGUAGE, "")] += 1
        kinds[p.get(P.KIND, "")] += 1
    return Facets(dict(languages.most_common()), dict(kinds.most_common()))


def resolve_language(value: str, held: dict[str, int]) -> str:
    """The language name `value` stands for: itself, a common alias, or a file extension; matched
    without regard to case. Unknown names come back lower-cased (and then match nothing)."""
    v = value.strip().lower()
    if v in held:
        return v
    v = LANGUAGE_ALIASES.get(v, v)
    if v in held:
        return v
    found = language_for(f"x.{v.lstrip('.')}") if v else None  # "py", ".ts"
    return found[0] if found else v


def resolve_kind(value: str) -> str:
    v = value.strip().lower()
    return KIND_ALIASES.get(v, v)


def unknown_values(values: Sequence[str], held: dict[str, int]) -> list[str]:
    return [v for v in values if v not in held]


def filter_error(argument: str, asked: Sequence[str], collection: str, held: dict[str, int], hint: str) -> InputError:
    """The error for a language or kind filter that names something the collection does not hold."""
    what = ", ".join(repr(v) for v in asked)
    if held:
        listing = ", ".join(f"{name or '(none)'} ({n} file{'s' * (n != 1)})" for name, n in held.items())
        holds = f"it holds: {listing}"
    else:
        holds = "it holds no files yet (ingest a folder first)"
    return InputError(
        f"the {argument} filter {what} matches nothing in collection {collection!r}: {holds}. "
        f"Send one of those{hint}, or leave the {argument} filter out."
    )


def glob_matches_a_file(store: Store, collection: str, filters: Filters, spec: pathspec.PathSpec | None) -> bool:
    """Whether any indexed file matches the path filter: `filters` narrows by the glob's folder and
    extension (both indexed); `spec`, when the glob has wildcards, is then checked on the paths."""
    narrowed = Filters(under=filters.under, exts=filters.exts, visible=True)
    if spec is None:
        return store.count(collection, narrowed) > 0
    files = Filters(under=filters.under, exts=filters.exts, visible=True, first_chunks=True)
    return any(spec.match_file(p[P.PATH]) for _, p in store.scroll(collection, files, [P.PATH]))


def glob_error(glob: str, collection: str) -> InputError:
    return InputError(
        f"the path filter {glob!r} matches no indexed file in collection {collection!r}. Paths are "
        "relative to the ingested root (as search results show them), e.g. 'src/**/*.py', '*.md' or "
        f"'docs/'; `groundmcp files {collection}` (or the collection_stats tool) shows what is indexed."
    )
