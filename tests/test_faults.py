"""Faults: kill -9 in the middle of an ingest, damaged and foreign collections, a full disk and a
read-only data directory. Real model, real embedded store, the real CLI as a subprocess and the
SDK's real MCP client.

    FAULT_KILLS=10 FAULT_SEED=6 pytest tests/test_faults.py -k kill -s   # a longer kill run
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from mcp import Client

from groundmcp.chunking import chunk_file, chunking_key
from groundmcp.collection_meta import SPARSE_SCHEME
from groundmcp.engine import Engine
from groundmcp.errors import GroundError
from groundmcp.ingest.pipeline import chunk_budget, point_id
from groundmcp.ingest.walk import Skipped, walk
from groundmcp.search.query import SearchRequest
from groundmcp.server.app import build_server
from groundmcp.settings import Settings
from groundmcp.store import edge
from groundmcp.store.base import Filters, PointData, SparseVec
from groundmcp.store.edge import EdgeStore
from groundmcp.store.edge_faults import MIN_FREE_BYTES

from .conftest import write_project

KILLS = int(os.environ.get("FAULT_KILLS", "3"))
SEED = int(os.environ.get("FAULT_SEED", "6"))
EMAIL = Path(json.__file__).parent.parent / "email"
# A real multi-file project: part of the standard library's email package, code and a document.
SLICE = [
    "__init__.py", "base64mime.py", "encoders.py", "errors.py", "iterators.py", "parser.py",
    "architecture.rst", "mime/__init__.py", "mime/application.py", "mime/audio.py", "mime/base.py",
    "mime/image.py", "mime/message.py", "mime/multipart.py", "mime/nonmultipart.py", "mime/text.py",
]
QUERIES = ["parse a message from a file", "base64 encode the payload", "multipart MIME container"]

pytestmark = pytest.mark.anyio


# -- helpers --------------------------------------------------------------------------------


def copy_slice(dest: Path, files=SLICE) -> Path:
    for rel in files:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(EMAIL / rel, dest / rel)
    return dest


def cli(*args: str, data_dir: Path, preexec_fn=None, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data_dir), **env}
    return subprocess.run(
        [sys.executable, "-m", "groundmcp", *args],
        capture_output=True, text=True, env=full_env, timeout=300, preexec_fn=preexec_fn, check=False,
    )


def assert_clear_failure(proc: subprocess.CompletedProcess, *needles: str) -> None:
    """Exit 1 with one message on stderr that holds every needle; never a traceback or a signal."""
    assert proc.returncode == 1, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr[-2000:])


def points(data_dir: Path, collection: str = "default") -> dict[str, tuple]:
    """id -> (path, file_hash, chunk_index, visible) of every point, published or not. Opening the
    store here also proves a killed process's lock does not keep anyone out."""
    store = EdgeStore(data_dir / "edge")
    try:
        if collection not in store.list_collections():
            return {}
        fields = ["path", "file_hash", "chunk_index", "visible"]
        # A code file version's symbols record (chunk index -1) is written, published and retired
        # with its chunks (tests/test_symbols_index.py kills an ingest around it); the whole-version
        # checks here count the chunks.
        found = store.scroll(collection, None, fields)
        return {i: tuple(p[f] for f in fields) for i, p in found if p["chunk_index"] != -1}
    finally:
        store.close()


def visible(state: dict[str, tuple]) -> dict[str, tuple]:
    return {i: v for i, v in state.items() if v[3]}


class Versions:
    """Every version of every file the test has written, with the chunk ids a complete ingest of
    that version has (ids are deterministic: root, path, content hash, chunking key and chunk
    number)."""

    def __init__(self, root: Path, encoder) -> None:
        self.root, self.encoder = root, encoder
        self.ids: dict[tuple[str, str], frozenset[str]] = {}
        s = self.settings = Settings()
        self.sizes = {"max_tokens": chunk_budget(encoder, s.chunk_tokens), "overlap_tokens": s.chunk_overlap}

    def scan(self) -> set[str]:
        """Record the tree as it is now; the ids a clean ingest of it makes."""
        current: set[str] = set()
        for entry in walk(self.root):  # the ingest's own walk: the same ignore rules
            if isinstance(entry, Skipped):
                continue
            path, data = entry.path, entry.abs_path.read_bytes()
            key = (path, hashlib.sha256(data).hexdigest())
            if key not in self.ids:
                chunks = chunk_file(path, data, count_tokens=self.encoder.count_tokens, **self.sizes)
                # A file with no chunk is recorded by one point, with chunk 0's id.
                version = (key[1], chunking_key(path, self.settings.chunk_tokens, self.settings.chunk_overlap))
                self.ids[key] = frozenset(point_id(str(self.root), path, version, i) for i in range(max(1, len(chunks))))
            current |= self.ids[key]
        return current

    def check_whole(self, state: dict[str, tuple], when: str) -> list[str]:
        """Assert every published (path, version) has exactly its complete set of chunks; return
        the paths that show two whole versions (a kill between publish and retire)."""
        groups: dict[tuple[str, str], set[str]] = defaultdict(set)
        for pid, (path, file_hash, _, shown) in state.items():
            if shown:
                groups[(path, file_hash)].add(pid)
        for key, ids in groups.items():
            assert key in self.ids, f"{when}: {key} is no version this test ever wrote"
            expected = self.ids[key]
            assert ids == expected, f"{when}: {key[0]} shows {len(ids)} of its {len(expected)} chunks"
        per_path = Counter(path for path, _ in groups)
        return sorted(p for p, n in per_path.items() if n > 1)


def mutate(root: Path, rng: random.Random, round_: int) -> str:
    """Change the tree the way a person editing it would: edit five files, add one, delete one
    (enough for an ingest of two windows, so a kill can fall between them)."""
    files = sorted(p for p in root.rglob("*.py") if p.is_file())
    edited = rng.sample(files, 5)
    for k, file in enumerate(edited):
        file.write_text(file.read_text() + f"\n\ndef edited_{round_}_{k}(value):\n    return value * {k + 2}\n")
    added = root / f"added_{round_}.py"
    added.write_text("".join(f"def helper_{round_}_{j}(x):\n    return x + {j}\n\n\n" for j in range(6)))
    gone = rng.choice([f for f in files if f not in edited])
    gone.unlink()
    return f"edited {', '.join(f.name for f in edited)}; added {added.name}; deleted {gone.name}"


def id_map_bytes(data_dir: Path) -> int:
    """Size of the engine's id maps: they grow when the first upserted points are flushed, which
    the store does on its first write after opening. So a change means points were written."""
    total = 0
    for mapping in (data_dir / "edge" / "collections").glob("*/shard/segments/*/mutable_id_tracker.mappings"):
        with contextlib.suppress(FileNotFoundError):
            total += mapping.stat().st_size
    return total


def kill_once_writing(proc: subprocess.Popen, data_dir: Path, delay: float) -> str:
    """SIGKILL `proc` `delay` seconds after its first points reach the store (or let it finish)."""
    before = id_map_bytes(data_dir)
    deadline = time.monotonic() + 240
    while proc.poll() is None and id_map_bytes(data_dir) == before:
        assert time.monotonic() < deadline, "the ingest wrote nothing in 240 s"
        time.sleep(0.01)
    time.sleep(delay)
    if proc.poll() is not None:
        return f"finished first (exit {proc.returncode})"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return "killed"


# -- kill -9 --------------------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_kill_9_mid_ingest_then_the_next_ingest_converges_to_a_clean_one(tmp_path, real_encoder):
    rng = random.Random(SEED)
    project = copy_slice(tmp_path / "project").resolve()
    data = tmp_path / "data"
    versions = Versions(project, real_encoder)
    versions.scan()
    log, killed, leftovers_seen, doubled_seen = [], 0, 0, 0
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data)}
    for round_ in range(KILLS):
        change = mutate(project, rng, round_) if round_ else "fresh data dir"
        versions.scan()
        # A third of the kills come as soon as points reach the store (mid-flush, before the
        # publish), the others up to 2 s later (between windows, in the publish, at the end).
        delay = rng.choice([0.0, rng.uniform(0.0, 2.0), rng.uniform(0.0, 2.0)])
        proc = subprocess.Popen(
            [sys.executable, "-m", "groundmcp", "ingest", str(project)],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        try:
            outcome = kill_once_writing(proc, data, delay)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            stderr = proc.stderr.read().decode()
            proc.stderr.close()
        assert outcome == "killed" or proc.returncode == 0, stderr
        killed += outcome == "killed"
        lock = data / "edge" / "LOCK"
        if outcome == "killed":  # the dead process's pid is still in the lock file
            assert lock.read_text().strip() == str(proc.pid)
        state = points(data)
        doubled = versions.check_whole(state, f"after kill {round_ + 1}")
        # Searches in between see only whole files, and the store opens despite the stale lock.
        if state:
            engine = Engine(Settings(data_dir=data), encoder=real_encoder)
            try:
                whole = set(visible(state))
                for query in QUERIES:
                    hits = engine.search(SearchRequest(query, top_k=10))
                    assert {h.id for h in hits} <= whole, query
            finally:
                engine.close()
        unpublished = len(state) - len(visible(state))
        leftovers_seen += unpublished > 0
        doubled_seen += bool(doubled)
        log.append(
            f"round {round_ + 1}: {change}; kill {delay:.2f} s after the first write: {outcome}; "
            f"{len(visible(state))} chunks published, {unpublished} unpublished, "
            f"{len(doubled)} files with two whole versions"
        )

    final = cli("ingest", str(project), "--json", data_dir=data)
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    converged = points(data)
    clean_dir = tmp_path / "clean"
    clean = Engine(Settings(data_dir=clean_dir), encoder=real_encoder)
    try:
        clean.ingest(str(project))
    finally:
        clean.close()
    reference = points(clean_dir)

    log.append(
        f"final ingest: dropped {report['leftovers_dropped']} unpublished chunks, encoded "
        f"{report['chunks']}, removed {report['chunks_removed']}; {len(converged)} chunks; clean "
        f"ingest: {len(reference)} chunks"
    )
    print("\n" + "\n".join(log))
    assert set(converged) == set(reference) == versions.scan()
    assert len(converged) == len(reference)
    assert all(v[3] for v in converged.values()), "unpublished orphans remain"
    assert converged == reference  # same path, version, chunk number, published
    per_chunk = Counter((path, index) for path, _, index, _ in converged.values())
    assert max(per_chunk.values()) == 1, "a chunk is indexed twice"
    assert versions.check_whole(converged, "after the final ingest") == []
    assert killed >= min(2, KILLS), log  # most rounds must really have been cut short


PUBLISH_THEN_DIE = """
import os, signal, sys
from groundmcp.store.edge import EdgeStore

real_publish = EdgeStore.publish

def publish_then_die(self, name, filters, retire=(), *, visible=True):
    real_publish(self, name, filters, (), visible=visible)  # the new versions are published...
    if retire:
        os.kill(os.getpid(), signal.SIGKILL)  # ...and the process dies before the old ones go

EdgeStore.publish = publish_then_die
from groundmcp.cli import main
sys.argv = ["groundmcp", "ingest", sys.argv[1]]
main()
"""


@pytest.mark.slow
def test_a_kill_between_publish_and_retire_shows_two_whole_versions_until_the_next_ingest(
    small_index, real_encoder
):
    """The one point a random kill rarely hits: the new chunks are published and the process dies
    before it deletes the old ones (two store operations). Both versions stay whole; the next
    ingest finishes the swap without encoding anything again."""
    data, project = small_index
    versions = Versions(project, real_encoder)
    versions.scan()
    for rel in ("src/billing.py", "docs/guide.md"):
        path = project / rel
        path.write_text(path.read_text() + "\n\nOne more paragraph about invoices.\n")
    expected = versions.scan()
    child = subprocess.run(
        [sys.executable, "-c", PUBLISH_THEN_DIE, str(project)],
        env={**os.environ, "GROUNDMCP_DATA_DIR": str(data)}, capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    state = points(data)
    assert versions.check_whole(state, "after the kill") == ["docs/guide.md", "src/billing.py"]
    engine = Engine(Settings(data_dir=data), encoder=real_encoder)
    try:
        report = engine.ingest(str(project))
    finally:
        engine.close()
    assert report.chunks == 0 and sorted(report.changed) == ["docs/guide.md", "src/billing.py"]
    final = points(data)
    assert set(final) == expected and versions.check_whole(final, "after the next ingest") == []


# -- searches while an ingest runs ----------------------------------------------------------


@pytest.mark.slow
def test_searches_during_an_ingest_see_every_file_whole_and_once(tmp_path, real_encoder):
    project = copy_slice(tmp_path / "project", SLICE[:9]).resolve()
    versions = Versions(project, real_encoder)
    initial = versions.scan()
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    try:
        engine.ingest(str(project))
        for file in project.rglob("*.py"):  # every file changes: all of it is re-encoded
            file.write_text(file.read_text() + "\n\ndef changed_everywhere():\n    return 42\n")
        final_ids = versions.scan()
        replacing = final_ids - initial
        done = threading.Event()
        errors: list[BaseException] = []

        def ingest() -> None:
            try:
                engine.ingest(str(project))
            except BaseException as exc:  # surfaced below
                errors.append(exc)
            finally:
                done.set()

        writer = threading.Thread(target=ingest)
        writer.start()
        snapshots, mixed, searches = 0, 0, 0
        while not done.is_set():
            shown = {
                i: (p["path"], p["file_hash"], p["chunk_index"], True)
                for i, p in engine.store.scroll(
                    "default", Filters(visible=True), ["path", "file_hash", "chunk_index"], batch=100_000
                )
                if p["chunk_index"] != -1  # symbols records: see points()
            }
            assert versions.check_whole(shown, f"snapshot {snapshots}") == []
            mixed += 0 < len(set(shown) & replacing) < len(replacing)
            snapshots += 1
            hits = engine.search(SearchRequest(QUERIES[searches % len(QUERIES)], top_k=20))
            searches += 1
            by_path: dict[str, set[bool]] = defaultdict(set)
            for h in hits:
                by_path[h.path].add(h.id in final_ids)
            assert all(len(v) == 1 for v in by_path.values()), "a search returned two versions of a file"
        writer.join()
        assert not errors, errors
        print(f"\n{snapshots} snapshots and {searches} searches during the ingest, {mixed} mid-way")
        assert snapshots >= 3 and mixed >= 1  # it really looked while files were being replaced
        assert set(points_of(engine)) == final_ids
    finally:
        engine.close()


def points_of(engine: Engine) -> list[str]:
    """Every point's id but the symbols records' (see points())."""
    return [i for i, p in engine.store.scroll("default", None, ["chunk_index"]) if p["chunk_index"] != -1]


def test_publish_is_one_step_for_concurrent_searches(tmp_path, real_encoder):
    """Store level, many swaps a second: a reader never sees a file's new version in part, nor
    both versions at once (the count of published chunks never moves)."""
    files, per_file = 12, 6
    store = EdgeStore(tmp_path / "edge")
    try:
        store.create_collection("t", real_encoder.dim, {"model": real_encoder.name, "sparse": SPARSE_SCHEME})
        vectors = real_encoder.encode_documents([f"part {i} of a file about invoices" for i in range(per_file)])

        def version(f: int, v: int) -> list[PointData]:
            path = f"src/file{f}.py"
            return [
                PointData(
                    point_id("/r", path, (f"v{v}", ""), i),
                    vectors[i].tolist(),
                    SparseVec([i + 1], [1.0]),
                    {"root": "/r", "path": path, "file_hash": f"v{v}", "chunk_index": i, "visible": False},
                )
                for i in range(per_file)
            ]

        for f in range(files):
            store.upsert("t", version(f, 0))
        store.publish("t", Filters(roots=["/r"], visible=False))
        stop, bad, reads, swaps = threading.Event(), [], [0], [0]

        def writer() -> None:
            v = 0
            while not stop.is_set():
                v += 1
                for f in range(files):
                    store.upsert("t", version(f, v))
                    path = f"src/file{f}.py"
                    store.publish(
                        "t", Filters(paths=[path], file_hashes=[f"v{v}"], visible=False),
                        [p.id for p in version(f, v - 1)],
                    )
                    swaps[0] += 1

        def reader() -> None:
            while not stop.is_set():
                hits = store.query(
                    "t", dense=vectors[0].tolist(), sparse=None, mode="dense", limit=1000,
                    filters=Filters(visible=True),
                )
                per_path = Counter(h.payload["path"] for h in hits)
                versions_seen = {h.payload["path"]: set() for h in hits}
                for h in hits:
                    versions_seen[h.payload["path"]].add(h.payload["file_hash"])
                if len(hits) != files * per_file or set(per_path.values()) != {per_file} or any(
                    len(v) != 1 for v in versions_seen.values()
                ):
                    bad.append(sorted(per_path.items()))
                reads[0] += 1

        threads = [threading.Thread(target=writer)] + [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        # Run until both sides have done enough work to make a torn read likely (not a fixed
        # time, which a loaded machine may not fill), within a generous cap.
        deadline = time.monotonic() + 60
        while (swaps[0] <= 50 or reads[0] <= 50) and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join()
    finally:
        store.close()
    assert swaps[0] > 50 and reads[0] > 50, (swaps, reads)
    assert not bad, f"{len(bad)} of {reads[0]} reads saw a file in part or twice: {bad[0]}"


# -- damaged and foreign collections --------------------------------------------------------


def _damage(folder: Path, how: str) -> None:
    segment = next((folder / "shard" / "segments").iterdir())
    if how == "no collection.json":
        (folder / "collection.json").unlink()
    elif how == "truncated collection.json":
        raw = (folder / "collection.json").read_bytes()
        (folder / "collection.json").write_bytes(raw[: len(raw) // 2])
    elif how == "garbage segment.json":
        (segment / "segment.json").write_bytes(os.urandom(300))
    elif how == "emptied index status file":  # the engine panics on this one (a Rust panic)
        status = next(segment.glob("payload_index/*-visible-bool/trues/status.dat"))
        status.write_bytes(b"")
    elif how == "emptied payload page":  # opens fine; fails when a search reads payloads
        (segment / "payload_storage" / "page_0.dat").write_bytes(b"")
    elif how == "no model recorded":
        meta = folder / "collection.json"
        record = json.loads(meta.read_text())
        record["meta"] = {"made_by": "another tool"}
        meta.write_text(json.dumps(record))
    else:
        raise AssertionError(how)


DAMAGES = {
    "nojson": ("no collection.json", "collection.json is missing"),
    "halfjson": ("truncated collection.json", "does not parse"),
    "badsegment": ("garbage segment.json", "shard does not open"),
    "panics": ("emptied index status file", "shard does not open"),
    "nopayload": ("emptied payload page", "could not be read"),
    "foreign": ("no model recorded", "records no model"),
}
WIDE_MODEL = "BAAI/bge-base-en-v1.5"


@pytest.fixture(scope="module")
def damaged_index(tmp_path_factory, real_encoder) -> tuple[Path, Path]:
    """A data dir with a good collection, copies of it damaged in each way above, and a real
    collection of another model's 768-d vectors. Returns (data dir, project)."""
    base = tmp_path_factory.mktemp("damaged")
    project = write_project(base / "project")
    data = base / "data"
    engine = Engine(Settings(data_dir=data, collection="good"), encoder=real_encoder)
    try:
        engine.ingest(str(project))
        engine.store.create_collection(
            "wide", 768, {"model": WIDE_MODEL, "dim": 768, "sparse": SPARSE_SCHEME}
        )
    finally:
        engine.close()
    collections = data / "edge" / "collections"
    for name, (how, _) in DAMAGES.items():
        shutil.copytree(collections / "good", collections / name)
        _damage(collections / name, how)
    return data, project


async def test_damaged_or_foreign_collections_fail_clearly_over_mcp_and_the_rest_keeps_serving(
    damaged_index, real_encoder, tmp_path
):
    src, project = damaged_index
    data = tmp_path / "data"
    shutil.copytree(src, data)
    settings = Settings(data_dir=data, collection="good", roots=[project.parent])
    engine = Engine(settings, encoder=real_encoder)
    try:
        async with Client(build_server(settings, engine=engine)) as client:
            listed = (await client.call_tool("list_collections", {})).structured_content
            rows = {c["name"]: c for c in listed["collections"]}
            assert set(rows) == {"good", "wide", *DAMAGES}
            assert rows["good"]["error"] == "" and rows["good"]["chunks"] > 0
            assert "damaged" in rows["panics"]["error"] and "delete_collection" in rows["panics"]["error"]
            cases = {name: needle for name, (_, needle) in DAMAGES.items()}
            cases["wide"] = f"built with {WIDE_MODEL} (768-d vectors)"
            for name, needle in cases.items():
                for _ in range(2):  # the same clear answer every time, never a crash
                    result = await client.call_tool("search", {"query": "refund policy", "collection": name})
                    text = result.content[0].text
                    assert result.is_error, (name, text)
                    assert f"collection {name!r}" in text and needle in text, (name, text)
                    assert "delete_collection" in text or "--model" in text, (name, text)
                good = await client.call_tool("search", {"query": "refund policy"})
                assert not good.is_error and good.structured_content["hits"][0]["path"] == "docs/guide.md"
            stats = await client.call_tool("collection_stats", {"collection": "panics"})
            assert stats.is_error and "damaged" in stats.content[0].text
            # The way out the messages give works: delete, then ingest again under the same name.
            for name in cases:
                deleted = await client.call_tool("delete_collection", {"collection": name})
                assert not deleted.is_error, deleted.content[0].text
            again = await client.call_tool("ingest", {"path": str(project), "collection": "panics"})
            assert not again.is_error, again.content[0].text
            found = await client.call_tool("search", {"query": "refund policy", "collection": "panics"})
            assert found.structured_content["hits"][0]["path"] == "docs/guide.md"
            left = (await client.call_tool("list_collections", {})).structured_content["collections"]
            assert sorted(c["name"] for c in left) == ["good", "panics"]
    finally:
        engine.close()


def test_damaged_collections_fail_clearly_on_the_cli(damaged_index, tmp_path):
    src, _ = damaged_index
    data = tmp_path / "data"
    shutil.copytree(src, data)
    listed = cli("collections", "--json", data_dir=data)
    assert listed.returncode == 0, listed.stderr
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["good"]["error"] == "" and rows["good"]["chunks"] > 0
    for name, (_, needle) in DAMAGES.items():
        if name not in ("foreign", "nopayload"):  # these open: the damage shows when searched
            assert needle in rows[name]["error"] and "--delete " + name in rows[name]["error"]
    proc = cli("search", "refund policy", "-c", "panics", data_dir=data)  # the engine panics on it
    assert_clear_failure(proc, "collection 'panics'", "shard does not open", "groundmcp collections --delete panics")
    gone = cli("collections", "--delete", "panics", "--json", data_dir=data)
    assert gone.returncode == 0, gone.stderr
    assert "panics" not in {r["name"] for r in json.loads(gone.stdout)}


def test_a_kill_while_a_collection_is_created_leaves_nothing_half_made(tmp_path):
    """The collection is built in a hidden folder and renamed into place whole; what a kill
    leaves there is removed when the store next opens."""
    store = EdgeStore(tmp_path / "edge")
    store.create_collection("docs", 8, {"model": "m"})
    store.close()
    leftover = tmp_path / "edge" / "collections" / ".creating-notes-0123abcd"
    shutil.copytree(tmp_path / "edge" / "collections" / "docs", leftover)
    (leftover / "collection.json").unlink()
    store = EdgeStore(tmp_path / "edge")
    try:
        assert store.list_collections() == ["docs"]
        assert not leftover.exists()
        store.create_collection("notes", 8, {"model": "m"})
        assert store.info("notes").points == 0
    finally:
        store.close()


# -- read-only data dir, full disk ----------------------------------------------------------


def _without_dac_override() -> None:
    """preexec for root: drop the capabilities that let root write where permissions say no (from
    the bounding set, so they stay dropped across exec)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(97)


def _read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o555 if p.is_dir() else 0o444)


def _writable(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def _tree(folder: Path) -> list[tuple]:
    return sorted((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*"))


@pytest.fixture
def small_index(tmp_path, real_encoder) -> tuple[Path, Path]:
    project = write_project(tmp_path / "project").resolve()
    data = tmp_path / "data"
    engine = Engine(Settings(data_dir=data), encoder=real_encoder)
    engine.ingest(str(project))
    engine.close()
    return data, project


def test_read_only_data_dir_is_a_clear_error_and_the_index_is_unchanged(small_index):
    data, project = small_index
    preexec = _without_dac_override if os.geteuid() == 0 else None
    _read_only(data)
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"open({str(data / 'probe')!r}, 'w')"],
            preexec_fn=preexec, capture_output=True, check=False,
        )
        if probe.returncode == 0:
            pytest.skip("this process can write through read-only permissions (root without CAP_SETPCAP?)")
        before = _tree(data)
        (project / "src" / "new.py").write_text("def new():\n    return 1\n")
        for args in (("ingest", str(project)), ("search", "refund policy"), ("collections",)):
            proc = cli(*args, data_dir=data, preexec_fn=preexec)
            assert_clear_failure(proc, "cannot use the data directory", "Permission denied", "GROUNDMCP_DATA_DIR")
        assert _tree(data) == before
    finally:
        _writable(data)
    assert len(visible(points(data))) > 0


def test_a_file_where_the_data_dir_should_be_is_a_clear_error(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    proc = cli("collections", data_dir=blocker)
    assert_clear_failure(proc, "cannot use the data directory", "Not a directory")
    assert blocker.read_text() == "not a folder"


@pytest.mark.slow
def test_writes_refused_by_the_kernel_fail_clearly_and_publish_nothing(small_index, real_encoder):
    """RLIMIT_FSIZE makes every write that grows a file past the limit fail with EFBIG, as a full
    disk or a quota would; it works unprivileged. The ingest must stop with a clear message, the
    published index must be as before, and the next ingest must finish the job."""
    data, project = small_index
    before = visible(points(data))
    copy_slice(project / "vendored", SLICE[:4])
    versions = Versions(project, real_encoder)
    expected = versions.scan()

    def limit() -> None:
        # Opening the store saves files of up to about 400 bytes; the id map of the points
        # this ingest adds grows past 512.
        resource.setrlimit(resource.RLIMIT_FSIZE, (512, resource.RLIM_INFINITY))

    proc = cli("ingest", str(project), data_dir=data, preexec_fn=limit)
    assert_clear_failure(proc, "could not write to collection 'default'", "File too large", "run the ingest again")
    after = points(data)
    assert visible(after) == before  # nothing published, nothing retired
    engine = Engine(Settings(data_dir=data), encoder=real_encoder)
    try:
        report = engine.ingest(str(project))
    finally:
        engine.close()
    assert report.leftovers_dropped == len(after) - len(before)
    final = points(data)
    assert set(final) == expected and all(v[3] for v in final.values())


@contextlib.contextmanager
def file_size_limit(limit: int):
    """RLIMIT_FSIZE on this process for a moment (Python ignores SIGXFSZ, so writes get EFBIG)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))


def test_a_long_running_server_recovers_from_a_failed_write_without_a_restart(tmp_path, real_encoder, monkeypatch):
    """After a refused write the engine refuses every later write until the shard is reopened;
    the store reopens it by itself once writes work again, so a server needs no restart."""
    vectors = real_encoder.encode_documents(["invoice totals", "refund policy", "retry with backoff"])

    def points_for(path: str, n: int) -> list[PointData]:
        return [
            PointData(point_id("/r", path, ("h", ""), i), vectors[i % 3].tolist(), SparseVec([i + 1], [1.0]),
                      {"root": "/r", "path": path, "file_hash": "h", "chunk_index": i, "visible": False})
            for i in range(n)
        ]

    monkeypatch.setattr(edge, "FLUSH_INTERVAL_S", 1.0)  # the shipped 5 s, shorter: the test waits for one
    store = EdgeStore(tmp_path / "edge")
    store.create_collection("t", real_encoder.dim, {"model": real_encoder.name})
    store.upsert("t", points_for("a.py", 5))
    store.publish("t", Filters(paths=["a.py"], visible=False))
    store.close()
    store = EdgeStore(tmp_path / "edge")
    refused = r"could not write to collection 't'.*File too large.*run the ingest again"
    try:
        with file_size_limit(512):
            with pytest.raises(GroundError, match=refused):
                store.upsert("t", points_for("b.py", 40))
            assert store.count("t", Filters(visible=True)) == 5  # reads go on
        store.upsert("t", points_for("b.py", 40))  # room again: the shard is reopened, no restart
        store.publish("t", Filters(paths=["b.py"], visible=False))
        assert store.count("t", Filters(visible=True)) == 45
        time.sleep(edge.FLUSH_INTERVAL_S)  # writes flush at most this often: the refusal shows at a flush
        with file_size_limit(512):
            with pytest.raises(GroundError, match=refused):
                store.upsert("t", points_for("c.py", 40))
            with pytest.raises(GroundError, match=refused):
                store.upsert("t", points_for("c.py", 40))  # reopened, refused again, still clear
        store.upsert("t", points_for("c.py", 40))
        store.publish("t", Filters(paths=["c.py"], visible=False))
        assert store.count("t", Filters(visible=True)) == 85
    finally:
        store.close()
    store = EdgeStore(tmp_path / "edge")
    try:
        assert store.count("t", Filters(visible=True)) == 85 and store.count("t") == 85
    finally:
        store.close()


@contextlib.contextmanager
def small_disk(where: Path, size_mb: int):
    """A real tmpfs of `size_mb`; skips the test where mounting is not allowed."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m", "tmpfs", str(where)], capture_output=True, check=False
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.slow
def test_a_full_disk_is_a_clear_error_not_a_crash(tmp_path, real_encoder):
    """A real full disk (tmpfs). The embedded engine writes through memory maps, where a full disk
    is a SIGBUS that kills the process, even for a search (opening a collection fills in its
    preallocated log). The store refuses to open or write short of room instead."""
    project = write_project(tmp_path / "project").resolve()
    with small_disk(tmp_path / "disk", 200) as disk:
        data = disk / "data"
        engine = Engine(Settings(data_dir=data), encoder=real_encoder)
        engine.ingest(str(project))
        engine.close()
        before = visible(points(data))
        filler = disk / "filler"

        def leave_free(room: int) -> None:
            filler.unlink(missing_ok=True)
            st = os.statvfs(disk)
            with open(filler, "wb") as fh:
                os.posix_fallocate(fh.fileno(), 0, st.f_bavail * st.f_frsize - room)

        leave_free(4 * 2**20)
        proc = cli("search", "refund policy", data_dir=data)
        assert_clear_failure(proc, "collection 'default'", "cannot be opened", "MB free", "not damaged")
        copy_slice(project / "vendored", SLICE[:4])
        leave_free(MIN_FREE_BYTES // 2)  # room to open, not to write
        proc = cli("ingest", str(project), data_dir=data)
        assert_clear_failure(proc, "could not write to collection 'default'", "MB free", "free space")
        filler.unlink()
        assert visible(points(data)) == before
        engine = Engine(Settings(data_dir=data), encoder=real_encoder)
        try:
            report = engine.ingest(str(project))
        finally:
            engine.close()
        assert report.added and not report.skipped
        assert Versions(project, real_encoder).scan() == set(visible(points(data)))
