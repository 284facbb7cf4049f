"""Ingest and symbols together: every count a person reads counts chunks only (a code file's symbols
record is no chunk), an index built before symbols existed gets its records on the next ingest
without a chunk encoded, published like chunks (a kill leaves none visible), and records written by
an older extractor are re-extracted in place the same way (a kill leaves the old or the new one)."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundmcp.engine import Engine
from groundmcp.ingest import pipeline
from groundmcp.ingest.manifest import load_ids, load_manifest
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.record import SYMBOLS_KIND, P
from groundmcp.settings import Settings
from groundmcp.store.base import Filters
from groundmcp.symbols import find, neighbours, record
from groundmcp.symbols.extract import VERSIONS
from groundmcp.symbols.record import REFS, SYMBOL_KEYS, VERSION, references_of

from .test_ingest import CountingEncoder
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


def full_records(store) -> dict[str, tuple[str, dict]]:
    """path -> (id, payload) of each symbols record, visible or not."""
    fields = [P.PATH, P.VISIBLE, P.LANGUAGE, P.FILE_HASH, VERSION, SYMBOL_KEYS, REFS]
    return {p[P.PATH]: (i, p) for i, p in store.scroll("t", Filters(kinds=[SYMBOLS_KIND]), fields)}


def chunk_points(store) -> dict[str, dict]:
    """id -> payload of every point that is no symbols record (chunks, the README's too)."""
    return {i: p for i, p in store.scroll("t", None, [P.PATH, P.KIND, P.FILE_HASH, P.START_LINE, P.VISIBLE,
                                                     P.INDEXED_AT, P.CHUNKING])
            if p[P.KIND] != SYMBOLS_KIND}


def old_python_extractor(monkeypatch, how: str) -> None:
    """Ingest as an older Python extractor would have: it found no imports, and its records carry
    the version before this one (`older`) or none at all (`unversioned`: written before versions)."""
    real_symbols, real_payload = pipeline.file_symbols, record.symbols_payload

    def no_imports(path, data, language, chunks):
        found = real_symbols(path, data, language, chunks)
        if found is not None and language == "python":
            found.references = [r for r in found.references if r.kind != "import"]
        return found

    def unversioned(base, symbols, ids):
        payload = real_payload(base, symbols, ids)
        if symbols.language == "python":
            del payload[VERSION]
            payload[SYMBOL_KEYS] = [k for k in payload[SYMBOL_KEYS] if not k.startswith("v:")]
        return payload

    monkeypatch.setattr(pipeline, "file_symbols", no_imports)
    if how == "older":
        monkeypatch.setitem(VERSIONS, "python", VERSIONS["python"] - 1)
    else:
        monkeypatch.setattr(record, "symbols_payload", unversioned)


PY_FILES = {"pkg/models.py", "pkg/view.py", "other/measure.py"}


@pytest.mark.parametrize("how", ["older", "unversioned"])
def test_records_of_an_older_extractor_are_re_extracted_on_the_next_ingest_with_nothing_encoded(
    store, hashing_encoder, tmp_path, monkeypatch, how
):
    root = write(tmp_path / "proj")
    old_python_extractor(monkeypatch, how)
    ingest(store, hashing_encoder, root)
    monkeypatch.undo()
    before, chunks = full_records(store), chunk_points(store)
    assert not any(r.kind == "import" for r in references_of(before["pkg/view.py"][1]))
    assert all(before[p][1].get(VERSION) != VERSIONS["python"] for p in PY_FILES)

    enc = CountingEncoder(hashing_encoder)
    report = ingest(store, enc, root)
    assert enc.encoded == report.chunks == 0 and report.unchanged == 6 and not (report.added or report.changed)
    assert report.symbols_backfilled == len(PY_FILES)  # JavaScript's records are current: left alone
    after = full_records(store)
    assert chunk_points(store) == chunks  # the same chunks, ids and payloads: nothing re-chunked
    # Each record replaced in place: the same id, visible, of the current version, with what the
    # extractor now finds (the imports), and nothing else of the file's version changed.
    assert {p: i for p, (i, _) in after.items()} == {p: i for p, (i, _) in before.items()}
    assert all(after[p][1][P.VISIBLE] and after[p][1][VERSION] == VERSIONS["python"] for p in PY_FILES)
    assert {r.qualifier for r in references_of(after["pkg/view.py"][1]) if r.kind == "import"} == {".models"}
    assert all(after[p] == before[p] for p in CODE_FILES - PY_FILES)
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND])) == len(CODE_FILES)
    view = find(store, "t", "render")[0]
    assert {x.path for x in neighbours(store, "t", find(store, "t", "Row")[0]).importers} >= {view.path}

    again = ingest(store, CountingEncoder(hashing_encoder), root)
    assert again.symbols_backfilled == 0 and again.chunks == 0 and full_records(store) == after


def test_a_killed_re_extraction_leaves_each_file_its_old_record_or_its_new_one(store, hashing_encoder, tmp_path,
                                                                             monkeypatch):
    root = write(tmp_path / "proj")
    old_python_extractor(monkeypatch, "older")
    ingest(store, hashing_encoder, root)
    monkeypatch.undo()
    before = full_records(store)

    class Killed(Exception):
        pass

    real_upsert = store.upsert

    def die_after_one(name, points):  # the store took the batch's first record, then the process died
        real_upsert(name, points[:1])
        raise Killed

    store.upsert = die_after_one
    with pytest.raises(Killed):
        ingest(store, hashing_encoder, root)
    store.upsert = real_upsert
    half = full_records(store)
    assert set(half) == CODE_FILES and all(p[P.VISIBLE] for _, p in half.values())  # none lost
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND])) == len(CODE_FILES)  # none doubled
    new = {p for p in PY_FILES if half[p][1][VERSION] == VERSIONS["python"]}
    assert len(new) == 1 and all(half[p] == before[p] for p in PY_FILES - new)

    report = ingest(store, hashing_encoder, root)
    assert report.symbols_backfilled == len(PY_FILES) - 1 and report.chunks == 0
    after = full_records(store)
    assert all(after[p][1][VERSION] == VERSIONS["python"] and after[p][1][P.VISIBLE] for p in PY_FILES)
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND])) == len(CODE_FILES)
