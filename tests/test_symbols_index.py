"""The symbols records through a real ingest, on both store backends: found by name, replaced with a
changed file in the same publish step, gone with a deleted file, never left stale by a killed run,
and invisible to searches, counts and listings."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from groundmcp.engine import Engine
from groundmcp.ingest.manifest import load_manifest
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.record import SYMBOLS_KIND, P
from groundmcp.settings import Settings
from groundmcp.store.base import Filters
from groundmcp.symbols import find, neighbours
from groundmcp.symbols.lookup import resolve

from .conftest import STDLIB_JSON

MODELS = (
    "class Row:\n"
    "    def width(self):\n"
    "        return measure(self)\n"
    "\n"
    "def measure(x):\n"
    "    return len(str(x))\n"
)
VIEW = (
    "from .models import Row, measure as m\n"
    "\n"
    "def render(rows):\n"
    "    return [m(r) for r in rows] + [Row().width()]\n"
)
OTHER = "def measure(y):\n    return 0\n"
UTIL_JS = "export function measure(s) { return s.length; }\nexport const pad = (s) => measure(s) + 1;\n"
APP_JS = "import { measure as size } from './util';\nfunction main() { return size('x'); }\n"


def write(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "models.py").write_text(MODELS)
    (root / "pkg" / "view.py").write_text(VIEW)
    (root / "other").mkdir()
    (root / "other" / "measure.py").write_text(OTHER)
    (root / "web").mkdir()
    (root / "web" / "util.js").write_text(UTIL_JS)
    (root / "web" / "app.js").write_text(APP_JS)
    (root / "README.md").write_text("# Sample\n\nNothing to see.\n")
    return root


def ingest(store, encoder, root: Path):
    return ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t"))


def symbol_records(store) -> dict[str, dict]:
    rows = store.scroll("t", Filters(kinds=[SYMBOLS_KIND]), [P.PATH, P.VISIBLE, P.FILE_HASH])
    return {p[P.PATH]: p for _, p in rows}


def test_definitions_are_found_and_ranked_and_callers_resolved(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    ingest(store, hashing_encoder, root)
    assert set(symbol_records(store)) == {"pkg/models.py", "pkg/view.py", "other/measure.py", "web/util.js",
                                           "web/app.js"}  # code files only, one record each

    found = find(store, "t", "measure")
    assert {(x.path, x.definition.qualified) for x in found} == {
        ("pkg/models.py", "measure"), ("other/measure.py", "measure"), ("web/util.js", "measure")}
    assert [x.match for x in find(store, "t", "Row.width")] == ["exact"]
    assert [x.match for x in find(store, "t", "row.WIDTH")] == ["case-insensitive"]
    fuzzy = find(store, "t", "measur")
    assert fuzzy and {x.match for x in fuzzy} == {"fuzzy"}
    assert [x.definition.qualified for x in find(store, "t", "Row", kind="class")] == ["Row"]

    target = next(x for x in found if x.path == "pkg/models.py")
    assert target.definition.chunks  # the ids of the chunks that hold it
    n = neighbours(store, "t", target)
    by_file = {(s.path, s.reference.line, s.rank) for s in n.callers}
    assert ("pkg/models.py", 3, "same file") in by_file
    assert ("pkg/view.py", 4, "imported") in by_file  # called as `m`, an alias its import binds
    assert not any(s.path == "other/measure.py" for s in n.callers)
    assert {(s.path, s.rank) for s in n.importers} == {("pkg/view.py", "imported")}

    width, _ = resolve(store, "t", "Row.width")
    callees = neighbours(store, "t", width).callees
    assert [(c.reference.name, [(x.path, r) for x, r in c.candidates][0]) for c in callees] == [
        ("measure", ("pkg/models.py", "same file"))]
    assert callees[0].total == 2  # the other Python definition of the name is counted, ranked below (not the JS one)

    pad, _ = resolve(store, "t", "pad")
    assert [(x.path, r) for x, r in neighbours(store, "t", pad).callees[0].candidates][0] == ("web/util.js", "same file")
    main, _ = resolve(store, "t", "main")
    js_call = neighbours(store, "t", main).callees[0]
    assert js_call.reference.name == "size"  # an alias of util's measure: found through the import
    assert [(x.path, r) for x, r in js_call.candidates][0] == ("web/util.js", "imported")
    util, _ = resolve(store, "t", "measure", path="web/")
    assert util.path == "web/util.js"
    assert {s.path for s in neighbours(store, "t", util).importers} == {"web/app.js"}


def test_a_changed_file_replaces_its_symbols_and_a_deleted_one_loses_them(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    ingest(store, hashing_encoder, root)
    before = symbol_records(store)["pkg/models.py"]
    (root / "pkg" / "models.py").write_text(MODELS.replace("def measure(x)", "def gauge(x)"))
    (root / "other" / "measure.py").unlink()
    report = ingest(store, hashing_encoder, root)
    assert report.changed == ["pkg/models.py"] and report.removed == ["other/measure.py"]
    after = symbol_records(store)
    assert after["pkg/models.py"][P.FILE_HASH] != before[P.FILE_HASH]
    assert "other/measure.py" not in after and all(p[P.VISIBLE] for p in after.values())
    assert [x.path for x in find(store, "t", "measure")] == ["web/util.js"]
    assert [x.path for x in find(store, "t", "gauge")] == ["pkg/models.py"]


def test_a_killed_ingest_leaves_no_symbols_visible_and_the_next_run_drops_them(store, hashing_encoder, tmp_path):
    root = write(tmp_path / "proj")
    ingest(store, hashing_encoder, root)
    (root / "pkg" / "models.py").write_text(MODELS + "\ndef fresh():\n    return 1\n")

    class Killed(Exception):
        pass

    real_publish = store.publish

    def die(*args, **kwargs):  # the writer upserted the new version, then the process died
        raise Killed

    store.publish = die
    with pytest.raises(Killed):
        ingest(store, hashing_encoder, root)
    store.publish = real_publish
    assert find(store, "t", "fresh") == []  # written, never published
    assert [x.path for x in find(store, "t", "measure") if x.path == "pkg/models.py"] == ["pkg/models.py"]
    unpublished = store.count("t", Filters(kinds=[SYMBOLS_KIND], visible=False))
    assert unpublished == 1
    report = ingest(store, hashing_encoder, root)
    assert report.leftovers_dropped > 0 and report.changed == ["pkg/models.py"]
    assert [x.path for x in find(store, "t", "fresh")] == ["pkg/models.py"]
    assert store.count("t", Filters(kinds=[SYMBOLS_KIND], visible=False)) == 0
    assert len(symbol_records(store)) == 5


def test_symbols_records_stay_out_of_searches_counts_and_listings(tmp_path, hashing_encoder):
    root = write(tmp_path / "proj")
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        report = engine.ingest(str(root))
        name = engine.settings.collection
        assert engine.chunk_count(name) == report.chunks  # the records are no chunks
        stats = engine.stats(name)
        assert stats.chunks == report.chunks and SYMBOLS_KIND not in stats.kinds
        assert all(f.chunks == engine.store.count(name, Filters(paths=[f.path], kinds=["code", "doc"]))
                   for f in engine.files(name))
        assert len(engine.file_paths(name)) == len(engine.files(name))  # chunk 0 only: no extra rows
        manifest = load_manifest(engine.store, name, str(root.resolve()), ids=False)
        assert set(manifest) == {f.path for f in engine.files(name)}
        from groundmcp.search.query import SearchRequest

        for mode in ("dense", "sparse", "hybrid"):
            hits = engine.search(SearchRequest(query="JSONDecoder decode measure", top_k=50, mode=mode))
            assert hits and SYMBOLS_KIND not in {h.kind for h in hits}
        found = engine.find_symbol("JSONDecoder.decode")
        assert [(x.path, x.definition.kind) for x in found] == [("json/decoder.py", "method")]
        assert set(found[0].definition.chunks) <= {h.id for h in engine.chunks(name, list(found[0].definition.chunks))}
        by_chunk = engine.symbol_neighbours(found[0].definition.chunks[0])
        assert by_chunk.definition.definition.qualified == "JSONDecoder.decode"
        assert any(c.reference.name == "raw_decode" and c.candidates[0][1] == "same file" for c in by_chunk.callees)
    finally:
        engine.close()
