"""An ingest of a few files runs its stages on the caller's thread (pipeline INLINE_FILES) and must
leave the store, the manifest and the report exactly as the threaded pipeline does: the same
points and payloads, the same vectors, the same incremental answers (unchanged, changed, removed,
skipped for a secret), on the real encoder and the embedded store."""

from __future__ import annotations

import dataclasses
import threading

import pytest

from groundmcp.ingest.manifest import load_manifest
from groundmcp.ingest.pipeline import INLINE_FILES, IngestOptions, TextInput, ingest_path, ingest_texts
from groundmcp.record import TEXTS_ROOT, P
from groundmcp.store.base import Filters
from groundmcp.store.factory import open_store

AWS_KEY = "AKIA" + "Q3EGRT7XN2LBCD5H"
CODE = "def parse_currency(text):\n    return float(text.strip('$'))\n\n\nclass Ledger:\n    def total(self):\n        return 0\n"
NOTE = "Retries back off exponentially, doubling the wait each time up to a minute."
NOTE2 = "The cache keeps query vectors for ten minutes; a changed model empties it."
FIELDS = [v for k, v in vars(P).items() if k.isupper() and v != P.INDEXED_AT]
PROBES = ("how do retries back off", "parse a currency amount", "what does the cache keep")


@pytest.fixture
def two_stores(tmp_path):
    """Two fresh embedded stores: one ingested inline, one through the threads."""
    stores = [open_store(data_dir=tmp_path / name, qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
              for name in ("inline", "threads")]
    yield stores
    for s in stores:
        s.close()


def _options(inline: bool, **kw) -> IngestOptions:
    return IngestOptions(collection="notes", inline_files=INLINE_FILES if inline else 0, **kw)


def _points(store) -> dict[str, dict]:
    """Every point (published or not) with its payload, `indexed_at` left out (a clock reading)."""
    return {i: {k: v for k, v in p.items() if k != P.INDEXED_AT} for i, p in store.scroll("notes", None, FIELDS)}


def _ranked(store, encoder) -> list[list[tuple[str, float]]]:
    """Each probe's dense hits over every chunk, with scores: equal lists mean equal vectors."""
    return [
        [(h.id, round(h.score, 6)) for h in store.query(
            "notes", dense=encoder.encode_query(q).tolist(), sparse=None, mode="dense", limit=100)]
        for q in PROBES
    ]


def _same(stores, encoder, root: str, reports) -> None:
    inline, threaded = reports
    assert _points(stores[0]) == _points(stores[1])
    assert _ranked(stores[0], encoder) == _ranked(stores[1], encoder)
    manifests = [load_manifest(s, "notes", root) for s in stores]
    assert manifests[0] == manifests[1]
    keep = ("seconds", "encode_seconds", "root")
    assert dataclasses.replace(inline, **{k: getattr(threaded, k) for k in keep}) == threaded


def _started_threads(fn):
    """fn()'s result, and the names of the threads started while it ran."""
    seen: set[str] = set()
    original = threading.Thread.start

    def start(self):
        seen.add(self.name)
        return original(self)

    threading.Thread.start = start
    try:
        result = fn()
    finally:
        threading.Thread.start = original
    return result, seen


def test_a_few_texts_ingest_inline_and_match_the_threaded_pipeline(two_stores, real_encoder):
    def both(docs, **kw):
        return [ingest_texts(docs, store=s, encoder=real_encoder, options=_options(inline, **kw))
                for s, inline in zip(two_stores, (True, False), strict=True)]

    first = [TextInput("note-1", NOTE), TextInput("money", CODE, path="src/money.py")]
    reports = both(first)
    assert [len(r.added) for r in reports] == [2, 2] and reports[0].chunks >= 2
    _same(two_stores, real_encoder, TEXTS_ROOT, reports)

    # one unchanged, one changed, one new holding a secret (skipped, nothing of it indexed)
    second = [TextInput("note-1", NOTE), TextInput("money", CODE + "\n# rounded to cents\n", path="src/money.py"),
              TextInput("creds", f"aws_access_key_id = {AWS_KEY}\n")]
    reports = both(second)
    assert reports[0].unchanged == 1 and reports[0].changed == ["src/money.py"]
    assert [s.path for s in reports[0].skipped] == ["creds"] and reports[0].chunks_removed >= 1
    _same(two_stores, real_encoder, TEXTS_ROOT, reports)

    dry = both([TextInput("note-2", NOTE2)], dry_run=True)
    assert dry[0].added == ["note-2"] and dry[0].chunks == 1
    _same(two_stores, real_encoder, TEXTS_ROOT, dry)
    assert "note-2" not in {p[P.PATH] for p in _points(two_stores[0]).values()}


def test_a_small_folder_ingest_inline_matches_the_threaded_pipeline(tmp_path, two_stores, real_encoder):
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "money.py").write_text(CODE)
    (root / "README.md").write_text(f"# Notes\n\n{NOTE}\n\n{NOTE2}\n")
    (root / "empty.txt").write_text("")

    def both():
        return [ingest_path(str(root), store=s, encoder=real_encoder, options=_options(inline))
                for s, inline in zip(two_stores, (True, False), strict=True)]

    reports = both()
    assert sorted(reports[0].added) == ["README.md", "src/money.py"] and reports[0].empty == ["empty.txt"]
    _same(two_stores, real_encoder, str(root.resolve()), reports)

    (root / "README.md").write_text(f"# Notes\n\n{NOTE2}\n")
    (root / "src" / "money.py").unlink()
    reports = both()
    assert reports[0].changed == ["README.md"] and reports[0].removed == ["src/money.py"]
    _same(two_stores, real_encoder, str(root.resolve()), reports)


def test_inline_runs_start_no_pipeline_threads_and_larger_ones_do(edge_store, hashing_encoder):
    """A one-note ingest starts no thread of its own (the hashing encoder starts none either);
    an ingest of more files than INLINE_FILES still runs the preparer and the writer."""
    def ingest(n: int, start: int):
        docs = [TextInput(f"n{start + i}", f"{NOTE} ({start + i})") for i in range(n)]
        return ingest_texts(docs, store=edge_store, encoder=hashing_encoder, options=IngestOptions(collection="notes"))

    report, started = _started_threads(lambda: ingest(1, 0))
    assert report.added == ["n0"] and started == set()
    report, started = _started_threads(lambda: ingest(INLINE_FILES + 1, 10))
    assert len(report.added) == INLINE_FILES + 1 and len(started) == 2


def test_a_failure_inline_is_raised_and_publishes_nothing(edge_store, hashing_encoder):
    """An encoder that fails mid-run: the error reaches the caller, nothing of the run is
    searchable, and the next run writes the note."""
    class Failing(type(hashing_encoder)):
        def encode_documents(self, texts, on_batch=None):
            raise RuntimeError("encoder failed")

    failing = Failing(dim=hashing_encoder.dim)
    failing.name = hashing_encoder.name
    options = IngestOptions(collection="notes")
    ingest_texts([TextInput("a", NOTE)], store=edge_store, encoder=hashing_encoder, options=options)
    with pytest.raises(RuntimeError, match="encoder failed"):
        ingest_texts([TextInput("b", NOTE2)], store=edge_store, encoder=failing, options=options)
    assert edge_store.count("notes", Filters(paths=["b"])) == 0
    report = ingest_texts([TextInput("b", NOTE2)], store=edge_store, encoder=hashing_encoder, options=options)
    assert report.added == ["b"]
