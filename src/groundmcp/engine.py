"""The engine as one object: settings in, store and encoder opened once, the operations out.

The CLI, the MCP tools, the LangChain retriever and the eval harness all call through this, so there
is one code path whatever the front end.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from .encoders.base import Encoder
from .encoders.sentence_transformers import canonical_name
from .errors import CollectionNotFound, GroundError, InputError
from .ingest.model import LazyEncoder
from .ingest.pipeline import IngestOptions, TextInput, ingest_path, ingest_source, ingest_texts
from .ingest.report import IngestProgress, IngestReport
from .ingest.roots import Plan, RootsCache, absorb, check_only, enclosing, merge, plan_ingest, read_roots, relative
from .ingest.walk import WalkOptions, left_out, resolve_root
from .inventory import folder_usage
from .record import EMPTY_KIND, NOT_CHUNKS, SYMBOLS_KIND, P
from .rerank.base import Reranker
from .rerank.factory import load_reranker
from .search.lift import lift
from .search.query import CollectionInfoCache, SearchHit, SearchRequest, path_filters, search
from .search.query_cache import CachedQueryEncoder, QueryCache
from .search.sources import SourceLines, chunks_by_id, read_lines
from .settings import Settings
from .store.base import Filters, Store
from .store.factory import open_store
from .store.names import validate_collection_name

log = logging.getLogger(__name__)

OPTIMIZE_MIN_POINTS = 20_000
"""From this size `optimize_if_large` builds the HNSW index (below it exact search takes a few ms).
The embedded engine blocks the whole process while it builds, so the CLI and the eval call it after
an ingest and the server never does."""


@dataclass(frozen=True, slots=True)
class CollectionSummary:
    name: str
    model: str
    dim: int
    chunks: int  # searchable chunks: what ingest reports encoding (not the records of empty files)
    created: str = ""
    error: str = ""  # why the collection cannot be used (damaged, foreign), with the way out


@dataclass(frozen=True, slots=True)
class CollectionStats:
    name: str
    model: str
    dim: int
    chunks: int  # searchable chunks, as in CollectionSummary
    files: int  # files with at least one chunk
    roots: list[str]
    languages: dict[str, int]  # chunks per language
    kinds: dict[str, int]  # chunks per kind
    created: str = ""
    files_by_language: dict[str, int] = field(default_factory=dict)
    empty_files: int = 0  # files ingested that gave no chunk (recorded so they are not re-read)
    updated: str = ""  # when the index last changed on disk (embedded store only; "" when unknown)
    disk_bytes: int | None = None  # space used on disk (embedded store only)


@dataclass(frozen=True, slots=True)
class IndexedFile:
    path: str
    root: str
    language: str
    kind: str
    chunks: int


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
        self._ingest_listeners: list[Callable[[str, Path], None]] = []
        self._roots = RootsCache()  # each collection's roots, for one identity per file
        # Collections' info for searches, read once rather than counted on every search; whatever
        # creates or deletes a collection here tells it (`infos.forget`).
        self.infos = CollectionInfoCache(self.store)
        # Query vectors, shared by every search of this process (search/query_cache.py).
        self.queries = QueryCache(settings.query_cache_entries, settings.query_cache_bytes)
        self._query_encoder: CachedQueryEncoder | None = None
        # Whether searches put the definition of an identifier the query names first (search/lift.py):
        # on queries naming 100 httpx definitions the first hit was the definition for 0.99 of bare
        # names against 0.78 without (bench/lift_identifiers.py), and no docstring query of the
        # public code eval moved (bench/search_lift.py).
        self.lift_definitions = settings.lift_definitions
        self.ingested = {"chunks": 0, "tokens": 0, "encode_seconds": 0.0}  # by this process's ingests

    @property
    def encoder(self) -> Encoder:
        """Loaded on first use (a second or two), once per process."""
        with self._encoder_lock:
            if self._encoder is None:
                from .encoders.factory import load_encoder

                self._encoder = load_encoder(self.settings)
            return self._encoder

    @property
    def query_encoder(self) -> Encoder:
        """The encoder as searches use it: single queries answered from `queries` when asked before."""
        encoder = self.encoder
        with self._encoder_lock:
            if self._query_encoder is None or (self._query_encoder.inner, self._query_encoder.cache) != (encoder, self.queries):
                self._query_encoder = CachedQueryEncoder(encoder, self.queries)
            return self._query_encoder

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
        only: Sequence[str] | None = None,
    ) -> IngestReport:
        """Bring the collection in line with the files under `path`, or with the one file it names.
        A lone file that is skipped (binary, too large, a secret, ...) is an InputError that says
        why and what to do: naming one file and indexing nothing is never a success. `only`:
        relative paths under the folder `path` to bring in line, the rest left as it is (a
        watcher's batch; see ingest_path).

        One identity per file (ingest/roots.py): a path inside a folder the collection already
        holds as a tree joins it (ingested as that root limited to the path; the report's `root`
        is that root and its paths are relative to it), and a folder that holds other roots of the
        collection becomes their root and absorbs them, so no file is ever indexed twice."""
        name = validate_collection_name(collection or self.settings.collection)  # as a dry run would
        target = resolve_root(path)  # a bad path fails here, before the model loads
        check_only(only, path)
        options = self._options(name, dry_run, files=True)
        plans: list[Plan] = []

        def run(enc: Encoder | LazyEncoder) -> IngestReport:
            plan = plan_ingest(target, self._roots.get(self.store, name), self._takes_in(options), only)
            plans.append(plan)
            report = ingest_path(
                str(plan.path), store=self.store, encoder=enc, options=options, progress=progress, resolved=True,
                only=plan.only,
            )
            self._absorb(name, plan, report, options)
            return report

        report = self._locked_ingest(name, run)
        plan = plans[0]
        if not dry_run:
            self._tell_listeners(name, plan.root if plan.joined else target)
        rel = plan.only[0] if plan.joined and target.is_file() else target.name
        mine = [s for s in report.skipped if s.path == rel]
        if target.is_file() and mine and not (report.added or report.changed or report.unchanged):
            reason = mine[0].reason
            hint = (
                "Files that hold credentials are never indexed; move the secret out of the file (into "
                "the environment or a secret manager) to index the rest"
                if reason.startswith("secret ")
                else "Only text files (UTF-8) and PDFs under the size limit (GROUNDMCP_MAX_FILE_BYTES) can be indexed"
            )
            done = (
                f"its {report.chunks_removed} indexed chunk(s) were removed"
                if report.chunks_removed and not dry_run
                else "nothing was changed"
            )
            raise InputError(f"{path} was not ingested: {reason}. {hint}; {done}.")
        return report

    def _takes_in(self, options: IngestOptions) -> Callable[[str, str], bool]:
        """(root, relative path) -> whether a walk of the root under these options reaches it."""
        return lambda root, rel: not left_out(Path(root), rel, options.walk)

    def _absorb(self, name: str, plan: Plan, report: IngestReport, options: IngestOptions) -> None:
        """After `plan`'s ingest has returned: fold the roots inside its region into its root (see
        ingest/roots.py for why a kill at any point loses nothing), and keep the roots' cache
        right. A dry run only says which roots it would fold in."""
        if plan.joined:
            report.joined_from = str(plan.target)
        if options.dry_run:
            report.absorbed = list(plan.absorb)  # those it would look at: files their rules leave out stay
            return
        started = time.perf_counter()
        root, takes_in = str(plan.root), self._takes_in(options)
        kept: dict[str, list[str]] = {}
        for old in plan.absorb:
            deleted, kept[old] = absorb(self.store, name, root, old, takes_in)
            report.absorbed_records += deleted
            if deleted:
                report.absorbed.append(old)
        wrote = [*report.added, *report.changed, *report.empty]
        dropped = bool(report.removed or report.skipped)
        self._roots.ingested(self.store, name, root, wrote, dropped, kept)
        report.seconds += time.perf_counter() - started

    def on_ingest(self, listener: Callable[[str, Path], None]) -> Callable[[], None]:
        """Call `listener(collection, path)` after each ingest of a folder or file (not a dry run,
        not texts), whoever asked for it; `path` is resolved. Returns the function that unsubscribes.
        A watcher learns its roots this way, so front ends need not tell it."""
        self._ingest_listeners.append(listener)
        return lambda: self._ingest_listeners.remove(listener) if listener in self._ingest_listeners else None

    def _tell_listeners(self, name: str, target: Path) -> None:
        for listener in list(self._ingest_listeners):
            try:
                listener(name, target)
            except Exception:  # noqa: BLE001 - a listener never fails the ingest it hears of
                log.warning("ingest listener %r failed", listener, exc_info=True)

    def roots(self, name: str) -> dict[str, list[str]]:
        """The folders whose files `name` holds (texts left out), each with the relative paths of
        its indexed files, sorted: one record per file, not a scan of every chunk. A root that
        joins another (a sub-folder of a tree root, written before one identity per file: see
        ingest/roots.py) is reported inside it, so nothing is listed, or watched, twice."""
        return merge(read_roots(self.store, name), self._takes_in(self._options(name, False, files=True)))

    def ingest_texts(
        self,
        docs: Sequence[tuple[str, str] | TextInput],
        *,
        collection: str | None = None,
        dry_run: bool = False,
        progress: Callable[[IngestProgress], None] | None = None,
    ) -> IngestReport:
        name = validate_collection_name(collection or self.settings.collection)
        options = self._options(name, dry_run)
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
        name = validate_collection_name(collection or self.settings.collection)
        options = self._options(name, dry_run=False)
        return self._locked_ingest(
            name, lambda enc: ingest_source(docs, load, store=self.store, encoder=enc, options=options, progress=progress)
        )

    def _options(self, name: str, dry_run: bool, *, files: bool = False) -> IngestOptions:
        """The ingest options the settings give, once for every kind of ingest (`files`: with the
        walk's size limit and ignore patterns)."""
        s = self.settings
        extra = {"walk": WalkOptions(max_file_bytes=s.max_file_bytes, extra_ignores=tuple(s.ignore))} if files else {}
        return IngestOptions(
            collection=name, chunk_tokens=s.chunk_tokens, chunk_overlap=s.chunk_overlap, dry_run=dry_run,
            signatures=s.token_signatures, **extra
        )

    def _locked_ingest(self, name: str, run: Callable[[Encoder | LazyEncoder], IngestReport]) -> IngestReport:
        """`run(encoder)` as the one ingest into `name` at a time (searches never wait on this
        lock); the info cache then forgets `name`, which the ingest may have created."""
        with self._ingest_locks.setdefault(name, threading.Lock()):
            try:
                report = run(self._ingest_encoder())
            finally:
                self.infos.forget(name)
        if not report.dry_run:
            with self._encoder_lock:
                for key, value in (("chunks", report.chunks), ("tokens", report.tokens),
                                   ("encode_seconds", report.encode_seconds)):
                    self.ingested[key] += value
        return report

    def encoder_figures(self) -> dict:
        """What the encoder has done in this process, for the metrics: batches, texts and model
        seconds by kind (none before the model loads), and the chunks and tokens ingests encoded
        with the seconds that took (tokens per second = tokens / encode_seconds)."""
        loaded = self._encoder
        with self._encoder_lock:
            ingested = dict(self.ingested)
        return {"batches": loaded.tally.snapshot() if loaded is not None else {}, "ingested": ingested}

    def search(self, request: SearchRequest, *, collection: str | None = None) -> list[SearchHit]:
        name = collection or self.settings.collection
        self.infos.get(name)  # an unknown collection fails here, before the model loads
        reranker = self.reranker if request.rerank else None
        hits = search(self.store, self.query_encoder, name, request, reranker, infos=self.infos)
        return lift(self.store, name, request, hits) if self.lift_definitions else hits

    def chunks(self, name: str, ids: list[str]) -> list[SearchHit]:
        """Published chunks by id, in the order asked; InputError naming ids that do not exist."""
        return chunks_by_id(self.store, name, ids)

    def file_lines(
        self, name: str, path: str, start: int, end: int, *, root: str | None = None,
        within: tuple[Path, ...] | None = None,
    ) -> SourceLines:
        """Lines of an ingested file read from disk now, under ingest's rules (search/sources.py);
        `within`: folders the caller may read (None: the file's root is the only limit)."""
        return read_lines(self.store, name, path, start, end, root, self.settings.max_file_bytes, within)

    def file_paths(self, name: str) -> list[tuple[str, str]]:
        """(path, language) of each indexed file: one record per file, not a scan of every chunk."""
        rows = self.store.scroll(name, Filters(visible=True, first_chunks=True), [P.PATH, P.LANGUAGE])
        return [(p.get(P.PATH, ""), p.get(P.LANGUAGE, "")) for _, p in rows]

    def optimize_if_large(self, name: str) -> bool:
        """Build the HNSW index of `name` when it holds OPTIMIZE_MIN_POINTS or more points (blocking:
        for the CLI and the eval after an ingest, never the server). True if it was built."""
        if self.store.info(name).points < OPTIMIZE_MIN_POINTS:
            return False
        self.store.optimize(name)
        return True

    def collection_names(self) -> list[str]:
        """The names of every collection, sorted; nothing is opened."""
        return sorted(self.store.list_collections())

    def collections(self, allowed: Callable[[str], bool] | None = None) -> list[CollectionSummary]:
        """Every collection (or those whose name `allowed` accepts; the others are never opened);
        one that cannot be opened is listed with its error, not fatal."""
        out = []
        for name in sorted(n for n in self.store.list_collections() if allowed is None or allowed(n)):
            try:
                info = self.store.info(name)
                chunks = self.chunk_count(name)
            except GroundError as exc:
                out.append(CollectionSummary(name=name, model="?", dim=0, chunks=0, error=str(exc)))
                continue
            out.append(
                CollectionSummary(
                    name=name,
                    model=info.meta.get("model", "?"),
                    dim=info.dim,
                    chunks=chunks,
                    created=info.meta.get("created", ""),
                )
            )
        return out

    def chunk_count(self, name: str) -> int:
        """Searchable chunks: published points less the records of files that gave no chunk (which
        have no vectors), so the figure agrees with the chunks ingest reports encoding."""
        return self.store.count(name, Filters(visible=True)) - self.store.count(
            name, Filters(visible=True, kinds=list(NOT_CHUNKS))
        )

    def stats(self, name: str) -> CollectionStats:
        """Counts by file, root, language and kind (a scan of the payloads: O(chunks)), and the
        index's size and last change on disk where the store is embedded."""
        info = self.store.info(name)
        files: dict[tuple[str, str], str] = {}
        empty: set[tuple[str, str]] = set()
        languages: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        for _, p in self.store.scroll(name, Filters(visible=True), [P.ROOT, P.PATH, P.LANGUAGE, P.KIND]):
            if p[P.KIND] == SYMBOLS_KIND:  # a code file's symbols record: no chunk
                continue
            if p[P.KIND] == EMPTY_KIND:  # the record of a file with no chunk
                empty.add((p[P.ROOT], p[P.PATH]))
                continue
            files[(p[P.ROOT], p[P.PATH])] = p[P.LANGUAGE]
            languages[p[P.LANGUAGE]] += 1
            kinds[p[P.KIND]] += 1
        disk_bytes, updated = self._on_disk(name)
        return CollectionStats(
            name=name,
            model=info.meta.get("model", "?"),
            dim=info.dim,
            chunks=sum(languages.values()),
            files=len(files),
            roots=sorted({r for r, _ in files} | {r for r, _ in empty}),
            languages=dict(languages.most_common()),
            kinds=dict(kinds.most_common()),
            created=info.meta.get("created", ""),
            files_by_language=dict(Counter(files.values()).most_common()),
            empty_files=len(empty),
            updated=updated,
            disk_bytes=disk_bytes,
        )

    def files(self, name: str, glob: str | None = None) -> list[IndexedFile]:
        """The indexed files whose path matches `glob` (as search's path filter reads it: 'src/**/*.py',
        '*.md', 'docs/' or a file), with their chunk counts, sorted by root and path."""
        self.store.info(name)
        filters, spec = path_filters(glob)
        found: dict[tuple[str, str], list] = {}
        fields = [P.ROOT, P.PATH, P.LANGUAGE, P.KIND]
        for _, p in self.store.scroll(name, Filters(under=filters.under, exts=filters.exts, visible=True), fields):
            if (spec is not None and not spec.match_file(p[P.PATH])) or p[P.KIND] == SYMBOLS_KIND:
                continue
            row = found.setdefault((p[P.ROOT], p[P.PATH]), [p[P.LANGUAGE], p[P.KIND], 0])
            if p[P.KIND] == EMPTY_KIND:
                row[:2] = ["", EMPTY_KIND]
            else:
                row[2] += 1
        return [IndexedFile(path, root, *found[(root, path)]) for root, path in sorted(found)]

    def _on_disk(self, name: str) -> tuple[int | None, str]:
        """(bytes used, last change as ISO time) of an embedded collection's folder; (None, "") for
        a server, which does not say."""
        if self.store.backend != "edge":
            return None, ""
        used, newest = folder_usage(Path(self.store.location) / "collections" / name)
        stamp = datetime.fromtimestamp(newest, UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if newest else ""
        return used, stamp

    def delete_collection(self, name: str) -> int:
        """Delete the collection; returns how many searchable chunks it held."""
        if name not in self.store.list_collections():
            raise CollectionNotFound(
                f"no collection named {name!r}; existing: {', '.join(sorted(self.store.list_collections())) or 'none'}"
            )
        try:
            try:
                chunks = self.chunk_count(name)
            except GroundError:  # damaged: it can still be deleted
                chunks = 0
            self.store.delete_collection(name)
        finally:
            self.infos.forget(name)
            self._roots.forget(name)
        return chunks

    def delete_paths(self, name: str, paths: list[str], root: str | None = None) -> int:
        """Delete the chunks of these files (relative paths; folders include what is under them).
        Returns how many searchable chunks went (their symbols and empty-file records go too,
        uncounted). A `root` that joined a tree root of the collection (see ingest/roots.py) finds
        its files where they are recorded, under that root."""
        self.store.info(name)
        wanted = [p.strip().strip("/") for p in paths]
        if not wanted or not all(wanted):
            raise InputError("give one or more non-empty relative paths to delete (a file or a folder)")
        filters = [Filters(under=wanted, roots=[root] if root else [])]
        trees = self._roots.get(self.store, name) if root else {}
        if root and (into := enclosing(root, trees, self._takes_in(self._options(name, False, files=True)))):
            rel = relative(root, into)  # the files of a folder that joined a tree root are recorded there
            filters.append(Filters(under=[f"{rel}/{w}" for w in wanted], roots=[into]))
        count = 0
        for where in filters:
            if found := self.store.count(name, where):
                # the records that are no chunk (symbols, empty files) go too, uncounted
                count += found - self.store.count(name, replace(where, kinds=list(NOT_CHUNKS)))
                self.store.delete(name, where)
        self._roots.forget(name)
        return count

    def close(self) -> None:
        self.store.close()

    def find_symbol(self, name: str, *, kind: str | None = None, collection: str | None = None, limit: int = 20):
        """Definitions named `name` (or ending with it: `Class.method`), exact first, then ignoring
        case, then close spellings; from the symbols ingest records per code file (symbols/)."""
        from .symbols import find

        target = collection or self.settings.collection
        self.infos.get(target)  # an unknown collection fails here, naming those that exist
        return find(self.store, target, name, kind, limit)

    def symbol_neighbours(self, target: str, *, collection: str | None = None, path: str | None = None,
                          limit: int = 50):
        """The definition `target` names (a symbol, or a chunk id: the definition around the chunk)
        with its callers, callees, imports and importers, each candidate ranked (symbols/lookup.py).
        InputError when nothing matches, saying what to try."""
        from .symbols import neighbours
        from .symbols.lookup import resolve

        name = collection or self.settings.collection
        self.infos.get(name)
        chunk = None
        if _looks_like_id(target):
            hit = chunks_by_id(self.store, name, [target])[0]
            chunk = (hit.root, hit.path, hit.start_line, hit.end_line, hit.id)
        try:
            found, others = resolve(self.store, name, target, path=path, chunk=chunk)
        except LookupError as exc:
            raise InputError(str(exc)) from exc
        result = neighbours(self.store, name, found, limit=limit)
        if others:
            result.others = others[:limit]
        return result


def _looks_like_id(text: str) -> bool:
    """A chunk id (a UUID) rather than a symbol name."""
    import uuid

    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
