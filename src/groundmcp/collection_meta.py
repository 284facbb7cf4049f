"""Collections as the engine sees them: a store collection plus the model it was built with."""

from __future__ import annotations

import time

from .encoders.base import Encoder
from .errors import IncompatibleCollection
from .store.base import CollectionInfo, Store

SPARSE_SCHEME = "groundmcp-bm25-v1"  # bump when sparse.py changes how terms are made


def collection_meta(encoder: Encoder) -> dict:
    return {
        "model": encoder.name,
        "dim": encoder.dim,
        "sparse": SPARSE_SCHEME,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def check_compatible(info: CollectionInfo, encoder: Encoder) -> None:
    """Raise IncompatibleCollection unless `encoder` makes the vectors `info` was built with."""
    model = info.meta.get("model")
    if not isinstance(model, str) or not model:
        raise IncompatibleCollection(
            f"collection {info.name!r} ({info.dim}-d vectors) records no model: it was not made by "
            f"groundmcp, or its record is damaged. Ingest into another collection (--collection "
            f"NAME), or delete it (the delete_collection tool, or `groundmcp collections --delete "
            f"{info.name}`) and ingest again"
        )
    if info.dim != encoder.dim or model != encoder.name:
        raise IncompatibleCollection(
            f"collection {info.name!r} was built with {model} ({info.dim}-d vectors); the encoder "
            f"in use is {encoder.name} ({encoder.dim}-d). Use --model {model} (GROUNDMCP_MODEL) "
            f"to work with it, or ingest into another collection (--collection NAME), or delete "
            f"it first (the delete_collection tool, or `groundmcp collections --delete {info.name}`)."
        )
    sparse = info.meta.get("sparse")
    if sparse != SPARSE_SCHEME:
        raise IncompatibleCollection(
            f"collection {info.name!r} has sparse vectors of scheme {sparse!r}; this version makes "
            f"{SPARSE_SCHEME!r}. Delete it (groundmcp collections --delete {info.name}) and ingest again."
        )


def open_or_create(store: Store, name: str, encoder: Encoder, *, create: bool) -> CollectionInfo | None:
    """The collection's info after checking it fits `encoder`; created when absent and `create`."""
    if name not in store.list_collections():
        if not create:
            return None
        store.create_collection(name, encoder.dim, collection_meta(encoder))
    info = store.info(name)
    check_compatible(info, encoder)
    return info
