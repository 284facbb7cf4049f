"""Symbols: what the syntax tree says a code file defines and references, kept next to its chunks.

At ingest the preparer parses each code file a second time with the chunker's tree-sitter grammar
(`extract.py`; one extractor per language in `python.py`, `javascript.py`, `generic.py`, each
saying what it resolves) and the writer stores the result as one more record of that file version
(`record.py`). Lookups (`lookup.py`) find definitions by name and a definition's callers, callees,
imports and importers, ranking every candidate a name could mean.

Where it is stored, and why there. One point per code file version, in the collection that holds
the file's chunks: kind `symbols`, no vectors, chunk index -1, and the file version's fields
(root, path, hash, chunking key, stat). So it is written, published and retired exactly like the
chunks, by the same code: the writer upserts it unpublished with the chunks, the one publish step
that shows a new version shows its symbols, the old version's record goes with the old chunks
(the manifest lists it among the file's ids), a deleted file's goes with its chunks, and a killed
ingest leaves it unpublished, which the next run drops. Nothing stale can survive a kill, and no
second store has to be kept in step (a separate SQLite file, say, could commit where the
collection did not, and would not travel with a Qdrant server). Searches never see it (it has no
vectors); the manifest, listings and facets read chunk 0 only; counts of chunks leave the kind out.
One point per file rather than per definition keeps the collection's point count nearly as it
was; a keyword index on `symbol_keys` finds the few records holding a name without reading the rest.
"""

from __future__ import annotations

from ..record import SYMBOLS_KIND
from .extract import RESOLVED, extract, file_symbols, supports
from .lookup import RANKS, Callee, Located, Neighbours, Site, find, neighbours
from .model import Definition, FileSymbols, Reference
from .record import SYMBOLS_INDEX, symbols_payload, symbols_point

__all__ = [
    "RANKS", "RESOLVED", "SYMBOLS_INDEX", "SYMBOLS_KIND", "Callee", "Definition", "FileSymbols", "Located",
    "Neighbours", "Reference", "Site", "extract", "file_symbols", "find", "neighbours", "supports",
    "symbols_payload", "symbols_point",
]
