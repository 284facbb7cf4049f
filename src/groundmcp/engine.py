"""The engine as one object: settings in, store and encoder opened once, the operations out.

The CLI, the MCP tools, the LangChain retriever and the eval harness all call through this, so there
is one code path whatever the front end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .encoders.base import Encoder
from .errors import CollectionNotFound
from .ingest.pipeline import IngestOptions, chunk_budget, ingest_path
from .ingest.report import IngestProgress, IngestReport
from .ingest.walk import WalkOptions, resolve_root
from .search.engine import SearchHit, SearchRequest, search
from .settings import Settings
from .store.base import Store
from .store.factory import open_store


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    name: str
    model: str
    dim: int
    chunks: int
    created: str = ""


class Engine:
    def __init__(self, settings: Settings, *, encoder: Encoder | None = None, store: Store | None = None):
        self.settings = settings
        self.store = store or open_store(
            data_dir=settings.data_dir,
            qdrant_url=settings.qdrant_url,
            qdrant_api_key=settings.qdrant_api_key,
            qdrant_local_path=settings.qdrant_local_path,
        )
        self._encoder = encoder
        self._encoder_lock = threading.Lock()
        self._ingest_locks: dict[str, threading.Lock] = {}

    @property
    def encoder(self) -> Encoder:
        """Loaded on first use (a second or two), once per process."""
        with self._encoder_lock:
            if self._encoder is None:
                from .encoders.factory import load_encoder

                self._encoder = load_encoder(self.settings)
            return self._encoder

    def ingest(
        self,
        path: str,
        *,
        collection: str | None = None,
        dry_run: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        s = self.settings
        name = collection or s.collection
        resolve_root(path)  # a bad path fails here, before the model loads
        options = IngestOptions(
            collection=name,
            chunk_tokens=chunk_budget(self.encoder, s.chunk_tokens),
            chunk_overlap=s.chunk_overlap,
            walk=WalkOptions(max_file_bytes=s.max_file_bytes, extra_ignores=tuple(s.ignore)),
            dry_run=dry_run,
        )
        # One ingest per collection at a time; searches never wait on this lock.
        with self._ingest_locks.setdefault(name, threading.Lock()):
            return ingest_path(path, store=self.store, encoder=self.encoder, options=options, progress=progress)

    def search(self, request: SearchRequest, *, collection: str | None = None) -> list[SearchHit]:
        name = collection or self.settings.collection
        self.store.info(name)  # an unknown collection fails here, before the model loads
        return search(self.store, self.encoder, name, request)

    def collections(self) -> list[CollectionSummary]:
        out = []
        for name in sorted(self.store.list_collections()):
            info = self.store.info(name)
            out.append(
                CollectionSummary(
                    name=name,
                    model=info.meta.get("model", "?"),
                    dim=info.dim,
                    chunks=info.points,
                    created=info.meta.get("created", ""),
                )
            )
        return out

    def delete_collection(self, name: str) -> None:
        if name not in self.store.list_collections():
            raise CollectionNotFound(
                f"no collection named {name!r}; existing: {', '.join(sorted(self.store.list_collections())) or 'none'}"
            )
        self.store.delete_collection(name)

    def close(self) -> None:
        self.store.close()
