"""Freshness: the watcher follows real file-system events into the index (src/groundmcp/watch).

The real Engine and store with the hashing encoder, real events (inotify here), real git. Every wait
polls the index until it holds what a clean ingest of the tree now holds, with a deadline; none
sleeps a fixed time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import click
import pytest
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.settings import Settings
from groundmcp.store.base import Filters
from groundmcp.watch import Watcher
from groundmcp.watch.batch import relevant_paths

from .conftest import write_project

FIELDS = ["root", "path", "file_hash", "chunking", "chunk_index", "kind", "text", "start_line", "end_line",
          "file_size", "file_mtime_ns", "visible"]
DEADLINE_S = 20.0


def snapshot(engine: Engine, name: str) -> dict[str, dict]:
    """Every point of `name`, published or not, by id: orphans and leftovers show up here."""
    return {i: p for i, p in engine.store.scroll(name, None, FIELDS)}


def clean(engine: Engine, root: Path) -> dict[str, dict]:
    """What a clean ingest of `root` as it is now holds."""
    engine.ingest(str(root), collection="clean-ref")
    try:
        return snapshot(engine, "clean-ref")
    finally:
        engine.delete_collection("clean-ref")


def settle(watch, quiet_s: float = 1.0) -> None:
    """Wait until `watch` has nothing waiting or refreshing and ran no refresh for `quiet_s`."""
    deadline = time.monotonic() + DEADLINE_S
    last, since = watch.batches, time.monotonic()
    while time.monotonic() < deadline:
        waiting, refreshing = watch.queued()
        if watch.batches != last or waiting or refreshing is not None:
            last, since = watch.batches, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)
    pytest.fail(f"the watcher did not settle in {DEADLINE_S} s")


def converge(engine: Engine, name: str, root: Path, want: dict[str, dict] | None = None) -> dict[str, dict]:
    """Poll until `name` holds exactly what a clean ingest of `root` now gives (or `want`, such a
    clean ingest of the same tree made before: then the files' mtimes may differ); fail at the
    deadline."""
    same = (lambda a, b: a == b) if want is None else same_content
    want = clean(engine, root) if want is None else want
    deadline = time.monotonic() + DEADLINE_S
    while not same(got := snapshot(engine, name), want):
        if time.monotonic() > deadline:
            extra, missing = sorted(got.keys() - want.keys()), sorted(want.keys() - got.keys())
            pytest.fail(f"no convergence in {DEADLINE_S} s: {len(extra)} extra points "
                        f"({[{k: got[i][k] for k in FIELDS if k != 'text'} for i in extra][:3]}), {len(missing)} missing "
                        f"({sorted({want[i]['path'] for i in missing})[:10]})")
        time.sleep(0.05)
    return got


def same_content(a: dict[str, dict], b: dict[str, dict]) -> bool:
    """The same points (ids) with the same payloads but for the files' mtimes."""
    def strip(points):
        return {i: {k: v for k, v in p.items() if k != "file_mtime_ns"} for i, p in points.items()}
    return strip(a) == strip(b)


def texts(engine: Engine, name: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for _, p in engine.store.scroll(name, Filters(visible=True), ["path", "text"]):
        out[p["path"]] = out.get(p["path"], "") + p["text"]
    return out


def wait_for(check, what: str, deadline_s: float = DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while not (value := check()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


@pytest.fixture
def engine(tmp_path, hashing_encoder):
    eng = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    yield eng
    eng.close()


@pytest.fixture
def watcher(engine, tmp_path):
    w = Watcher(engine, exclude=["clean-*"], skip=[tmp_path / "data"]).start(wait=True)
    yield w
    w.stop()


def watching(watcher: Watcher, root: Path):
    watch = wait_for(lambda: watcher.watch(root.resolve()), f"a watch on {root}")
    assert watch.ready.wait(10), "the watch never started"
    return watch


def git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    done = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True)
    return done.stdout


def test_edit_add_delete_and_atomic_save_follow_the_files(engine, watcher, tmp_path):
    root = write_project(tmp_path / "project")
    engine.ingest(str(root), collection="docs")
    watching(watcher, root)
    assert watcher.watched() == {str(root.resolve()): ["docs"]}

    billing = root / "src" / "billing.py"
    billing.write_text(billing.read_text() + "\n\ndef late_fee_waiver(days):\n    return days < 3\n")
    (root / "src" / "ledger.py").write_text("def ledger_balance_forward(rows):\n    return sum(rows)\n")
    (root / "src" / "retry.js").unlink()
    got = converge(engine, "docs", root)
    paths = {p["path"] for p in got.values()}
    assert "src/ledger.py" in paths and "src/retry.js" not in paths
    assert "late_fee_waiver" in texts(engine, "docs")["src/billing.py"]

    # An editor's atomic save: write a temporary file beside it, then rename it over the original.
    tmp = root / "docs" / ".guide.md.swp~"
    tmp.write_text("# User guide\n\nRefunds now take 30 days, credited as vouchers.\n")
    os.replace(tmp, root / "docs" / "guide.md")
    converge(engine, "docs", root)
    assert "credited as vouchers" in texts(engine, "docs")["docs/guide.md"]
    assert not any(".swp" in p for p in texts(engine, "docs"))


def test_a_gitignore_edit_removes_what_it_now_ignores_and_git_internals_do_no_work(engine, watcher, tmp_path):
    root = write_project(tmp_path / "project")
    git(root, "init", "-q", "-b", "main")
    engine.ingest(str(root), collection="docs")
    watch = watching(watcher, root)
    assert "docs/guide.md" in texts(engine, "docs")

    (root / ".gitignore").write_text("docs/\n")
    converge(engine, "docs", root)
    assert "docs/guide.md" not in texts(engine, "docs")
    (root / ".groundmcpignore").write_text("*.js\n")
    converge(engine, "docs", root)
    assert "src/retry.js" not in texts(engine, "docs")

    # A commit writes only inside .git: the events arrive, and no refresh runs.
    settle(watch)  # the ignore files' last refresh may still be on its way on a loaded machine
    before_events, before_refreshes = watch.event_batches, watch.batches
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first")
    wait_for(lambda: watch.event_batches > before_events, "the commit's events")
    assert watch.batches == before_refreshes
    assert relevant_paths(root, [(2, str(root / ".git" / "index")), (1, str(root / "src" / "a.py"))]) == {"src/a.py"}


def test_events_that_cannot_change_the_index_are_dropped(tmp_path):
    """.git internals, the index's own folder, binary files, and paths through a symlink that
    leads out of the root (the walk never follows one)."""
    root, outside = (tmp_path / "root").resolve(), (tmp_path / "outside").resolve()
    (root / "src").mkdir(parents=True)
    outside.mkdir()
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "in").symlink_to(root / "src", target_is_directory=True)
    events = [(2, str(root / p)) for p in (".git/HEAD", "sub/.git/index", "data/x", "logo.png", "out/a.py",
                                               "in/b.py", "src/c.py", "README.md")]
    events.append((2, str(outside / "d.py")))
    assert relevant_paths(root, events, skip=[root / "data"]) == {"in/b.py", "src/c.py", "README.md"}


def test_branch_switches_and_stash_converge_to_a_clean_ingest(engine, watcher, tmp_path):
    """A real repository (click's source); a branch that changes, adds and deletes three dozen
    files; checkouts back and forth and a stash while the watcher runs. Each time the collection
    must hold exactly the points (ids and payloads) a clean ingest of the new tree gives."""
    repo = tmp_path / "repo"
    src = Path(click.__file__).parent
    shutil.copytree(src, repo / "click", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    files = sorted(p for p in repo.rglob("*.py") if ".git" not in p.parts)
    assert len(files) >= 14
    git(repo, "checkout", "-q", "-b", "feature")
    for i, f in enumerate(files[:10]):
        f.write_text(f.read_text() + f"\n\ndef feature_hook_{i}():\n    return {i}\n")
    for f in files[10:14]:
        f.unlink()
    (repo / "click" / "plugins").mkdir()
    for i in range(20):
        added = repo / "click" / ("plugins" if i % 2 else "") / f"added_{i}.py"
        added.write_text(f"def added_module_{i}(x):\n    return x + {i}\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "feature")
    git(repo, "checkout", "-q", "main")

    engine.ingest(str(repo), collection="code")
    watching(watcher, repo)
    on_main = snapshot(engine, "code")  # a clean ingest of main

    git(repo, "checkout", "-q", "feature")
    on_feature = converge(engine, "code", repo)
    assert on_feature != on_main and any(p["path"] == "click/plugins/added_3.py" for p in on_feature.values())
    git(repo, "checkout", "-q", "main")
    converge(engine, "code", repo, on_main)  # the same tree as the first clean ingest, new mtimes
    git(repo, "checkout", "-q", "feature")
    converge(engine, "code", repo, on_feature)

    (repo / "click" / "types.py").write_text("def stashed_parser_change():\n    return 'wip'\n")
    wip = converge(engine, "code", repo)
    git(repo, "stash", "-q")
    converge(engine, "code", repo, on_feature)
    git(repo, "stash", "pop", "-q")
    converge(engine, "code", repo, wip)
    assert "stashed_parser_change" in texts(engine, "code")["click/types.py"]


def test_files_ingested_one_by_one_are_refreshed_alone(engine, watcher, tmp_path):
    """A lone file's root is its folder: its siblings were never asked for and are never added."""
    root = write_project(tmp_path / "project")
    guide = root / "docs" / "guide.md"
    engine.ingest(str(guide), collection="one")
    watching(watcher, guide.parent)
    guide.write_text("# Guide\n\nShipping is free above 50 euros.\n")
    (root / "docs" / "sibling.md").write_text("# Not asked for\n")
    wait_for(lambda: "free above 50 euros" in texts(engine, "one").get("guide.md", ""), "the edit")
    assert set(texts(engine, "one")) == {"guide.md"}
    guide.unlink()
    wait_for(lambda: not texts(engine, "one"), "the deletion")


def test_a_removed_root_and_a_deleted_collection_do_not_stop_the_watcher(engine, watcher, tmp_path):
    root = write_project(tmp_path / "project")
    other = write_project(tmp_path / "other")
    engine.ingest(str(root), collection="docs")
    engine.ingest(str(other), collection="gone")
    watch = watching(watcher, root)
    watching(watcher, other)

    engine.delete_collection("gone")
    (other / "src" / "new.py").write_text("def new():\n    return 1\n")
    wait_for(lambda: str(other.resolve()) not in watcher.watched(), "the deleted collection to be forgotten")
    assert "gone" not in engine.collection_names()  # never re-created

    shutil.rmtree(root)
    wait_for(lambda: not watch.ready.is_set(), "the watch to notice its root is gone")
    write_project(root)
    (root / "src" / "back.py").write_text("def back_again():\n    return 2\n")
    wait_for(lambda: "back_again" in texts(engine, "docs").get("src/back.py", ""), "the root to be followed again")
    # The files came back with the content they had: ingest keeps their old stat, a clean one the new.
    converge(engine, "docs", root, clean(engine, root))


@pytest.mark.anyio
async def test_the_server_watches_its_collections_and_what_its_ingest_tool_adds(tmp_path, hashing_encoder):
    work = tmp_path / "work"
    first, second = write_project(work / "first"), write_project(work / "second")
    settings = Settings(data_dir=tmp_path / "data", roots=[work])
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(first), collection="first")
    from groundmcp.server.app import build_server

    try:
        async with Client(build_server(settings, engine=engine)) as client:
            result = await client.call_tool("ingest", {"path": str(second), "collection": "second"})
            assert not result.is_error
            for root, name, word in ((first, "first", "zebra_crossing_first"), (second, "second", "okapi_second")):
                deadline = time.monotonic() + DEADLINE_S
                (root / "src" / "fresh.py").write_text(f"def {word}():\n    return 1\n")
                while True:  # the watch may start a moment after the server: save again until seen
                    hits = await client.call_tool("search", {"query": word, "collection": name, "mode": "sparse"})
                    if any(word in h["text"] for h in hits.structured_content["hits"]):
                        break
                    assert time.monotonic() < deadline, f"{word} never became searchable"
                    (root / "src" / "fresh.py").write_text(f"def {word}():\n    return 1\n")
                    await _pause()
        # After shutdown nothing refreshes any more.
        assert engine._ingest_listeners == []
    finally:
        engine.close()


def test_watching_can_be_turned_off_per_collection(engine, tmp_path):
    w = Watcher.for_settings(engine, Settings(data_dir=tmp_path / "data", watch_exclude=["scratch-*"]))
    w.start(wait=True)
    try:
        root = write_project(tmp_path / "project")
        engine.ingest(str(root), collection="scratch-1")
        assert w.watched() == {}
        engine.ingest(str(root), collection="kept")
        assert w.watched() == {str(root.resolve()): ["kept"]}
    finally:
        w.stop()
    assert Settings(watch=False).watch is False


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.1)


def test_a_failed_refresh_is_logged_and_retried(engine, watcher, tmp_path, caplog):
    root = write_project(tmp_path / "project")
    engine.ingest(str(root), collection="docs")
    watching(watcher, root)
    real_ingest, calls = engine.ingest, []

    def flaky(*args, **kwargs):  # the store refuses the first refresh (a full disk, say)
        calls.append(args)
        if len(calls) == 1:
            raise OSError("No space left on device")
        return real_ingest(*args, **kwargs)

    engine.ingest = flaky
    (root / "src" / "later.py").write_text("def retried_refresh():\n    return 3\n")
    wait_for(lambda: "retried_refresh" in texts(engine, "docs").get("src/later.py", ""), "the retried refresh")
    assert len(calls) >= 2
    assert any("trying again" in r.getMessage() and "No space left" in r.getMessage() for r in caplog.records)


def test_a_refresh_limited_to_some_paths_leaves_what_a_whole_ingest_would(engine, tmp_path):
    """Engine.ingest(only=...): the watcher's small batches. Files, folders (deleted or new), paths
    the ignore rules leave out and paths that are gone, each as a whole re-ingest would take them."""
    root = write_project(tmp_path / "project")
    (root / "docs" / ".gitignore").write_text("draft-*.md\n")
    engine.ingest(str(root), collection="docs")
    (root / "src" / "billing.py").write_text("def billing_v2():\n    return 2\n")
    shutil.rmtree(root / "docs")
    (root / "lib" / "deep").mkdir(parents=True)
    (root / "lib" / "deep" / "x.py").write_text("def deep_x():\n    return 1\n")
    (root / "lib" / "deep" / "draft-1.md").write_text("# kept: the docs/ rule is not here\n")
    (root / "build" / "out.py").write_text("def ignored_by_default():\n    return 0\n")
    (root / "src" / ".env").write_text("TOKEN=abc\n")
    report = engine.ingest(str(root), collection="docs",
                           only=["src/billing.py", "docs", "lib", "build/out.py", "src/.env", "nope.py"])
    assert report.files_seen == 3 and sorted(report.removed) == ["docs/.gitignore", "docs/guide.md"]
    assert same_content(snapshot(engine, "docs"), clean(engine, root))
    assert texts(engine, "docs").keys() == {"src/billing.py", "src/retry.js", "lib/deep/x.py", "lib/deep/draft-1.md"}
    # A symlink on the way: the walk decides links by what else it walks, so the whole root is.
    (root / "link").symlink_to(root / "src", target_is_directory=True)
    whole = engine.ingest(str(root), collection="docs", only=["link/billing.py"])
    assert whole.files_seen == 4 and same_content(snapshot(engine, "docs"), clean(engine, root))
