"""The engine as one object: settings in, store and encoder opened once, the operations out.

The CLI, the MCP tools, the LangChain retriever and the eval harness all call through this, so there
is one code path whatever the front end.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .encoders.base import Encoder
from .encoders.sentence_transformers import canonical_name
from .errors import CollectionNotFound, GroundError, InputError
from .ingest.model import LazyEncoder
from .ingest.pipeline import EMPTY_KIND, IngestOptions, ingest_path, ingest_source, ingest_texts
from .ingest.report import IngestProgress, IngestReport
from .ingest.walk import WalkOptions, resolve_root
from .rerank.base import Reranker
from .rerank.factory import load_reranker
from .search.engine import CollectionInfoCache, SearchHit, SearchRequest, search
from .settings import Settings
from .store.base import Filters, Store
from .store.factory import open_store


OPTIMIZE_MIN_POINTS = 20_000
"""From this size the CLI builds the HNSW index after an ingest (below it exact search takes a few
ms). The embedded engine blocks the whole process while it builds, so the server never does."""


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    name: str
    model: str
    dim: int
    chunks: int
    created: str = ""
    error: str = ""  # why the collection cannot be used (damaged, foreign), with the way out


@dataclass(frozen=True, slots=True)
class CollectionStats:
    name: str
    model: str
    dim: int
    chunks: int
    files: int
    roots: list[str]
    languages: dict[str, int]
    kinds: dict[str, int]
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
        self._reranker: Reranker | None = None
        self._reranker_loaded = False
        self._ingest_locks: dict[str, threading.Lock] = {}
        # Collections' info for searches, read once rather than counted on every search; whatever
        # creates or deletes a collection here tells it (`infos.forget`).
        self.infos = CollectionInfoCache(self.store)

    @property
    def encoder(self) -> Encoder:
        """Loaded on first use (a second or two), once per process."""
        with self._encoder_lock:
            if self._encoder is None:
                from .encoders.factory import load_encoder

                self._encoder = load_encoder(self.settings)
            return self._encoder

    def _ingest_encoder(self) -> Encoder | LazyEncoder:
        """The encoder if loaded, else one that ingest loads only when a file needs chunking (an
        unchanged tree then never loads the model). The factory names it canonical_name(model)."""
        with self._encoder_lock:
            if self._encoder is not None:
                return self._encoder
        return LazyEncoder(canonical_name(self.settings.model), lambda: self.encoder)

    @property
    def reranker(self) -> Reranker | None:
        """The configured reranker (None for 'none'), built on first use."""
        encoder = self.encoder
        with self._encoder_lock:
            if not self._reranker_loaded:
                self._reranker = load_reranker(self.settings.reranker, encoder)
                self._reranker_loaded = True
            return self._reranker

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
            chunk_tokens=s.chunk_tokens,
            chunk_overlap=s.chunk_overlap,
            walk=WalkOptions(max_file_bytes=s.max_file_bytes, extra_ignores=tuple(s.ignore)),
            dry_run=dry_run,
        )
        return self._locked_ingest(
            name, lambda enc: ingest_path(path, store=self.store, encoder=enc, options=options, progress=progress)
        )

    def ingest_texts(
        self,
        docs: list[tuple[str, str]],
        *,
        collection: str | None = None,
        dry_run: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        name = collection or self.settings.collection
        options = IngestOptions(
            collection=name,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
            dry_run=dry_run,
        )
        return self._locked_ingest(
            name, lambda enc: ingest_texts(docs, store=self.store, encoder=enc, options=options, progress=progress)
        )

    def ingest_source(
        self,
        docs: Sequence[tuple[str, int]],
        load: Callable[[str], bytes],
        *,
        collection: str | None = None,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        """Documents listed as (doc_id, size) and read by `load(doc_id)` as the pipeline needs them:
        for corpora too large to hold in memory (the evaluation's)."""
        name = collection or self.settings.collection
        options = IngestOptions(
            collection=name,
            chunk_tokens=self.settings.chunk_tokens,
            chunk_overlap=self.settings.chunk_overlap,
        )
        return self._locked_ingest(
            name, lambda enc: ingest_source(docs, load, store=self.store, encoder=enc, options=options, progress=progress)
        )

    def _locked_ingest(self, name: str, run: Callable[[Encoder | LazyEncoder], IngestReport]) -> IngestReport:
        """`run(encoder)` as the one ingest into `name` at a time (searches never wait on this
        lock); the info cache then forgets `name`, which the ingest may have created."""
        with self._ingest_locks.setdefault(name, threading.Lock()):
            try:
                return run(self._ingest_encoder())
            finally:
                self.infos.forget(name)

    def search(self, request: SearchRequest, *, collection: str | None = None) -> list[SearchHit]:
        name = collection or self.settings.collection
        self.infos.get(name)  # an unknown collection fails here, before the model loads
        reranker = self.reranker if request.rerank else None
        return search(self.store, self.encoder, name, request, reranker, infos=self.infos)

    def collections(self) -> list[CollectionSummary]:
        """Every collection; one that cannot be opened is listed with its error, not fatal."""
        out = []
        for name in sorted(self.store.list_collections()):
            try:
                info = self.store.info(name)
            except GroundError as exc:
                out.append(CollectionSummary(name=name, model="?", dim=0, chunks=0, error=str(exc)))
                continue
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

    def stats(self, name: str) -> CollectionStats:
        """Counts by file, root, language and kind (a scan of the payloads: O(chunks))."""
        info = self.store.info(name)
        files: set[tuple[str, str]] = set()
        languages: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for _, p in self.store.scroll(name, Filters(visible=True), ["root", "path", "language", "kind"]):
            if p["kind"] == EMPTY_KIND:  # the record of a file with no chunk
                continue
            files.add((p["root"], p["path"]))
            languages[p["language"]] += 1
            kinds[p["kind"]] += 1
        return CollectionStats(
            name=name,
            model=info.meta.get("model", "?"),
            dim=info.dim,
            chunks=info.points,
            files=len(files),
            roots=sorted({r for r, _ in files}),
            languages=dict(languages.most_common()),
            kinds=dict(kinds),
            created=info.meta.get("created", ""),
        )

    def delete_collection(self, name: str) -> None:
        if name not in self.store.list_collections():
            raise CollectionNotFound(
                f"no collection named {name!r}; existing: {', '.join(sorted(self.store.list_collections())) or 'none'}"
            )
        try:
            self.store.delete_collection(name)
        finally:
            self.infos.forget(name)

    def delete_paths(self, name: str, paths: list[str], root: str | None = None) -> int:
        """Delete the chunks of these files (relative paths; folders include what is under them).
        Returns how many chunks went."""
        self.store.info(name)
        wanted = [p.strip().strip("/") for p in paths]
        if not wanted or not all(wanted):
            raise InputError("give one or more non-empty relative paths to delete (a file or a folder)")
        filters = Filters(under=wanted, roots=[root] if root else [])
        count = self.store.count(name, filters)
        if count:
            self.store.delete(name, filters)
        return count

    def close(self) -> None:
        self.store.close()
