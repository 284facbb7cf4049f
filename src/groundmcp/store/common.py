"""Logic both backends share: filter terms, argument checks and error messages."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from groundmcp.errors import CollectionNotFound, IncompatibleCollection, InputError
from groundmcp.record import P
from groundmcp.store.base import (
    BOOL_FIELDS,
    INTEGER_FIELDS,
    KEYWORD_FIELDS,
    Filters,
    PointData,
    SearchMode,
    SparseVec,
)

VISIBLE = P.VISIBLE
KIND = P.KIND
CHUNK_INDEX = P.CHUNK_INDEX  # Filters.first_chunks matches 0 here
TOKEN_SIGNS = P.TOKEN_SIGNS  # large (kilobytes a chunk): read by late_inputs only, never with a hit
# Hybrid formulas refer to the prefetches' scores by position: dense first, sparse second.
DENSE_SCORE, SPARSE_SCORE = "$score[0]", "$score[1]"
# HNSW beam width at query time. The default (ef_construct, 100) cost 0.011 nDCG@10 on the public
# docs set (25,966 chunks) against exact search; 256 wins back 0.004 of it (bench: query_latency.py).
HNSW_EF = 256
# The embedded store searches dense vectors exactly up to this many points. HNSW at ef 256 (or 512)
# still cost 0.0055 nDCG@10 on the public docs set (21k chunks) against exact search, which took
# 6.8 ms there against 3.0 ms: brute force is right while it stays that cheap.
EXACT_SEARCH_MAX_POINTS = 30_000

_KEYWORD_FILTERS = (  # (payload field, Filters attribute)
    (P.ROOT, "roots"),
    (P.PATH, "paths"),
    (P.EXT, "exts"),
    (P.LANGUAGE, "languages"),
    (P.KIND, "kinds"),
    (P.FILE_HASH, "file_hashes"),
    (P.SYMBOL_KEYS, "symbol_keys"),
)


def keyword_terms(filters: Filters) -> list[tuple[str, list[str]]]:
    """(payload field, accepted values) for each keyword list that is set in `filters`."""
    terms = []
    for field_name, attr in _KEYWORD_FILTERS:
        values: Sequence[str] = getattr(filters, attr)
        if values:
            terms.append((field_name, [values] if isinstance(values, str) else list(values)))
    return terms


def payload_indexes() -> list[tuple[str, str]]:
    """(payload field, "keyword" | "bool" | "integer") for every payload index a collection has."""
    return (
        [(f, "keyword") for f in KEYWORD_FIELDS]
        + [(f, "bool") for f in BOOL_FIELDS]
        + [(f, "integer") for f in INTEGER_FIELDS]
    )


def under_terms(filters: Filters) -> list[tuple[str, list[str]]]:
    """Alternatives (OR) for `filters.under`: the path itself, or one of its parent folders
    (the payload's `dirs` list). Empty when `under` is not set."""
    if not filters.under:
        return []
    values = list(filters.under)
    return [(P.PATH, values), (P.DIRS, values)]


def not_found(name: str, existing: Sequence[str], location: str) -> CollectionNotFound:
    """The error for a missing collection, naming the ones that exist."""
    have = ", ".join(repr(n) for n in sorted(existing)) or "none"
    return CollectionNotFound(
        f"collection {name!r} does not exist in {location} (existing: {have}); "
        "ingest into it first or pick one of the existing collections"
    )


def already_exists(name: str, location: str) -> InputError:
    return InputError(
        f"collection {name!r} already exists in {location}; delete it first or choose another name"
    )


def check_dims(name: str, dim: int, points: Sequence[PointData]) -> None:
    """Raise IncompatibleCollection if any point's dense vector is not `dim`-d (a point without
    vectors passes)."""
    for point in points:
        if point.dense and len(point.dense) != dim:
            raise IncompatibleCollection(
                f"collection {name!r} holds {dim}-d vectors but point {point.id} has "
                f"{len(point.dense)}-d; use the model the collection was built with or re-ingest"
            )


def check_query(
    name: str,
    dim: int,
    dense: list[float] | None,
    sparse: SparseVec | None,
    mode: SearchMode,
) -> None:
    """InputError if `mode` lacks a vector it needs; IncompatibleCollection on a dim clash."""
    if mode not in ("dense", "sparse", "hybrid"):
        raise InputError(f"unknown search mode {mode!r}; use 'dense', 'sparse' or 'hybrid'")
    if mode in ("dense", "hybrid") and dense is None:
        raise InputError(f"{mode} search needs a dense query vector")
    if mode in ("sparse", "hybrid") and sparse is None:
        raise InputError(f"{mode} search needs a sparse query vector")
    if dense is not None and mode != "sparse" and len(dense) != dim:
        raise IncompatibleCollection(
            f"collection {name!r} holds {dim}-d vectors but the query vector is {len(dense)}-d; "
            "query with the model the collection was built with"
        )


def json_ready(meta: dict[str, Any]) -> dict[str, Any]:
    """A deep copy of `meta` through JSON; InputError if it does not serialise."""
    try:
        return dict(json.loads(json.dumps(meta)))
    except (TypeError, ValueError) as exc:
        raise InputError(f"collection meta must be JSON-serialisable: {exc}") from exc
