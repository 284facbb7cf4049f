"""Ingest and symbols together: every count a person reads counts chunks only (a code file's symbols
record is no chunk), and an index built before symbols existed gets its records on the next ingest
without a chunk encoded, published like chunks (a kill leaves none visible)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundmcp.engine import Engine
from groundmcp.ingest.manifest import load_ids, load_manifest
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.record import SYMBOLS_KIND, P
from groundmcp.settings import Settings
from groundmcp.store.base import Filters
from groundmcp.symbols import find

from .test_symbols_index import MODELS, symbol_records, write

CODE_FILES = {"pkg/models.py", "pkg/view.py", "other/measure.py", "web/util.js", "web/app.js"}


def ingest(store, encoder, root: Path, progress=None):
    return ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t"), progress=progress)


def chunks_of(store, collection: str, path: str) -> int:
    return store.count(collection, Filters(paths=[path], kinds=["code", "doc"], visible=True))


def test_replaced_and_removed_counts_and_progress_count_chunks_only(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    seen = []
    first = ingest(store, hashing_encoder, root, seen.append)
    assert seen[-1].chunks_written == first.chunks  # the five symbols records are not chunks written
    models, measure = chunks_of(store, "t", "pkg/models.py"), chunks_of(store, "t", "other/measure.py")
    assert models and measure
    (root / "pkg" / "models.py").write_text(MODELS + "\n\ndef extra():\n    return 2\n")
    (root / "other" / "measure.py").unlink()
    report = ingest(store, hashing_encoder, root)
    assert report.changed == ["pkg/models.py"] and report.removed == ["other/measure.py"]
    assert report.chunks_removed == models + measure
    dry = ingest_path(str(root), store=store, encoder=hashing_encoder,
                      options=IngestOptions(collection="t", dry_run=True))
    assert dry.chunks_removed == 0  # nothing changed since


def test_engine_counts_of_deleted_and_dropped_files_are_chunks(tmp_path, hashing_encoder):
    root = write(tmp_path / "proj")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        engine.ingest(str(root))
        name = engine.settings.collection
        view, models = chunks_of(engine.store, name, "pkg/view.py"), chunks_of(engine.store, name, "pkg/models.py")
        assert engine.delete_paths(name, ["pkg/view.py"]) == view  # not view + its symbols record
        assert "pkg/view.py" not in symbol_records_of(engine.store, name)
        (root / "pkg" / "models.py").write_bytes(b"\x00\x01binary now")
        dropped = engine.ingest(str(root / "pkg" / "models.py"))  # unreadable now: its chunks go
        assert dropped.skipped[0].reason == "binary file" and dropped.chunks_removed == models
        assert "pkg/models.py" not in symbol_records_of(engine.store, name)
    finally:
        engine.close()


def symbol_records_of(store, collection: str) -> set[str]:
    return {p[P.PATH] for _, p in store.scroll(collection, Filters(kinds=[SYMBOLS_KIND]), [P.PATH])}


def test_an_index_without_symbols_gets_them_on_the_next_ingest_with_nothing_encoded(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    ingest(store, hashing_encoder, root)
    written = symbol_records(store)
    store.delete("t", Filters(kinds=[SYMBOLS_KIND]))  # as an index built before symbols existed
    assert find(store, "t", "measure") == []

    report = ingest(store, hashing_encoder, root)
    assert report.chunks == 0 and report.unchanged == 6 and not (report.added or report.changed)
    assert report.symbols_backfilled == len(CODE_FILES)
    after = symbol_records(store)
    assert set(after) == CODE_FILES and all(p[P.VISIBLE] for p in after.values())
    assert {p: r[P.FILE_HASH] for p, r in after.items()} == {p: r[P.FILE_HASH] for p, r in written.items()}
    found = find(store, "t", "Row.width")
    assert [x.path for x in found] == ["pkg/models.py"] and found[0].definition.chunks
    assert set(found[0].definition.chunks) <= {i for i, _ in store.scroll("t", Filters(paths=["pkg/models.py"]), [])}

    # the record joins its file's version: one version per file, and a change retires it with the chunks
    manifest = load_manifest(store, "t", str(root.resolve()), ids=False)
    load_ids(store, "t", str(root.resolve()), manifest, list(manifest))
    assert all(len(state.versions) == 1 for state in manifest.values())
    assert ingest(store, hashing_encoder, root).symbols_backfilled == 0  # nothing left to add
    (root / "pkg" / "models.py").write_text(MODELS.replace("def measure(x)", "def gauge(x)"))
    again = ingest(store, hashing_encoder, root)
    assert again.changed == ["pkg/models.py"] and again.symbols_backfilled == 0
    assert store.count("t", Filters(paths=["pkg/models.py"], kinds=[SYMBOLS_KIND])) == 1
    assert [x.path for x in find(store, "t", "gauge")] == ["pkg/models.py"]


def test_a_killed_backfill_leaves_no_record_visible_and_the_next_run_writes_them(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    ingest(store, hashing_encoder, root)
    store.delete("t", Filters(kinds=[SYMBOLS_KIND]))

    class Killed(Exception):
        pass

    real_publish = store.publish

    def die(*args, **kwargs):
        raise Killed

    store.publish = die
    with pytest.raises(Killed):
        ingest(store, hashing_encoder, root)
    store.publish = real_publish
    assert find(store, "t", "measure") == []  # upserted, never published
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND], visible=False)) == len(CODE_FILES)
    report = ingest(store, hashing_encoder, root)
    # The killed run's records were dropped first (they are no chunks, so the count of dropped
    # chunks stays 0), then written again and published.
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND], visible=False)) == 0
    assert report.leftovers_dropped == 0 and report.symbols_backfilled == len(CODE_FILES)
    assert report.chunks == 0 and set(symbol_records(store)) == CODE_FILES
