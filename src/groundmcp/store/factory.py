"""Pick the store backend from the settings.

    qdrant_url          -> QdrantStore(url=...)          a Qdrant server or cluster
    qdrant_local_path   -> QdrantStore(path=...)         qdrant-client local mode (tests, small use)
    neither             -> EdgeStore(data_dir / "edge")  the embedded default

The embedded store lives in its own folder under the data directory so the data directory can hold
other things (manifests, caches) beside it.
"""

from __future__ import annotations

from pathlib import Path

from groundmcp.errors import InputError
from groundmcp.store.base import Store
from groundmcp.store.edge import EdgeStore

EDGE_SUBDIR = "edge"


def open_store(
    *,
    data_dir: Path,
    qdrant_url: str | None,
    qdrant_api_key: str | None,
    qdrant_local_path: Path | None,
) -> Store:
    """Open the backend the arguments name; the caller closes it."""
    if qdrant_url and qdrant_local_path:
        raise InputError(
            "both a Qdrant URL and a Qdrant local path are set; keep one of them "
            "(the URL for a server, the path for local mode), or neither for the embedded store"
        )
    if qdrant_url or qdrant_local_path:
        from groundmcp.store.qdrant import QdrantStore  # qdrant-client takes ~1 s to import

    if qdrant_url:
        return QdrantStore(url=qdrant_url, api_key=qdrant_api_key)
    if qdrant_local_path:
        return QdrantStore(path=Path(qdrant_local_path))
    return EdgeStore(Path(data_dir) / EDGE_SUBDIR)
