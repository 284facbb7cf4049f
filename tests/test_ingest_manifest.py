"""The manifest read one row per file, chunk ids read only for what changes, files with no chunk
recorded, and an encoder that is loaded only when a file needs chunking. Real stores (both
backends), the real pipeline, the hashing encoder."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from groundmcp import chunking
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.errors import IncompatibleCollection
from groundmcp.ingest import manifest as manifest_module
from groundmcp.ingest import pipeline
from groundmcp.ingest.manifest import load_ids, load_manifest
from groundmcp.ingest.model import LazyEncoder
from groundmcp.ingest.pipeline import IngestOptions, ingest_path, ingest_texts
from groundmcp.record import EMPTY_KIND
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings
from groundmcp.sparse import query_vector
from groundmcp.store.base import Filters
from groundmcp.store.factory import open_store

from .test_ingest import CountingEncoder, snapshot


class RowCountingStore:
    """A real store that counts the rows its scrolls yield (everything else passes through)."""

    def __init__(self, inner) -> None:
        self.inner, self.rows = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def scroll(self, *args, **kwargs):
        for row in self.inner.scroll(*args, **kwargs):
            self.rows += 1
            yield row


class Loads:
    """An encoder factory that counts how often it is called."""

    def __init__(self, encoder) -> None:
        self.encoder, self.count = encoder, 0

    def __call__(self, *_args):
        self.count += 1
        return self.encoder


def run(store, encoder, root, **kw):
    return ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t", **kw))


def write_modules(root: Path, count: int, functions: int = 6) -> None:
    """Python files of several chunks each."""
    for i in range(count):
        body = "".join(
            f"def f{i}_{j}(x):\n    '''Step {j} of {i}.'''\n    return x * {j} + {i}\n\n\n" for j in range(functions)
        )
        (root / "src" / f"mod{i}.py").write_text(body)


def clean_snapshot(tmp_path: Path, project: Path, encoder, **kw) -> dict:
    """The points a fresh ingest of `project` makes, for comparing with a converged index."""
    fresh = open_store(data_dir=tmp_path / "fresh", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
    try:
        run(fresh, encoder, project, **kw)
        return snapshot(fresh)
    finally:
        fresh.close()


# -- one row per file -----------------------------------------------------------------------


def test_manifest_reads_one_row_per_file_and_ids_only_for_what_changes(store, project, hashing_encoder):
    write_modules(project, 4)
    run(store, hashing_encoder, project)
    root = str(project.resolve())
    files = 7
    chunks = store.count("t", Filters(roots=[root]))
    assert chunks > 2 * files  # multi-chunk files, or the test proves nothing

    counting = RowCountingStore(store)
    lean = load_manifest(counting, "t", root, ids=False)
    assert counting.rows == files == len(lean)
    assert all(len(s.versions) == 1 and not s.ids_loaded for s in lean.values())
    with pytest.raises(RuntimeError, match="load_ids"):
        _ = lean["src/mod0.py"].ids
    full = load_manifest(store, "t", root, ids=True)
    assert {p: s.versions for p, s in lean.items()} == {p: s.versions for p, s in full.items()}
    assert {p: (s.size, s.mtime_ns) for p, s in lean.items()} == {p: (s.size, s.mtime_ns) for p, s in full.items()}
    load_ids(store, "t", root, lean, ["src/mod1.py"])
    assert lean["src/mod1.py"].ids_by_version == full["src/mod1.py"].ids_by_version

    counting.rows = 0
    report = run(counting, hashing_encoder, project)
    assert report.chunks == 0 and report.unchanged == files and counting.rows == files

    mod2 = project / "src" / "mod2.py"
    old_mod2 = store.count("t", Filters(paths=["src/mod2.py"]))
    mod2.write_text(mod2.read_text() + "\n\ndef extra(x):\n    return -x\n")
    counting.rows = 0
    report = run(counting, hashing_encoder, project)
    assert report.changed == ["src/mod2.py"] and report.chunks_removed == old_mod2 - 1  # less its symbols record
    assert counting.rows == files + old_mod2  # the manifest, then the ids of the one changed file


def test_changed_and_removed_files_lose_their_old_chunks_across_id_batches(
    store, project, hashing_encoder, tmp_path, monkeypatch
):
    monkeypatch.setattr(manifest_module, "IDS_BATCH", 2)  # several scrolls for the ids
    write_modules(project, 6)
    run(store, hashing_encoder, project)
    for i in (0, 2, 3):
        path = project / "src" / f"mod{i}.py"
        path.write_text(path.read_text().replace("Step", "Stage"))
    os.utime(project / "src" / "mod4.py", ns=(1, 1))  # touched, same content
    (project / "src" / "mod5.py").unlink()
    (project / "docs" / "guide.md").unlink()
    report = run(store, hashing_encoder, project)
    assert sorted(report.changed) == ["src/mod0.py", "src/mod2.py", "src/mod3.py"]
    assert report.removed == ["docs/guide.md", "src/mod5.py"]
    assert snapshot(store) == clean_snapshot(tmp_path, project, hashing_encoder)


class RetireNothing:
    """A real store whose publish forgets to delete the versions it replaces: what a kill between
    the two steps leaves (two whole, published versions of a file)."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def publish(self, name, filters, retire=(), *, visible=True):
        self.inner.publish(name, filters, (), visible=visible)


@pytest.mark.parametrize("then", ["unchanged", "changed again", "reverted"])
def test_an_interrupted_swap_converges(store, project, hashing_encoder, tmp_path, then):
    write_modules(project, 2)
    run(store, hashing_encoder, project)
    mod0 = project / "src" / "mod0.py"
    first = mod0.read_text()
    mod0.write_text(first.replace("Step", "Stage"))
    run(RetireNothing(store), hashing_encoder, project)
    shown = {v[1] for v in snapshot(store).values() if v[0] == "src/mod0.py" and v[3]}
    assert len(shown) == 2  # both versions published, whole

    if then == "changed again":
        mod0.write_text(first.replace("Step", "Phase"))
    elif then == "reverted":
        mod0.write_text(first)
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    assert report.changed == ["src/mod0.py"]
    assert enc.encoded == (report.chunks if then == "changed again" else 0)
    assert snapshot(store) == clean_snapshot(tmp_path, project, hashing_encoder)
    assert run(store, hashing_encoder, project).unchanged == 5


# -- a new chunker or chunk size reaches files that did not change -----------------------------


def test_a_new_chunk_size_rechunks_unchanged_files(store, project, hashing_encoder, tmp_path):
    write_modules(project, 3)
    big, small = {"chunk_tokens": 128, "chunk_overlap": 16}, {"chunk_tokens": 24, "chunk_overlap": 4}
    run(store, hashing_encoder, project, **big)
    before = snapshot(store)
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project, **small)
    assert sorted(report.changed) == sorted({p for p, *_ in before.values()}) and report.rechunked == 6
    assert not report.added and not report.removed and enc.encoded == report.chunks
    after = snapshot(store)
    assert len(after) > len(before)  # smaller chunks: more of them, or the test proves nothing
    assert after == clean_snapshot(tmp_path, project, hashing_encoder, **small)
    again = run(store, enc, project, **small)
    assert again.unchanged == 6 and again.chunks == 0 and again.rechunked == 0


def test_a_new_chunker_version_rechunks_only_its_family(store, project, hashing_encoder, tmp_path, monkeypatch):
    run(store, hashing_encoder, project)
    code_before = {k: v for k, v in snapshot(store).items() if not v[0].endswith(".md")}
    monkeypatch.setitem(chunking.CHUNKER_VERSIONS, "prose", chunking.CHUNKER_VERSIONS["prose"] + 1)
    report = run(store, hashing_encoder, project)
    assert report.changed == ["docs/guide.md"] and report.rechunked == 1 and report.unchanged == 2
    after = snapshot(store)
    assert {k: v for k, v in after.items() if not v[0].endswith(".md")} == code_before  # not touched
    assert after == clean_snapshot(tmp_path, project, hashing_encoder)


def test_an_index_from_before_chunking_keys_rechunks_only_prose(store, project, hashing_encoder, tmp_path, monkeypatch):
    """An index written before the key was stored is taken as made by each chunker's first
    version: with the code chunker still at its first version for Python, its Python chunks are
    kept, its prose and JavaScript (chunkers past their first) are chunked again once, then all is
    left alone."""
    def versions():  # the case this test is about
        monkeypatch.setitem(chunking.CHUNKER_VERSIONS, "code", 1)
        monkeypatch.setitem(chunking.CHUNKER_VERSIONS, "prose", 2)
        monkeypatch.setitem(chunking.LANGUAGE_VERSIONS, "javascript", 2)

    versions()
    payload = pipeline._payload
    monkeypatch.setattr(pipeline, "_payload", lambda *a: {k: v for k, v in payload(*a).items() if k != "chunking"})
    # The ids of that time: root, path, content hash and chunk number.
    monkeypatch.setattr(pipeline, "point_id", lambda root, path, version, i: str(
        uuid.uuid5(pipeline._ID_NAMESPACE, f"{root}\0{path}\0{version[0]}\0{i}")))
    run(store, hashing_encoder, project)
    monkeypatch.undo()
    versions()
    old = snapshot(store)
    assert all("chunking" not in p for _, p in store.scroll("t", None, ["chunking", "path"]))

    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    redone = ["docs/guide.md", "src/retry.js"]
    assert report.changed == redone and report.rechunked == 2 and report.unchanged == 1
    assert enc.encoded == report.chunks == store.count("t", Filters(paths=redone, kinds=["code", "doc"]))
    now = snapshot(store)
    assert {k: v for k, v in now.items() if v[0] not in redone} == {k: v for k, v in old.items() if v[0] not in redone}
    # Ids aside (the kept code chunks have the ids of their time), the index is a clean one.
    assert sorted(now.values()) == sorted(clean_snapshot(tmp_path, project, hashing_encoder).values())
    assert run(store, hashing_encoder, project).unchanged == 3


class PublishFails:
    """A real store whose publish fails: a run killed after writing a new version, before showing it."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def publish(self, *args, **kwargs):
        raise RuntimeError("simulated kill before publish")


def test_a_rechunk_killed_before_publish_keeps_the_indexed_version(store, project, hashing_encoder, tmp_path):
    """The new chunks of a re-chunked file have ids of their own: until they are published they
    neither overwrite nor hide the version that searches see."""
    run(store, hashing_encoder, project)
    shown = {k: v for k, v in snapshot(store).items() if v[3]}
    small = {"chunk_tokens": 24, "chunk_overlap": 4}
    with pytest.raises(RuntimeError, match="simulated kill"):
        run(PublishFails(store), hashing_encoder, project, **small)
    assert {k: v for k, v in snapshot(store).items() if v[3]} == shown
    assert store.count("t", Filters(visible=False)) > 0  # the new version was written, unpublished
    run(store, hashing_encoder, project, **small)
    assert snapshot(store) == clean_snapshot(tmp_path, project, hashing_encoder, **small)


# -- files that give no chunk ---------------------------------------------------------------


def test_a_file_with_no_chunk_is_recorded_and_not_read_again(store, project, hashing_encoder):
    (project / "src" / "__init__.py").write_text("")
    (project / "docs" / "blank.html").write_text("<html><head><title></title></head><body> </body></html>")
    first = run(store, hashing_encoder, project)
    assert sorted(first.empty) == ["docs/blank.html", "src/__init__.py"]
    records = dict(store.scroll("t", Filters(kinds=[EMPTY_KIND]), ["path", "visible", "chunk_index"]))
    assert sorted(p["path"] for p in records.values()) == ["docs/blank.html", "src/__init__.py"]
    assert all(p["visible"] and p["chunk_index"] == 0 for p in records.values())
    # No search finds them: they have no vectors.
    dense, sparse = [float(x) for x in hashing_encoder.encode_query("blank init html")], query_vector("blank init html")
    for mode in ("dense", "sparse", "hybrid"):
        hits = store.query("t", dense=dense, sparse=sparse, mode=mode, limit=100, filters=Filters(visible=True))
        assert hits and not set(records) & {h.id for h in hits}

    enc = CountingEncoder(hashing_encoder)
    again = run(store, enc, project)
    assert again.unchanged == 5 and not again.empty and not again.changed and enc.encoded == 0

    (project / "src" / "__init__.py").write_text("from .billing import InvoiceCalculator\n")
    (project / "docs" / "blank.html").unlink()
    third = run(store, hashing_encoder, project)
    assert third.changed == ["src/__init__.py"] and third.removed == ["docs/blank.html"]
    assert not dict(store.scroll("t", Filters(kinds=[EMPTY_KIND]), ["path"]))
    assert store.count("t", Filters(paths=["src/__init__.py"], visible=True, kinds=["code"])) == third.chunks >= 1


# -- the encoder is loaded only when a file needs it ----------------------------------------


@pytest.fixture
def lazy_engine(tmp_path, monkeypatch):
    """(make engine, loads): engines whose model comes from a counting factory, as in a fresh
    process each (the hashing encoder stands in for the model; its name is the settings' model)."""
    import groundmcp.encoders.factory as factory

    loads = Loads(HashingEncoder(dim=64))
    monkeypatch.setattr(factory, "load_encoder", loads)
    engines: list[Engine] = []

    def make() -> Engine:
        while engines:
            engines.pop().close()
        engines.append(Engine(Settings(data_dir=tmp_path / "data", model="hashing-64")))
        return engines[-1]

    yield make, loads
    for engine in engines:
        engine.close()


def test_an_unchanged_ingest_never_loads_the_encoder(lazy_engine, project):
    make, loads = lazy_engine
    (project / "src" / "__init__.py").write_text("")
    first = make().ingest(str(project))
    assert loads.count == 1 and len(first.added) == 3 and first.empty == ["src/__init__.py"]

    assert make().ingest(str(project)).unchanged == 4 and loads.count == 1
    os.utime(project / "src" / "retry.js", ns=(1, 1))  # touched: hashed, not chunked
    (project / "docs" / "guide.md").unlink()  # removed: deleted, not chunked
    report = make().ingest(str(project))
    assert report.unchanged == 3 and report.removed == ["docs/guide.md"] and loads.count == 1
    engine = make()
    assert engine.ingest(str(project), dry_run=True).chunks == 0 and loads.count == 1

    (project / "src" / "billing.py").write_text("def changed():\n    return 2\n")
    engine = make()
    report = engine.ingest(str(project))
    assert report.changed == ["src/billing.py"] and report.chunks > 0 and loads.count == 2
    assert engine.search(SearchRequest(query="changed", top_k=1))[0].path == "src/billing.py"
    assert engine.stats("default").files == 2  # the empty file's record is no file of the stats

    texts = [("a", "alpha text"), ("b", "beta text")]
    assert make().ingest_texts(texts).chunks == 2 and loads.count == 3
    assert make().ingest_texts(texts).unchanged == 2 and loads.count == 3


def test_a_lazy_encoder_is_checked_against_the_collection(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    before = snapshot(store)
    other = Loads(HashingEncoder(dim=32))
    with pytest.raises(IncompatibleCollection, match=r"hashing-64 \(64-d vectors\).*hashing-32 \(32-d\)"):
        run(store, LazyEncoder("hashing-32", other), project)
    assert other.count == 1  # loaded to name its dimension in the message
    assert snapshot(store) == before

    # Named like the collection's model, but another dimension: refused when it loads, before
    # anything is written.
    impostor = Loads(HashingEncoder(dim=32))
    impostor.encoder.name = "hashing-64"
    assert run(store, LazyEncoder("hashing-64", impostor), project).unchanged == 3 and impostor.count == 0
    (project / "src" / "retry.js").write_text("export const changed = 1;\n")
    with pytest.raises(IncompatibleCollection, match=r"64-d vectors.*32-d"):
        run(store, LazyEncoder("hashing-64", impostor), project)
    assert impostor.count == 1 and snapshot(store) == before


def test_texts_ingest_loads_no_encoder_when_nothing_changed(store, hashing_encoder):
    opts = IngestOptions(collection="t")
    docs = [("a", "alpha paragraph."), ("empty", ""), ("b", "beta paragraph.")]
    first = ingest_texts(docs, store=store, encoder=hashing_encoder, options=opts)
    assert first.empty == ["empty"] and first.chunks == 2
    loads = Loads(hashing_encoder)
    again = ingest_texts(docs, store=store, encoder=LazyEncoder("hashing-64", loads), options=opts)
    assert again.unchanged == 3 and loads.count == 0
