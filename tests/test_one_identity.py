"""One identity per file (ingest/roots.py): however a file is reached (a sub-folder, the parent, a
symlink, a relative path with `..`), the index holds it once, with the ids a clean ingest of the
enclosing root gives it; an index that holds duplicates (written before this rule) converges on its
next ingest. The real Engine, the real stores (embedded, and qdrant-client's local mode) and the
deterministic hashing encoder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from groundmcp.engine import Engine
from groundmcp.errors import InputError
from groundmcp.ingest import roots as roots_module
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings
from groundmcp.store.base import Filters
from groundmcp.watch import Watcher

from .conftest import write_project

FIELDS = ["root", "path", "text", "file_hash", "chunking", "chunk_index", "kind", "visible"]


@pytest.fixture
def engine(tmp_path, store, hashing_encoder):
    eng = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder, store=store)
    yield eng
    eng.close()


@pytest.fixture
def tree(tmp_path) -> Path:
    """The sample project, with a deeper level under src/ (so src/ is a tree of its own)."""
    root = write_project(tmp_path / "x")
    (root / "src" / "wrap").mkdir()
    (root / "src" / "wrap" / "_wrap.py").write_text(
        "def wrap_lines(text: str, width: int) -> list[str]:\n"
        '    """Split text into lines of at most width characters."""\n'
        "    return [text[i : i + width] for i in range(0, len(text), width)]\n"
    )
    return root


def snapshot(engine: Engine, name: str) -> dict[str, tuple]:
    """Every point of `name`, published or not, by id: (root, path, text, ...)."""
    return {i: tuple(p.get(k) for k in FIELDS) for i, p in engine.store.scroll(name, None, FIELDS)}


def clean(engine: Engine, root: Path) -> dict[str, tuple]:
    """What a clean ingest of `root` as it is now holds."""
    engine.ingest(str(root), collection="clean-ref")
    try:
        return snapshot(engine, "clean-ref")
    finally:
        engine.delete_collection("clean-ref")


def files(engine: Engine, name: str) -> set[str]:
    """The absolute path of every searchable file record (once per root it is recorded under)."""
    return {os.path.join(p["root"], p["path"]) for _, p in
            engine.store.scroll(name, Filters(visible=True, first_chunks=True), ["root", "path"])}


def old_ingest(engine: Engine, name: str, *folders: Path) -> None:
    """What ingest did before one identity per file: each folder its own root, whatever the others."""
    for folder in folders:
        ingest_path(str(folder), store=engine.store, encoder=engine.encoder, options=IngestOptions(collection=name))


def test_a_sub_folder_then_its_parent_holds_each_file_once(engine, tree):
    first = engine.ingest(str(tree / "src"), collection="c")
    assert first.root == str(tree / "src") and not first.joined_from
    report = engine.ingest(str(tree), collection="c")
    assert report.absorbed == [str(tree / "src")] and report.absorbed_records > 0
    assert snapshot(engine, "c") == clean(engine, tree)
    assert list(engine.roots("c")) == [str(tree)]
    hits = engine.search(SearchRequest(query="wrap_lines split text into lines", top_k=10), collection="c")
    wraps = [(h.path, h.start_line) for h in hits if h.path.endswith("_wrap.py")]
    assert wraps == [("src/wrap/_wrap.py", 1)]


def test_a_sub_folder_of_an_indexed_parent_joins_it(engine, tree):
    engine.ingest(str(tree), collection="c")
    before = snapshot(engine, "c")
    report = engine.ingest(str(tree / "src"), collection="c")
    assert report.root == str(tree) and report.joined_from == str(tree / "src")
    assert report.unchanged == 3 and not (report.added or report.changed or report.removed)
    assert snapshot(engine, "c") == before
    assert list(engine.roots("c")) == [str(tree)]


def test_a_joined_sub_folder_ingest_keeps_the_parents_other_files_and_removes_its_deleted_ones(engine, tree):
    engine.ingest(str(tree), collection="c")
    (tree / "src" / "retry.js").unlink()
    (tree / "src" / "wrap" / "more.py").write_text("def more_wrapping():\n    return 2\n")
    (tree / "docs" / "guide.md").unlink()  # outside the sub-folder: not this ingest's to notice
    report = engine.ingest(str(tree / "src"), collection="c")
    assert report.removed == ["src/retry.js"] and report.added == ["src/wrap/more.py"]
    held = {p for p, _ in engine.file_paths("c")}
    assert held == {"docs/guide.md", "src/billing.py", "src/wrap/_wrap.py", "src/wrap/more.py"}
    engine.ingest(str(tree), collection="c")  # the parent's own ingest notices the rest
    assert snapshot(engine, "c") == clean(engine, tree)


def test_a_symlink_a_relative_path_and_dot_dot_reach_the_same_files(engine, tree, tmp_path, monkeypatch):
    engine.ingest(str(tree), collection="c")
    before = snapshot(engine, "c")
    link = tmp_path / "link"
    link.symlink_to(tree, target_is_directory=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for spelling in (str(link), str(link / "src"), "../x/src/../docs", "../link/src/wrap", "../x/src/billing.py"):
        report = engine.ingest(spelling, collection="c")
        assert report.root == str(tree), spelling
        assert not (report.added or report.changed or report.removed), spelling
    assert snapshot(engine, "c") == before
    assert list(engine.roots("c")) == [str(tree)]


@pytest.mark.parametrize("then", ["parent", "sub"])
def test_an_index_holding_duplicates_converges_to_a_clean_ingest_of_the_parent(engine, tree, then):
    old_ingest(engine, "c", tree, tree / "src")
    billing = [p for _, p in engine.store.scroll("c", Filters(first_chunks=True), ["path"])
               if p["path"].endswith("billing.py")]
    assert len(billing) == 2  # one file, two records
    roots_held = {p["root"] for _, p in engine.store.scroll("c", None, ["root"])}
    assert roots_held == {str(tree), str(tree / "src")}  # the duplicates the old code left
    assert list(engine.roots("c")) == [str(tree)]  # reported (and so watched) as the one root already
    report = engine.ingest(str(tree if then == "parent" else tree / "src"), collection="c")
    assert report.absorbed == [str(tree / "src")] and report.absorbed_records > 0
    assert snapshot(engine, "c") == clean(engine, tree)
    again = engine.ingest(str(tree), collection="c")  # and stays so
    assert not again.absorbed and snapshot(engine, "c") == clean(engine, tree)


def test_a_folder_holding_several_roots_absorbs_them_all(engine, tree):
    engine.ingest(str(tree / "src" / "wrap"), collection="c")
    engine.ingest(str(tree / "docs"), collection="c")
    engine.ingest(str(tree / "src" / "billing.py"), collection="c")  # a lone file: its folder's root
    assert set(engine.roots("c")) == {str(tree / "src" / "wrap"), str(tree / "docs"), str(tree / "src")}
    report = engine.ingest(str(tree), collection="c")
    assert report.absorbed == sorted([str(tree / "docs"), str(tree / "src"), str(tree / "src" / "wrap")])
    assert snapshot(engine, "c") == clean(engine, tree)


def test_a_kill_while_absorbing_loses_no_file_and_the_next_ingest_converges(engine, tree, monkeypatch):
    engine.ingest(str(tree / "src"), collection="c")
    wanted = files(engine, "c")

    class Killed(Exception):
        pass

    def kill_after_first_write(progress):
        if progress.files_done >= 1:
            raise Killed  # as a kill -9 after the first file was published under the new root

    with pytest.raises(Killed):
        engine.ingest(str(tree), collection="c", progress=kill_after_first_write)
    assert wanted <= files(engine, "c")  # every file of src/ still searchable, under one root or both
    # A kill in the middle of the deletion of the old root's records: the same, at worst duplicates.
    monkeypatch.setattr(roots_module, "DELETE_BATCH", 1)
    real_delete, calls = engine.store.delete, []

    def dying_delete(name, filters=None, ids=()):
        calls.append(ids)
        if len(calls) == 2:
            raise Killed
        return real_delete(name, filters, ids)

    monkeypatch.setattr(engine.store, "delete", dying_delete)
    with pytest.raises(Killed):
        engine.ingest(str(tree), collection="c")
    monkeypatch.setattr(engine.store, "delete", real_delete)
    assert wanted <= files(engine, "c")
    engine.ingest(str(tree / "src"), collection="c")  # the next ingest, of either, converges
    assert snapshot(engine, "c") == clean(engine, tree)


def test_a_folder_the_roots_rules_leave_out_keeps_a_root_of_its_own(engine, tree):
    (tree / "build" / "gen.py").write_text("def generated_helper():\n    return 3\n")
    engine.ingest(str(tree), collection="c")
    report = engine.ingest(str(tree / "build"), collection="c")  # build/ is ignored under the tree
    assert report.root == str(tree / "build") and not report.joined_from
    assert sorted(report.added) == ["gen.py", "generated.py"]
    again = engine.ingest(str(tree), collection="c")  # the tree does not take them away
    assert not again.absorbed and again.absorbed_records == 0
    assert set(engine.roots("c")) == {str(tree), str(tree / "build")}
    (tree / "build" / "gen.py").unlink()
    engine.ingest(str(tree), collection="c")  # a file gone from disk is nobody's to keep
    assert engine.roots("c")[str(tree / "build")] == ["generated.py"]


def test_a_lone_file_inside_an_indexed_tree_is_the_trees_file(engine, tree):
    engine.ingest(str(tree), collection="c")
    billing = tree / "src" / "billing.py"
    billing.write_text(billing.read_text() + "\n\ndef refund(amount: float) -> float:\n    return -amount\n")
    report = engine.ingest(str(billing), collection="c")
    assert report.root == str(tree) and report.changed == ["src/billing.py"]
    assert snapshot(engine, "c") == clean(engine, tree)
    blob = tree / "src" / "blob.py"
    blob.write_bytes(b"\x00\x01\x02 not text")
    with pytest.raises(InputError, match=f"{blob} was not ingested: binary file"):
        engine.ingest(str(blob), collection="c")  # naming one file and indexing nothing is no success
    assert snapshot(engine, "c") == clean(engine, tree)


def test_texts_are_left_alone(engine, tree):
    engine.ingest_texts([("note-1", "Refunds take fourteen days."), ("src", "a text named like a folder")],
                        collection="c")
    texts_before = {i: p for i, p in snapshot(engine, "c").items() if p[0] == "texts:"}
    engine.ingest(str(tree / "src"), collection="c")
    engine.ingest(str(tree), collection="c")
    after = snapshot(engine, "c")
    assert {i: p for i, p in after.items() if p[0] == "texts:"} == texts_before
    assert {i: p for i, p in after.items() if p[0] != "texts:"} == clean(engine, tree)
    assert list(engine.roots("c")) == [str(tree)]


def test_a_dry_run_says_what_it_would_absorb_and_changes_nothing(engine, tree):
    engine.ingest(str(tree / "src"), collection="c")
    before = snapshot(engine, "c")
    report = engine.ingest(str(tree), collection="c", dry_run=True)
    assert report.dry_run and report.absorbed == [str(tree / "src")] and report.absorbed_records == 0
    assert snapshot(engine, "c") == before


def test_deleting_by_a_joined_folders_root_finds_the_files_where_they_are(engine, tree):
    engine.ingest(str(tree), collection="c")
    removed = engine.delete_paths("c", ["wrap/_wrap.py"], root=str(tree / "src"))
    assert removed > 0 and "src/wrap/_wrap.py" not in {p for p, _ in engine.file_paths("c")}


def test_the_watcher_watches_the_merged_roots_once(tmp_path, tree, hashing_encoder):
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        old_ingest(engine, "c", tree, tree / "src", tree / "src" / "wrap")
        watcher = Watcher(engine, skip=[tmp_path / "data"]).start(wait=True)
        try:
            assert watcher.watched() == {str(tree): ["c"]}
        finally:
            watcher.stop()
    finally:
        engine.close()


def test_a_running_watcher_follows_a_root_that_absorbs_the_one_it_watched(tmp_path, tree, hashing_encoder):
    """Sub-folder first, watched; then the parent absorbs it: the watcher keeps one watch, on the
    parent, and a later ingest of a folder inside adds none."""
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        watcher = Watcher(engine, skip=[tmp_path / "data"]).start(wait=True)
        try:
            engine.ingest(str(tree / "src"), collection="c")
            assert watcher.watched() == {str(tree / "src"): ["c"]}
            engine.ingest(str(tree), collection="c")
            assert watcher.watched() == {str(tree): ["c"]}
            engine.ingest(str(tree / "src" / "wrap"), collection="c")
            assert watcher.watched() == {str(tree): ["c"]}
        finally:
            watcher.stop()
    finally:
        engine.close()


def test_only_paths_that_leave_the_folder_are_refused_with_the_way_to_write_them(engine, tree):
    engine.ingest(str(tree), collection="c")
    before = snapshot(engine, "c")
    for bad in ("../elsewhere", "src/../../x", str(tree / "src")):
        with pytest.raises(InputError, match=r"relative to .* no '\.\.' \(such as 'src/app.py'"):
            engine.ingest(str(tree / "src"), collection="c", only=[bad])
    assert snapshot(engine, "c") == before
