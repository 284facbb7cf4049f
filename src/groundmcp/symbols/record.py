"""The symbols record: one point per code file version, next to the file's chunks.

It is a chunk record (`groundmcp.record`) of kind SYMBOLS_KIND with no vectors, chunk index -1
(so it is never a file's "first chunk": the manifest, listings and facets read chunk 0) and three
fields more: the file's definitions and references as rows (`model.py`), and `symbol_keys`, a
keyword-indexed list that finds the record by a name it defines or uses:

- `d:<name>` for each definition, lower-cased, and `d:<a.b>` for each dotted tail of its
  qualified name (`A.B.f` gives `d:f`, `d:b.f`, `d:a.b.f`);
- `r:<name>` for each name referenced (and the original name of an aliased import);
- `m:<module>` for the last part of each module imported (`os.path` -> `m:path`, `./util` ->
  `m:util`), so a file's importers are found without reading every record;
- `v:<language>-<n>`: the extractor version that wrote it (extract.VERSIONS, also in the field
  `symbols_version`), so an ingest counts the records that are current with one keyed count
  and re-extracts the others (backfill.py).
"""

from __future__ import annotations

import posixpath
from collections.abc import Sequence

from ..record import P
from ..store.base import PointData, SparseVec
from .extract import VERSIONS
from .model import Definition, FileSymbols, Reference

SYMBOLS_INDEX = -1  # its `chunk_index`: never chunk 0
SYMBOL_KEYS = P.SYMBOL_KEYS
DEFS = "symbol_defs"
REFS = "symbol_refs"
VERSION = "symbols_version"
SYMBOL_FIELDS = (SYMBOL_KEYS, DEFS, REFS)


def version_key(language: str, version: int | None = None) -> str:
    """The key of a record written by `language`'s extractor at `version` (by default the current one)."""
    return f"v:{language}-{VERSIONS.get(language, 0) if version is None else version}"


def current_keys() -> list[str]:
    """The version keys a current record holds one of: one per language."""
    return sorted(version_key(language) for language in VERSIONS)


def keys(symbols: FileSymbols) -> list[str]:
    out: set[str] = set()
    for d in symbols.definitions:
        out.add("d:" + d.name.lower())
        parts = d.qualified.lower().split(".")
        out.update("d:" + ".".join(parts[i:]) for i in range(len(parts) - 1))
    for r in symbols.references:
        out.add("r:" + r.name.lower())
        if r.kind == "import":
            if r.target not in ("", "*", "default"):
                out.add("r:" + r.target.lower())
            if stem := module_stem(r.qualifier):
                out.add("m:" + stem)
    out.add(version_key(symbols.language))
    return sorted(out)


_HEADERS = (".h", ".hh", ".hpp", ".hxx", ".h++", ".inc", ".ipp", ".tcc")


def module_stem(module: str) -> str:
    """The last part of a module as written: `os.path` -> path, `./util/x.js` -> x, `a::b` -> b,
    `<sys/stat.h>` and `x.hpp` -> stat and x, `..` -> ""."""
    module = module.strip().strip("<>")
    if "/" in module or module.startswith("@") or module.lower().endswith(_HEADERS):
        stem = posixpath.splitext(posixpath.basename(module.rstrip("/")))[0]
        return "" if stem in (".", "..") else stem.lower()
    return module.replace("::", ".").rsplit(".", 1)[-1].lower()


def file_stems(path: str) -> list[str]:
    """The module stems a file answers to: `pkg/mod.py` -> mod; `pkg/__init__.py` and
    `lib/index.js` -> their folder's name too."""
    base, folder = posixpath.basename(path), posixpath.basename(posixpath.dirname(path))
    stem = base.split(".", 1)[0].lower()
    return [stem, folder.lower()] if stem in ("__init__", "index") and folder else [stem]


def symbols_payload(base: dict, symbols: FileSymbols, chunk_ids: Sequence[str]) -> dict:
    """The record's payload: `base` (the file version's chunk record fields) and the symbols, each
    definition's chunk indexes turned into the ids of those chunks."""
    defs = [
        Definition(d.kind, d.name, d.qualified, d.signature, d.start_line, d.end_line,
                   tuple(chunk_ids[i] for i in d.chunks if i < len(chunk_ids))).row()
        for d in symbols.definitions
    ]
    return {
        **base,
        SYMBOL_KEYS: keys(symbols),
        VERSION: VERSIONS.get(symbols.language, 0),
        DEFS: defs,
        REFS: [r.row() for r in symbols.references],
    }


def symbols_point(point_id: str, base: dict, symbols: FileSymbols, chunk_ids: Sequence[str]) -> PointData:
    """The point that holds a file version's symbols: `base` is the payload of the version's chunk
    record (`ChunkRecord.to_payload`) with kind SYMBOLS_KIND and chunk index SYMBOLS_INDEX, as the
    writer makes it for the file's chunks, so the record carries the same version fields."""
    return PointData(point_id, [], SparseVec([], []), symbols_payload(base, symbols, chunk_ids))


def definitions_of(payload: dict) -> list[Definition]:
    return [Definition.from_row(r) for r in payload.get(DEFS) or ()]


def references_of(payload: dict) -> list[Reference]:
    return [Reference.from_row(r) for r in payload.get(REFS) or ()]
