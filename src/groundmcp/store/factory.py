"""Pick the store backend from the settings.

    qdrant_url          -> QdrantStore(url=...)          a Qdrant server or cluster
    qdrant_local_path   -> QdrantStore(path=...)         qdrant-client local mode (tests, small use)
    neither             -> EdgeStore(data_dir / "edge")  the embedded default

The embedded store lives in its own folder under the data directory so the data directory can hold
other things (manifests, caches) beside it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from groundmcp.errors import InputError
from groundmcp.store.base import Store
from groundmcp.store.edge import EdgeStore
from groundmcp.store.edge_layout import EDGE_SUBDIR

Backend = Literal["edge", "qdrant", "qdrant-local"]


def backend_of(qdrant_url: str | None, qdrant_local_path: Path | None) -> Backend:
    """Which backend the settings choose (open_store opens it; doctor reports it)."""
    if qdrant_url and qdrant_local_path:
        raise InputError(
            "both a Qdrant URL and a Qdrant local path are set; keep one of them "
            "(the URL for a server, the path for local mode), or neither for the embedded store"
        )
    return "qdrant" if qdrant_url else "qdrant-local" if qdrant_local_path else "edge"


def open_store(
    *,
    data_dir: Path,
    qdrant_url: str | None,
    qdrant_api_key: str | None,
    qdrant_local_path: Path | None,
) -> Store:
    """Open the backend the arguments name; the caller closes it."""
    backend = backend_of(qdrant_url, qdrant_local_path)
    if backend == "edge":
        return EdgeStore(Path(data_dir) / EDGE_SUBDIR)
    from groundmcp.store.qdrant import QdrantStore  # qdrant-client takes ~1 s to import

    if backend == "qdrant":
        return QdrantStore(url=qdrant_url, api_key=qdrant_api_key)
    return QdrantStore(path=Path(qdrant_local_path))
