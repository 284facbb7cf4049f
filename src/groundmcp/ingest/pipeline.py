"""Incremental, pipelined ingest of one root into one collection.

Three stages overlap so the encoder is the only bottleneck: a preparer thread reads, hashes and
chunks files (and builds their sparse vectors); the calling thread encodes windows of whole files;
a writer thread upserts the points unpublished, then publishes each finished file in one store
operation and deletes the chunks it replaces. A run of a few files (INLINE_FILES) runs the same
stages one after the other on the calling thread. A file is searchable either as it was or as it is,
never half-written; a killed run leaves only unpublished points, which the next run drops.

The encoder is loaded when the first file needs chunking (see model.py): a re-ingest with nothing
new to encode never loads it when given a `LazyEncoder`.
"""

from __future__ import annotations

import functools
import hashlib
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..chunking import chunk_file, chunking_key, language_for
from ..chunking.base import Chunk
from ..chunking.detect import detect_language, doc_suffix_for, suffix_for
from ..chunking.languages import DOC
from ..collection_meta import open_or_create
from ..encoders.base import Encoder
from ..errors import InputError
from ..record import EMPTY_KIND, TEXTS_ROOT, ChunkRecord, P, utc_stamp
from ..sparse import document_vector
from ..store.base import Filters, PointData, SparseVec, Store
from ..symbols import SYMBOLS_INDEX, SYMBOLS_KIND, FileSymbols, file_symbols, symbols_point
from ..symbols.backfill import backfill
from .datalike import data_like
from .manifest import FileState, Version, drop_unpublished, load_ids, load_manifest
from .model import EncoderSlot, LazyEncoder
from .read import decode_text, read_bytes, wants_bytes
from .report import IngestProgress, IngestReport
from .secrets import find_secret_in_file
from .threads import DONE, drain, put, start
from .walk import FileEntry, Skipped, WalkOptions, resolve_root, walk, walk_paths

FIRST_WINDOW_CHUNKS = 64
INLINE_FILES = 3
"""Ingests of at most this many files to read run their stages one after the other on the
caller's thread (`_Run._run_inline`): a few files leave the stages little to overlap, and starting
and joining the preparer and writer threads took 2.6 ms of a one-note ingest's ~30 ms."""
_ID_NAMESPACE = uuid.UUID("6f1c7a4e-2b0d-4c59-9a43-5d3e8f0b7c21")


@dataclass(frozen=True, slots=True)
class IngestOptions:
    collection: str = "default"
    chunk_tokens: int = 256  # wanted; the pipeline takes the chunk_budget of it once the model is loaded
    chunk_overlap: int = 32
    walk: WalkOptions = field(default_factory=WalkOptions)
    dry_run: bool = False
    # Chunks encoded together. Length-sorting works within a window, so bigger windows pad less:
    # at 256 the pipeline cost 17% over encoding alone here, at 1024 nothing measurable.
    window_chunks: int = 1024
    # Runs with at most this many files to read take no threads (see INLINE_FILES).
    inline_files: int = INLINE_FILES
    # Prose chunks keep their token signatures (Settings.token_signatures): part of prose's key.
    signatures: bool = True

    def chunking(self, path: str) -> str:
        """The chunking key of `path` under these options (see `chunking.chunking_key`); a prose
        file's says whether its chunks carry signatures, so turning them on or off re-encodes it."""
        key = chunking_key(path, self.chunk_tokens, self.chunk_overlap)
        return key if self.signatures or not key.startswith("prose-") else f"{key}/unsigned"

    def legacy_chunking(self, path: str) -> str:
        """What chunks stored without a chunking key are taken for: every chunker was at its first
        version then, and the chunk sizes are taken to be these. So after the upgrade that added
        the key, code files keep their chunks and prose files (a version 2 chunker) get new ones."""
        return chunking_key(path, self.chunk_tokens, self.chunk_overlap, version=1)


@dataclass(slots=True)
class _FileWork:
    entry: FileEntry
    file_hash: str
    chunking: str
    chunks: list[Chunk]
    sparse: list[SparseVec]
    tokens: int
    old: FileState | None
    empty: bool = False  # read and chunked, no chunk: recorded by a point without vectors
    symbols: FileSymbols | None = None  # a code file's definitions and references (symbols/)

    @property
    def version(self) -> Version:
        return self.file_hash, self.chunking

    @property
    def rechunked(self) -> bool:
        """Indexed before with this content, chunked again (a new chunker or chunk size)."""
        return self.old is not None and bool(self.chunks or self.empty) and self.file_hash in self.old.hashes


def chunk_budget(encoder: Encoder, wanted: int) -> int:
    """Chunk size in tokens: what was asked, within what the model reads past its special tokens."""
    return min(wanted, encoder.max_tokens - encoder.special_tokens)


def point_id(root: str, path: str, version: Version, index: int) -> str:
    """Deterministic: a clean ingest and a resumed one give every chunk the same id. A re-chunked
    version gets new ids, so its unpublished chunks never overwrite the published ones."""
    file_hash, chunking = version
    return str(uuid.uuid5(_ID_NAMESPACE, f"{root}\0{path}\0{file_hash}\0{chunking}\0{index}"))


def ingest_path(
    path: str,
    *,
    store: Store,
    encoder: Encoder | LazyEncoder,
    options: IngestOptions,
    progress: Callable[[IngestProgress], None] | None = None,
    resolved: bool = False,
    only: Sequence[str] | None = None,
) -> IngestReport:
    """Bring `collection` in line with the files under `path` (or the one file `path` names).
    `resolved`: `path` is what walk.resolve_root returned already, so it is not resolved again.
    `only`: relative paths under the folder `path` (files, or folders: all under them) to bring in
    line, the rest left as it is: the same result for them as a whole ingest, without walking and
    reading the manifest of the whole root (a watcher's batch). Where that cannot be told from
    those paths alone (a symlink on the way), the whole root is ingested."""
    started = time.perf_counter()
    target = Path(path) if resolved else resolve_root(path)
    single_file = target.is_file()  # then the root is its folder, and nothing else is touched
    root = str(target.parent if single_file else target)
    report = IngestReport(collection=options.collection, root=root, dry_run=options.dry_run)
    slot = EncoderSlot(encoder)
    limited = only is not None and not single_file and all(p.strip("/") for p in only)
    listed = walk_paths(target, only, options.walk) if limited else None
    under = sorted({p.strip("/") for p in only}) if listed is not None else None
    manifest = _open(store, slot, options, root, report, ids=False, under=under)

    todo: list[FileEntry] = []
    seen: dict[str, FileEntry] = {}
    for item in listed if listed is not None else walk(target, options.walk, resolved=True):
        if isinstance(item, Skipped):
            report.skipped.append(item)
            continue
        report.files_seen += 1
        seen[item.path] = item
        old = manifest.get(item.path)
        if old is not None and old.unchanged_by_stat(item.size, item.mtime_ns, options.chunking(item.path)):
            report.unchanged += 1
        else:
            todo.append(item)
    gone = [] if single_file else sorted(p for p in manifest if p not in seen)
    # Chunk ids only for the files that may be replaced or are removed: one scroll per 512 files.
    load_ids(
        store,
        options.collection,
        root,
        manifest,
        [e.path for e in todo if e.path in manifest] + gone,
        legacy=options.legacy_chunking,
    )
    loader = functools.partial(_load, options=options.walk)
    _Run(store, slot, options, root, manifest, report, _Ticker(progress, len(todo))).run(todo, loader, gone)
    if not options.dry_run:
        _backfill_symbols(store, options.collection, root, manifest, seen, report, loader)
    report.seconds = time.perf_counter() - started
    return report


def _backfill_symbols(store, collection, root, manifest, seen: dict[str, FileEntry], report, loader) -> None:
    """The symbols records of the files this run left as they were and that lack one (indexed
    before symbols existed) or hold one from an older extractor (symbols/backfill.py), written
    without encoding any chunk."""
    touched = {*report.added, *report.changed, *report.empty, *(s.path for s in report.skipped)}
    settled = {
        path: next(iter(manifest[path].versions))
        for path in seen
        if path in manifest and path not in touched and len(manifest[path].versions) == 1
    }

    def read(path: str) -> bytes | None:
        data = loader(seen[path])
        return None if isinstance(data, Skipped) else data

    done = backfill(store, collection, root, settled, read, lambda p, v: point_id(root, p, v, SYMBOLS_INDEX))
    report.symbols_backfilled = len(done)


@dataclass(frozen=True, slots=True)
class TextInput:
    """A text sent by a client. `path`: its file name (`src/util.py`), which picks the chunker and
    is the name it is indexed and cited under; `language`: the chunker to use when there is no
    path (`python`, `markdown`). With neither, a text whose id names no file type is looked at
    (chunking.detect): code is chunked as code under its id plus the language's extension."""

    id: str
    text: str
    path: str | None = None
    language: str | None = None

    def name(self) -> str:
        """The name the text is indexed under (the path a file would have)."""
        if self.path is not None:
            path = self.path.replace("\\", "/").strip().strip("/")
            if not path or any(part in ("", ".", "..") for part in path.split("/")):
                raise InputError(
                    f"text {self.id!r}: path {self.path!r} is not a relative file name; give one such as "
                    "'src/util.py' (no '..', no empty parts)"
                )
            return path
        found = language_for(self.id)
        if self.language is not None:
            return _with_language(self.id, self.language, found)
        if found is not None:
            return self.id
        language = detect_language(self.text)
        return self.id + (suffix_for(language) or "") if language else self.id


def _with_language(doc_id: str, language: str, found: tuple[str, str] | None) -> str:
    wanted = language.strip().lower()
    if found is not None and found[0] == wanted:
        return doc_id
    suffix = suffix_for(wanted) or doc_suffix_for(wanted)
    if suffix is None:
        raise InputError(
            f"text {doc_id!r}: unknown language {language!r}; use a name such as python, javascript, typescript, "
            "go, rust, java, c, cpp, markdown, rst, html or text, or give a `path` with the file's extension"
        )
    return doc_id if wanted == "text" else doc_id + suffix


def ingest_texts(
    docs: Sequence[tuple[str, str] | TextInput],
    *,
    store: Store,
    encoder: Encoder | LazyEncoder,
    options: IngestOptions,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Ingest texts as if each were a file under the root TEXTS_ROOT, named by `TextInput.name`
    (a plain (doc_id, text) pair is a TextInput with neither path nor language).

    Incremental like files: an unchanged text is not re-encoded, a changed one is replaced. Texts
    not passed are left alone (nothing is removed)."""
    texts = [d if isinstance(d, TextInput) else TextInput(*d) for d in docs]
    data: dict[str, bytes] = {}
    sizes: list[tuple[str, int]] = []
    for t in texts:
        name = t.name()
        data[name] = t.text.encode("utf-8")
        sizes.append((name, len(data[name])))  # ingest_source refuses repeated names
    return ingest_source(sizes, data.__getitem__, store=store, encoder=encoder, options=options, progress=progress)


def ingest_source(
    docs: Sequence[tuple[str, int]],
    load: Callable[[str], bytes],
    *,
    store: Store,
    encoder: Encoder | LazyEncoder,
    options: IngestOptions,
    progress: Callable[[IngestProgress], None] | None = None,
) -> IngestReport:
    """Like `ingest_texts`, for corpora too large to hold in memory: `docs` lists (doc_id, size in
    bytes) and `load(doc_id)` returns a document's UTF-8 bytes when the pipeline gets to it, so
    only the documents in flight are held at once."""
    started = time.perf_counter()
    seen: set[str] = set()
    for doc_id, _ in docs:
        if not doc_id.strip() or doc_id in seen:
            raise InputError(f"document ids must be non-empty and unique; got {doc_id!r} (twice or empty)")
        seen.add(doc_id)
    report = IngestReport(collection=options.collection, root=TEXTS_ROOT, dry_run=options.dry_run)
    slot = EncoderSlot(encoder)
    # Texts have no stat to go by: every one is hashed, so the chunk ids of all are read at once,
    # of these documents only: a call's reading grows with what it sends, not with the collection.
    manifest = _open(store, slot, options, TEXTS_ROOT, report, ids=True, under=[doc_id for doc_id, _ in docs])
    todo = [FileEntry(doc_id, Path(doc_id), size, 0) for doc_id, size in docs]
    report.files_seen = len(todo)
    run = _Run(store, slot, options, TEXTS_ROOT, manifest, report, _Ticker(progress, len(todo)))
    run.run(todo, lambda e: load(e.path), [])
    report.seconds = time.perf_counter() - started
    return report


def _open(store, slot: EncoderSlot, options, root, report, *, ids: bool, under=None) -> dict[str, FileState]:
    """Check (or create) the collection, drop an interrupted run's leftovers, read the manifest
    (of the files at or under the paths `under` only, if given). An existing collection is checked
    without loading a lazy encoder; a new one needs its dimension, so the model is loaded to
    create it."""
    if options.collection in store.list_collections():
        slot.check(store.info(options.collection))
    elif options.dry_run:
        return {}
    else:
        open_or_create(store, options.collection, slot.get(), create=True)
    if not options.dry_run:
        report.leftovers_dropped = drop_unpublished(store, options.collection, root)
    return load_manifest(store, options.collection, root, ids=ids, legacy=options.legacy_chunking, under=under)


@dataclass(slots=True)
class _Run:
    """One ingest's shared state, and its stages as methods. Three threads work on it:

    - the caller's thread runs `run`: it starts the preparer, encodes windows of chunks and hands
      them to the writer (`_encode_and_write`), then deletes removed files;
    - the preparer thread (`_prepare`) reads, hashes and chunks each file (`_prepared`);
    - the writer thread (`_write`) upserts, publishes and retires each window's points
      (`_write_window`).

    Each field of the report has one writing thread (see IngestReport), and the caller's thread
    reads the report only after the other two have ended. A run of at most INLINE_FILES files
    calls the same stages on the caller's thread alone (`_run_inline`).
    """

    store: Store
    slot: EncoderSlot
    options: IngestOptions
    root: str
    manifest: dict[str, FileState]
    report: IngestReport
    tick: _Ticker
    stop: threading.Event = field(default_factory=threading.Event)  # set when the caller fails

    def run(self, todo: list[FileEntry], loader: Callable[[FileEntry], bytes | Skipped], gone: list[str]) -> None:
        self.tick()  # the walk's count, so a progress bar knows its total before the first file is done
        try:
            if len(todo) <= self.options.inline_files:
                self._run_inline(todo, loader)
            else:
                self._run_threads(todo, loader)
            ids_gone = [] if self.options.dry_run else [i for p in gone for i in self.manifest[p].ids]
            if ids_gone:
                self.store.delete(self.options.collection, ids=ids_gone)
        finally:
            self.stop.set()
        self.report.removed = list(gone)
        self.report.chunks_removed += sum(replaced_chunks(self.root, p, self.manifest[p]) for p in gone)

    def _run_inline(self, todo: list[FileEntry], loader) -> None:
        """The stages one after the other on the caller's thread: for a few files there is little
        to overlap, and two threads started and joined cost more than they save (a memory-style
        client's one note an ingest)."""
        works = self._prepared(todo, loader)
        if self.options.dry_run:
            for work in works:
                self._count(work)
            return
        for window in _windows(works, self.options.window_chunks):
            self._write_window(window, self._encode(window))

    def _run_threads(self, todo: list[FileEntry], loader) -> None:
        prepared: queue.Queue = queue.Queue(maxsize=64)
        preparer = start(self._prepare, todo, loader, prepared)
        if self.options.dry_run:
            for work in drain(prepared, preparer):  # the writer's part, without writing
                self._count(work)
        else:
            self._encode_and_write(prepared, preparer)

    def _count(self, work: _FileWork) -> None:
        """A dry run's record of one file: what the writer would report, without writing."""
        self.report.record(work.entry.path, work.old, len(work.chunks), work.tokens, rechunked=work.rechunked)
        self.report.chunks_removed += replaced_chunks(self.root, work.entry.path, work.old, work.version)
        self.tick(files=1)

    def _encode(self, window: list[_FileWork]) -> tuple[np.ndarray, list[str] | None] | None:
        """The window's chunks' dense vectors, in order, and where the window holds prose, every
        chunk's token signature from the same pass (encoders/token_signs.py; the writer keeps the
        prose chunks' only); None when it has no chunk."""
        chunks = [c for w in window for c in w.chunks]
        if not chunks:
            return None
        t0 = time.perf_counter()
        encoder, texts, tick = self.slot.get(), [c.dense_text for c in chunks], lambda n: self.tick(encoded=n)
        if self.options.signatures and encoder.gives_tokens and any(c.kind == DOC for c in chunks):
            encoded: tuple[np.ndarray, list[str] | None] = encoder.encode_documents_signed(texts, on_batch=tick)
        else:
            encoded = encoder.encode_documents(texts, on_batch=tick), None
        self.report.encode_seconds += time.perf_counter() - t0
        return encoded

    def _encode_and_write(self, prepared: queue.Queue, preparer) -> None:
        writes: queue.Queue = queue.Queue(maxsize=2)
        writer = start(self._write, writes)
        try:
            for window in _windows(drain(prepared, preparer), self.options.window_chunks):
                put(writes, (window, self._encode(window)), writer, self.stop)
        finally:
            if writer.is_alive():
                put(writes, DONE, writer, self.stop, force=True)
            writer.join_and_raise()

    def _prepare(self, todo: list[FileEntry], loader, out: queue.Queue) -> None:
        """The preparer thread: each prepared file onto `out`, then DONE (so the consumer ends at
        once rather than when a wait for more times out: 0.1 s of a one-file ingest)."""
        for work in self._prepared(todo, loader):
            if not put(out, work, None, self.stop):
                return
        put(out, DONE, None, self.stop)

    def _prepared(self, todo: list[FileEntry], loader) -> Iterator[_FileWork]:
        """Read, hash and chunk each file; yield the ones whose content changed."""
        manifest, slot, options, report = self.manifest, self.slot, self.options, self.report
        for entry in todo:
            data = loader(entry)
            old = manifest.get(entry.path)
            if isinstance(data, Skipped):
                report.skipped.append(data)
                if old is not None:  # indexed before, unreadable now: drop it
                    yield _FileWork(entry, "", "", [], [], 0, old)
                continue
            file_hash = hashlib.sha256(data).hexdigest()
            version = (file_hash, options.chunking(entry.path))
            if old is not None and old.versions == {version}:
                report.unchanged += 1  # touched, not changed
                continue
            if old is not None and version in old.versions:
                yield _FileWork(entry, *version, [], [], 0, old)  # finish a swap
                continue
            chunks = _chunks(entry, data, slot, options)
            if isinstance(chunks, Skipped):
                report.skipped.append(chunks)
                if old is not None:  # indexed before, left out now: drop it
                    yield _FileWork(entry, "", "", [], [], 0, old)
                continue
            encoder = slot.get()  # loaded by _chunks
            tokens = sum(min(encoder.count_tokens(c.dense_text), encoder.max_tokens) for c in chunks)
            sparse = [] if options.dry_run else [document_vector(c.embed_text) for c in chunks]
            symbols = None if options.dry_run or not chunks else file_symbols(entry.path, data, chunks[0].language, chunks)
            yield _FileWork(entry, *version, chunks, sparse, tokens, old, empty=not chunks, symbols=symbols)

    def _write(self, inbox: queue.Queue) -> None:
        """The writer thread: each window off `inbox` written (`_write_window`) until DONE."""
        while (item := inbox.get()) is not DONE:
            self._write_window(*item)

    def _write_window(self, window: list[_FileWork], encoded: tuple[np.ndarray, list[str] | None] | None) -> None:
        """Upsert the window's points unpublished, then publish the new versions and retire the
        ones they replace in one step (see the module docstring for why a kill is safe)."""
        store, collection, root, report, tick = self.store, self.options.collection, self.root, self.report, self.tick
        points: list[PointData] = []
        row = 0
        stamp = utc_stamp()  # indexed_at of every record written now (a window holds whole files)
        dense, signatures = encoded if encoded is not None else (None, None)
        for work in window:
            for i, (chunk, sparse) in enumerate(zip(work.chunks, work.sparse, strict=True)):
                payload = _payload(root, work, chunk, i, stamp)
                if signatures is not None and chunk.kind == DOC and signatures[row]:
                    payload[P.TOKEN_SIGNS] = signatures[row]
                points.append(PointData(point_id(root, chunk.path, work.version, i), dense[row].tolist(), sparse, payload))
                row += 1
            if work.empty:
                points.append(empty_record(root, work, stamp))
            if work.symbols is not None:  # published and retired with the chunks, by the same filters
                points.append(symbols_record(root, work, stamp))
        if points:
            store.upsert(collection, points)
        published = [w for w in window if w.chunks or w.empty]
        written = {p.id for p in points}  # never retire what was just written, whatever the ids
        stale = [i for w in window if w.old for i in w.old.ids_besides(w.version) if i not in written]
        # One step for searches: the new versions appear and the ones they replace go together.
        if published:
            new_versions = Filters(
                roots=[root],
                paths=[w.entry.path for w in published],
                file_hashes=sorted({w.file_hash for w in published}),
                visible=False,
            )
            store.publish(collection, new_versions, stale)
        elif stale:
            store.delete(collection, ids=stale)
        for work in window:
            report.record(work.entry.path, work.old, len(work.chunks), work.tokens, rechunked=work.rechunked)
            report.chunks_removed += replaced_chunks(root, work.entry.path, work.old, work.version)
        tick(files=len(window), written=sum(len(w.chunks) for w in window))  # chunks: not the files' records


def _chunks(entry: FileEntry, data: bytes, slot: EncoderSlot, options: IngestOptions) -> list[Chunk] | Skipped:
    """The file's chunks; a Skipped if it is not UTF-8 text, or holds a secret: then none of it
    is indexed (see secrets.py). Text is checked before it is chunked, so skipping it loads no
    model; a PDF is checked in the text its chunks took out of it."""
    if not wants_bytes(entry.path):
        text = data.decode("utf-8-sig", "replace")  # once, for both checks
        if (found := find_secret_in_file(entry.path, text)) is not None:
            return Skipped(entry.path, found.reason())
        if why := data_like(entry.path, text):
            return Skipped(entry.path, why)  # data or generated text (datalike.py)
    encoder = slot.get()
    try:
        chunks = chunk_file(
            entry.path,
            data,
            count_tokens=encoder.count_tokens,
            max_tokens=chunk_budget(encoder, options.chunk_tokens),
            overlap_tokens=options.chunk_overlap,
        )
    except UnicodeDecodeError:
        return Skipped(entry.path, "not UTF-8 text")
    for chunk in chunks if wants_bytes(entry.path) else ():
        if (found := find_secret_in_file(entry.path, chunk.text)) is not None:
            return Skipped(entry.path, replace(found, line=chunk.start_line + found.line - 1).reason())
    return chunks


def _load(entry: FileEntry, *, options: WalkOptions) -> bytes | Skipped:
    """The file's bytes if it is something we can chunk: UTF-8 text, or a PDF."""
    data = read_bytes(entry, options.max_file_bytes)
    if isinstance(data, Skipped) or wants_bytes(entry.path):
        return data
    text = decode_text(data, entry.path)
    return text if isinstance(text, Skipped) else data


def _windows(works: Iterator[_FileWork], size: int) -> Iterator[list[_FileWork]]:
    """Whole files grouped into windows of about `size` chunks. The first windows are small so
    the encoder starts at once instead of waiting for the chunker to fill a full window."""
    window: list[_FileWork] = []
    count = 0
    target = min(size, FIRST_WINDOW_CHUNKS)
    for work in works:
        window.append(work)
        count += len(work.chunks)
        if count >= target:
            yield window
            window, count = [], 0
            target = min(size, target * 4)
    if window:
        yield window


def replaced_chunks(root: str, path: str, old: FileState | None, version: Version | None = None) -> int:
    """How many chunks a write of `version` (None: the file's removal) retires from `old`: its ids
    less each version's symbols record, whose id is known (`point_id` at SYMBOLS_INDEX). This is
    the count a person reads ("N chunk(s) removed"), so records that are no chunk stay out of it."""
    if old is None:
        return 0
    retired = old.ids_besides(version)
    records = {point_id(root, path, v, SYMBOLS_INDEX) for v in old.versions - {version}}
    return len(retired) - len(records.intersection(retired))


def empty_record(root: str, work: _FileWork, stamp: str | None = None) -> PointData:
    """The point that records a file with no chunk, so the next run knows it as it knows any file
    (by stat, then hash) and does not read it again. It has no vectors, so no search finds it; it
    is published, replaced and removed like a file's chunks. Its id is the one chunk 0 would have."""
    path = work.entry.path
    chunk = Chunk(path=path, language="", kind=EMPTY_KIND, symbol="", start_line=0, end_line=0, text="")
    return PointData(point_id(root, path, work.version, 0), [], SparseVec([], []), _payload(root, work, chunk, 0, stamp))


def symbols_record(root: str, work: _FileWork, stamp: str | None = None) -> PointData:
    """The point that holds a code file version's symbols (symbols/record.py): a record of the
    version like its chunks', so it is published, replaced and removed with them."""
    path = work.entry.path
    chunk = Chunk(path=path, language=work.chunks[0].language, kind=SYMBOLS_KIND, symbol="", start_line=0, end_line=0,
                  text="")
    ids = [point_id(root, path, work.version, i) for i in range(len(work.chunks))]
    base = _payload(root, work, chunk, SYMBOLS_INDEX, stamp)
    return symbols_point(point_id(root, path, work.version, SYMBOLS_INDEX), base, work.symbols, ids)


def _payload(root: str, work: _FileWork, chunk: Chunk, index: int, stamp: str | None) -> dict:
    """Every record of a file version carries its stat, hash and `indexed_at` (`stamp`): the manifest
    reads chunk 0's, a search hit its own (to tell whether its file changed on disk since)."""
    return ChunkRecord(
        root=root,
        path=chunk.path,
        language=chunk.language,
        kind=chunk.kind,
        symbol=chunk.symbol,
        start_line=chunk.start_line,
        end_line=chunk.end_line,
        text=chunk.text,
        chunk_index=index,
        header=chunk.header,
        page=chunk.page,
        file_hash=work.file_hash,
        chunking=work.chunking,
        file_size=work.entry.size,
        file_mtime_ns=work.entry.mtime_ns,
        indexed_at=stamp,
    ).to_payload()


class _Ticker:
    def __init__(self, progress, total: int) -> None:
        self._progress, self._state, self._lock = progress, IngestProgress(0, total, 0, 0), threading.Lock()

    def __call__(self, files: int = 0, encoded: int = 0, written: int = 0) -> None:
        with self._lock:
            s = self._state
            self._state = IngestProgress(
                s.files_done + files, s.files_total, s.chunks_encoded + encoded, s.chunks_written + written
            )
            if self._progress:
                self._progress(self._state)
