"""The store backends, run through the same tests: EdgeStore, qdrant-client local mode, and a
Qdrant server when QDRANT_URL is set. Small deterministic vectors; no encoder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from groundmcp.errors import (
    CollectionNotFound,
    GroundError,
    IncompatibleCollection,
    InputError,
    StoreLocked,
)
from groundmcp.store.base import Filters, Fusion, PointData, SearchMode, SparseVec, Store
from groundmcp.store.edge import EdgeStore
from groundmcp.store.factory import open_store
from groundmcp.store.names import validate_collection_name
from groundmcp.store.qdrant import QdrantStore

DIM = 8
MODES: tuple[SearchMode, ...] = ("dense", "sparse", "hybrid")
SPARSE_1 = SparseVec([1], [1.0])
BACKENDS = ["edge", "local"] + (["server"] if os.environ.get("QDRANT_URL") else [])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    opened: Store
    if request.param == "edge":
        # A low indexing threshold, so optimize() builds HNSW on a few thousand 8-d points.
        opened = EdgeStore(tmp_path / "edge", indexing_threshold_kb=32)
    elif request.param == "local":
        opened = QdrantStore(path=tmp_path / "local")
    else:
        url, key = os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY")
        opened = QdrantStore(url=url, api_key=key, prefix=f"t{uuid.uuid4().hex[:10]}_")
    yield opened
    if request.param == "server":
        for name in opened.list_collections():
            opened.delete_collection(name)
    opened.close()


def unit(v: np.ndarray) -> list[float]:
    return [float(c) for c in v / np.linalg.norm(v)]


def make_point(i: int, dense: list[float], tokens: list[int], **payload: Any) -> PointData:
    pid = str(uuid.UUID(int=i + 1))
    return PointData(pid, dense, SparseVec(tokens, [1.0] * len(tokens)), payload)


def pid(i: int) -> str:
    return str(uuid.UUID(int=i + 1))


# 16 points over every combination of the filter fields.
def corpus() -> list[PointData]:
    rng = np.random.default_rng(7)
    points = []
    for i in range(16):
        payload = {
            "root": ["/a", "/b"][i % 2],
            "path": f"src/f{i % 4}.py",
            "language": ["python", "markdown"][(i // 2) % 2],
            "kind": ["code", "doc"][(i // 4) % 2],
            "file_hash": f"h{i // 8}",
            "chunk_index": (i // 4) % 2,  # each (path, file_hash) has a chunk 0 and a chunk 1
            "visible": i % 3 != 0,
            "text": f"chunk {i}",
        }
        points.append(make_point(i, unit(rng.standard_normal(DIM)), [i, 100], **payload))
    return points


def matching(points: list[PointData], f: Filters) -> set[str]:
    def ok(p: dict[str, Any]) -> bool:
        checks = [
            (f.roots, "root"),
            (f.paths, "path"),
            (f.languages, "language"),
            (f.kinds, "kind"),
            (f.file_hashes, "file_hash"),
        ]
        if any(values and p[key] not in values for values, key in checks):
            return False
        if f.first_chunks and p["chunk_index"] != 0:
            return False
        return f.visible is None or p["visible"] == f.visible

    return {p.id for p in points if ok(p.payload)}


@pytest.fixture
def filled(store: Store) -> tuple[Store, list[PointData]]:
    points = corpus()
    store.create_collection("docs", DIM, {"model": "test"})
    store.upsert("docs", points)
    return store, points


FILTER_CASES = [
    Filters(roots=["/a"]),
    Filters(paths=["src/f1.py", "src/f2.py"]),
    Filters(languages=["markdown"]),
    Filters(kinds=["doc"]),
    Filters(file_hashes=["h1"]),
    Filters(visible=True),
    Filters(visible=False),
    Filters(roots=["/b"], kinds=["code"], visible=True),
    Filters(first_chunks=True),
    Filters(roots=["/a"], first_chunks=True, visible=True),
    Filters(roots=["/nowhere"]),
    Filters(),
]


# -- collections ----------------------------------------------------------------------------


def test_create_info_list_delete(store: Store) -> None:
    assert store.list_collections() == []
    store.create_collection("docs", DIM, {})
    store.create_collection("code.v2", DIM, {})
    assert store.list_collections() == ["code.v2", "docs"]
    info = store.info("docs")
    assert (info.name, info.points, info.dim) == ("docs", 0, DIM)
    store.delete_collection("docs")
    assert store.list_collections() == ["code.v2"]
    with pytest.raises(CollectionNotFound):
        store.delete_collection("docs")


def test_meta_round_trips(store: Store) -> None:
    meta = {"model": "all-MiniLM-L6-v2", "dim": DIM, "created": "2025-01-01", "roots": ["/a"]}
    store.create_collection("docs", DIM, meta)
    assert store.info("docs").meta == meta


def test_duplicate_create_is_an_error(store: Store) -> None:
    store.create_collection("docs", DIM, {})
    with pytest.raises(GroundError, match="already exists"):
        store.create_collection("docs", DIM, {})


def test_unknown_collection_names_the_existing_ones(store: Store) -> None:
    store.create_collection("docs", DIM, {})
    calls: list[Callable[[], object]] = [
        lambda: store.info("nope"),
        lambda: store.count("nope"),
        lambda: store.upsert("nope", corpus()[:1]),
        lambda: store.scroll("nope", None, []),
        lambda: store.retrieve("nope", [pid(0)]),
        lambda: store.delete("nope", Filters(roots=["/a"])),
        lambda: store.query("nope", dense=[1.0] * DIM, sparse=None, mode="dense", limit=3),
        lambda: store.query("nope", dense=None, sparse=SPARSE_1, mode="sparse", limit=3),
    ]
    for call in calls:
        with pytest.raises(CollectionNotFound, match=r"'nope'.*'docs'"):
            call()


@pytest.mark.parametrize("bad", ["", "-docs", ".docs", "a/b", "a b", "x" * 65, "dé", "docs\n"])
def test_bad_names_are_rejected(store: Store, bad: str) -> None:
    with pytest.raises(InputError, match="invalid collection name"):
        store.create_collection(bad, DIM, {})
    with pytest.raises(InputError, match="invalid collection name"):
        store.info(bad)


def test_name_rule_accepts_ordinary_names() -> None:
    for good in ["docs", "my-repo", "repo_2.v1", "A" + "b" * 63]:
        assert validate_collection_name(good) == good


# -- points ---------------------------------------------------------------------------------


def test_info_counts_live_points_after_replacing_and_deleting(filled: tuple[Store, list[PointData]]) -> None:
    """`info` reads the point count without visiting every point (the edge store's estimate, exact
    with no filter): it must still be the exact count once points are replaced and deleted."""
    store, points = filled
    store.upsert("docs", points[:6])  # the same ids again: replaced, not added
    store.delete("docs", Filters(paths=["src/f1.py"]))  # 4 of the 16
    store.upsert("docs", [make_point(99, points[0].dense, [1], **points[0].payload)])
    assert store.count("docs") == 13
    assert store.info("docs").points == 13


def test_upsert_count_retrieve(filled: tuple[Store, list[PointData]]) -> None:
    store, points = filled
    assert store.count("docs") == 16
    assert store.info("docs").points == 16
    hits = store.retrieve("docs", [pid(3), str(uuid.uuid4()), pid(1)])
    assert [h.id for h in hits] == [pid(3), pid(1)]
    assert hits[0].payload == points[3].payload
    assert hits[0].score == 0.0
    # upsert replaces by id
    changed = {**points[3].payload, "text": "x"}
    store.upsert("docs", [make_point(3, points[3].dense, [3], **changed)])
    assert store.count("docs") == 16
    assert store.retrieve("docs", [pid(3)])[0].payload["text"] == "x"


def test_wrong_dimension_is_incompatible(filled: tuple[Store, list[PointData]]) -> None:
    store, _ = filled
    with pytest.raises(IncompatibleCollection, match="8-d"):
        store.upsert("docs", [make_point(99, [1.0] * 4, [1])])
    with pytest.raises(IncompatibleCollection, match="8-d"):
        store.query("docs", dense=[1.0] * 4, sparse=None, mode="dense", limit=3)


def test_mode_needs_its_vectors(filled: tuple[Store, list[PointData]]) -> None:
    store, _ = filled
    with pytest.raises(InputError, match="sparse"):
        store.query("docs", dense=[1.0] * DIM, sparse=None, mode="hybrid", limit=3)
    with pytest.raises(InputError, match="dense"):
        store.query("docs", dense=None, sparse=SparseVec([1], [1.0]), mode="dense", limit=3)


@pytest.mark.parametrize("f", FILTER_CASES, ids=repr)
def test_filters_on_count_scroll_query_delete(
    filled: tuple[Store, list[PointData]], f: Filters
) -> None:
    store, points = filled
    expected = matching(points, f)
    assert store.count("docs", f) == len(expected)
    scrolled = dict(store.scroll("docs", f, ["path", "visible"], batch=3))
    assert set(scrolled) == expected
    assert all(set(payload) <= {"path", "visible"} for payload in scrolled.values())
    for mode in MODES:
        hits = store.query(
            "docs",
            dense=points[0].dense,
            sparse=SparseVec([100], [1.0]),
            mode=mode,
            limit=50,
            filters=f,
        )
        assert {h.id for h in hits} == expected, mode
    store.delete("docs", f)
    assert store.count("docs") == 16 - len(expected)
    assert store.count("docs", f) == 0


def test_scroll_without_filter_or_fields(filled: tuple[Store, list[PointData]]) -> None:
    store, points = filled
    rows = list(store.scroll("docs", None, [], batch=5))
    assert {i for i, _ in rows} == {p.id for p in points}
    assert all(payload == {} for _, payload in rows)


def test_set_visible_by_filter(filled: tuple[Store, list[PointData]]) -> None:
    store, points = filled
    store.set_visible("docs", Filters(file_hashes=["h0"]), False)
    store.set_visible("docs", Filters(file_hashes=["h1"]), True)
    assert matching_ids(store, Filters(visible=True)) == {p.id for p in points[8:]}
    store.set_visible("docs", Filters(), True)
    assert store.count("docs", Filters(visible=True)) == 16


def matching_ids(store: Store, f: Filters) -> set[str]:
    return {i for i, _ in store.scroll("docs", f, [])}


def test_delete_by_ids_and_filter(filled: tuple[Store, list[PointData]]) -> None:
    store, _ = filled
    store.delete("docs")  # no filter, no ids: nothing
    assert store.count("docs") == 16
    store.delete("docs", ids=[pid(0), pid(1)])
    assert store.count("docs") == 14
    # filter and ids together: only ids that match the filter go (pid 3 is root /b)
    store.delete("docs", Filters(roots=["/a"]), ids=[pid(2), pid(3)])
    assert {pid(2)} & matching_ids(store, Filters()) == set()
    assert pid(3) in matching_ids(store, Filters())
    assert store.count("docs") == 13


def test_points_without_vectors_are_filtered_never_found(store: Store) -> None:
    """A point with no vectors (ingest's record of a file with no chunk): counted, scrolled,
    filtered, deleted like any; no search returns it, and optimize takes it in its stride."""
    rng = np.random.default_rng(3)
    store.create_collection("docs", DIM, {})
    n = 3000 if isinstance(store, EdgeStore) else 300  # enough for the embedded store to build HNSW
    with_vectors = [
        make_point(i, unit(rng.standard_normal(DIM)), [i % 30, 100], path=f"f{i}", chunk_index=0) for i in range(n)
    ]
    bare = [PointData(pid(5000 + i), [], SparseVec([], []), {"path": f"e{i}", "chunk_index": 0}) for i in range(3)]
    store.upsert("docs", [*bare[:1], *with_vectors, *bare[1:]])
    store.optimize("docs")
    assert store.count("docs") == n + 3
    assert store.count("docs", Filters(paths=["e0", "e2"], first_chunks=True)) == 2
    assert {h.id for h in store.retrieve("docs", [bare[1].id])} == {bare[1].id}
    near = Filters(paths=["e0", "e1", "e2", "f0", "f1"])
    for mode in MODES:
        for f in (None, near):
            hits = store.query(
                "docs", dense=with_vectors[0].dense, sparse=SparseVec([100], [1.0]), mode=mode, limit=50, filters=f
            )
            assert hits and not {p.id for p in bare} & {h.id for h in hits}, mode
        assert {h.payload["path"] for h in hits} == {"f0", "f1"}, mode
    with pytest.raises(IncompatibleCollection, match="8-d"):  # the others in a batch are still checked
        store.upsert("docs", [bare[0], make_point(9999, [1.0] * 4, [1])])
    store.delete("docs", Filters(paths=["e1"]))
    assert store.count("docs") == n + 2


# -- ranking --------------------------------------------------------------------------------


def test_dense_sparse_hybrid_rank_the_clear_best_first(
    filled: tuple[Store, list[PointData]],
) -> None:
    store, points = filled
    rng = np.random.default_rng(1)
    near_5 = unit(np.array(points[5].dense) + 0.01 * rng.standard_normal(DIM))
    dense = store.query("docs", dense=near_5, sparse=None, mode="dense", limit=3)
    assert dense[0].id == pid(5) and dense[0].score > 0.99
    assert dense[0].payload["text"] == "chunk 5"
    query_9 = SparseVec([9, 100], [1.0, 0.1])
    sparse = store.query("docs", dense=None, sparse=query_9, mode="sparse", limit=3)
    assert sparse[0].id == pid(9)
    hybrid = store.query("docs", dense=near_5, sparse=SparseVec([5], [1.0]), mode="hybrid", limit=3)
    assert hybrid[0].id == pid(5)
    assert hybrid[0].score > hybrid[1].score


def test_rrf_weights_change_the_hybrid_order(filled: tuple[Store, list[PointData]]) -> None:
    store, points = filled
    args: dict[str, Any] = {
        "dense": points[2].dense,
        "sparse": SparseVec([7], [1.0]),
        "mode": "hybrid",
        "limit": 2,
        "prefetch_limit": 1,
    }  # dense's best is 2, sparse's best is 7: each list has one point
    assert store.query("docs", **args, fusion=Fusion("rrf", rrf_weights=(3.0, 1.0)))[0].id == pid(2)
    assert store.query("docs", **args, fusion=Fusion("rrf", rrf_weights=(1.0, 3.0)))[0].id == pid(7)


def test_formula_fusion_adds_a_saturated_lexical_score_weighted_by_kind(store: Store) -> None:
    """score = cosine + w(kind) * bm25 / (bm25 + saturation), computed by the store."""
    store.create_collection("mix", 2, {})
    store.upsert(
        "mix",
        [
            PointData(pid(i), [1.0, 0.0], SparseVec([5], [1.0]), {"kind": kind, "visible": True})
            for i, kind in ((1, "code"), (2, "doc"), (3, "other"))
        ]
        + [PointData(pid(4), [0.0, 1.0], SparseVec([6], [1.0]), {"kind": "code", "visible": True})],
    )
    fusion = Fusion(lexical=(("code", 1.0), ("doc", 0.25)), saturation=1.0)
    hits = store.query("mix", dense=[1.0, 0.0], sparse=SparseVec([5], [1.0]), mode="hybrid", limit=4, fusion=fusion)
    scores = {h.id: h.score for h in hits}
    bm25 = store.query("mix", dense=None, sparse=SparseVec([5], [1.0]), mode="sparse", limit=1)[0].score
    lexical = bm25 / (bm25 + 1.0)
    assert scores[pid(1)] == pytest.approx(1.0 + lexical, abs=1e-3)
    assert scores[pid(2)] == pytest.approx(1.0 + 0.25 * lexical, abs=1e-3)
    assert scores[pid(3)] == pytest.approx(1.0, abs=1e-3)  # a kind with no weight: dense only
    assert scores[pid(4)] == pytest.approx(0.0, abs=1e-3)  # orthogonal, no shared term
    assert [h.id for h in hits][:3] == [pid(1), pid(2), pid(3)]


def clustered(n: int, clusters: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, DIM))
    labels = rng.integers(0, clusters, n)
    x = centres[labels] + 0.15 * rng.standard_normal((n, DIM))
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_optimize_keeps_top_results(store: Store) -> None:
    x, labels = clustered(3000, 30, seed=3)
    store.create_collection("big", DIM, {})
    # distinct sparse weights, so no two points tie in the sparse ranking
    weights = 0.5 + (np.arange(len(x)) * 0.618034) % 1.0
    batch = [
        PointData(
            pid(i),
            x[i].tolist(),
            SparseVec([int(labels[i])], [float(weights[i])]),
            {"root": "/r", "visible": True},
        )
        for i in range(len(x))
    ]
    for start in range(0, len(batch), 500):
        store.upsert("big", batch[start : start + 500])
    rng = np.random.default_rng(4)
    probes = range(0, 3000, 300)
    queries = [(i, unit(x[i] + 0.002 * rng.standard_normal(DIM))) for i in probes]

    def top(mode: SearchMode) -> list[list[str]]:
        return [
            [
                h.id
                for h in store.query(
                    "big",
                    dense=q,
                    sparse=SparseVec([int(labels[i])], [1.0]),
                    mode=mode,
                    limit=5,
                    filters=Filters(visible=True),
                )
            ]
            for i, q in queries
        ]

    before = {mode: top(mode) for mode in MODES}
    assert [ids[0] for ids in before["dense"]] == [pid(i) for i in probes]
    store.optimize("big")
    assert {mode: top(mode) for mode in MODES} == before
    assert store.count("big") == 3000
    if isinstance(store, EdgeStore):  # make sure the HNSW path really ran
        assert store._open("big").shard.info().indexed_vectors_count >= 2 * 3000


def test_concurrent_queries_agree(filled: tuple[Store, list[PointData]]) -> None:
    store, points = filled

    def ask(p: PointData) -> list[str]:
        hits = store.query("docs", dense=p.dense, sparse=None, mode="dense", limit=3)
        return [h.id for h in hits]

    expected = [ask(p) for p in points]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert [ask(p) for p in points] == expected
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# -- edge specifics -------------------------------------------------------------------------


def test_edge_reopen_keeps_data_and_meta(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path)
    first.create_collection("docs", DIM, {"model": "m", "n": 1})
    first.upsert("docs", corpus())
    first.set_visible("docs", Filters(roots=["/a"]), False)
    first.close()
    again = EdgeStore(tmp_path)
    try:
        info = again.info("docs")
        assert (info.points, info.dim, info.meta) == (16, DIM, {"model": "m", "n": 1})
        assert again.count("docs", Filters(visible=False, roots=["/a"])) == 8
        assert again.retrieve("docs", [pid(4)])[0].payload["text"] == "chunk 4"
    finally:
        again.close()


def test_edge_collection_made_before_an_index_gets_it_on_first_open_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    import qdrant_edge as qe

    first = EdgeStore(tmp_path)
    first.create_collection("docs", DIM, {})
    first.upsert("docs", corpus())
    first.close()
    shard_dir = str(tmp_path / "collections" / "docs" / "shard")

    def indexed() -> set[str]:
        shard = qe.EdgeShard.load(shard_dir)
        try:
            return set(shard.info().payload_schema)
        finally:
            shard.close()

    shard = qe.EdgeShard.load(shard_dir)  # as an earlier version made it: no chunk_index index
    shard.update(qe.UpdateOperation.delete_field_index("chunk_index"))
    shard.flush()
    shard.close()
    assert "chunk_index" not in indexed()

    for _ in range(2):
        with caplog.at_level(logging.INFO, logger="groundmcp.store.edge"):
            again = EdgeStore(tmp_path)
            try:
                assert again.count("docs", Filters(first_chunks=True)) == 8
            finally:
                again.close()
    assert [r.getMessage() for r in caplog.records if "indexed" in r.getMessage()] == [
        "collection 'docs': indexed payload fields chunk_index"
    ]
    assert {"chunk_index", "path", "visible"} <= indexed()


@pytest.mark.skipif(not os.environ.get("QDRANT_URL"), reason="needs a Qdrant server (QDRANT_URL)")
def test_server_collection_made_before_an_index_gets_it_on_first_use() -> None:
    url, key = os.environ["QDRANT_URL"], os.environ.get("QDRANT_API_KEY")
    prefix = f"t{uuid.uuid4().hex[:10]}_"
    first = QdrantStore(url=url, api_key=key, prefix=prefix)
    try:
        first.create_collection("docs", DIM, {})
        first.upsert("docs", corpus())
        first._client.delete_payload_index(prefix + "docs", "chunk_index", wait=True)
        again = QdrantStore(url=url, api_key=key, prefix=prefix)
        try:
            assert again.count("docs", Filters(first_chunks=True)) == 8
            assert "chunk_index" in (again._client.get_collection(prefix + "docs").payload_schema or {})
        finally:
            again.close()
    finally:
        first.delete_collection("docs")
        first.close()


def test_edge_damaged_collection_says_how_to_recover(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    store.create_collection("docs", DIM, {})
    store.close()
    meta_file = tmp_path / "collections" / "docs" / "collection.json"
    meta_file.write_text("{not json")
    store = EdgeStore(tmp_path)
    try:
        assert store.list_collections() == ["docs"]
        with pytest.raises(GroundError, match=r"damaged.*Delete the collection"):
            store.info("docs")
        with pytest.raises(GroundError, match="damaged"):
            store.create_collection("docs", DIM, {})
        store.delete_collection("docs")
        assert store.list_collections() == []
        store.create_collection("docs", DIM, {})
        assert json.loads(meta_file.read_text())["dim"] == DIM
    finally:
        store.close()


WRITE_THEN_DIE = """
import os, signal, sys, uuid
from pathlib import Path
from groundmcp.store.base import Filters, PointData, SparseVec
from groundmcp.store.edge import EdgeStore
store = EdgeStore(Path(sys.argv[1]))
store.create_collection("docs", 4, {"model": "m"})
for i in range(50):
    point = PointData(str(uuid.UUID(int=i + 1)), [1.0, 0.0, 0.5, float(i)], SparseVec([i], [1.0]),
                      {"root": "/a", "visible": False})
    store.upsert("docs", [point])
store.set_visible("docs", Filters(roots=["/a"]), True)
store.delete("docs", ids=[str(uuid.UUID(int=1))])
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_edge_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    child = subprocess.run(
        [sys.executable, "-c", WRITE_THEN_DIE, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -9, child.stderr
    store = EdgeStore(tmp_path)  # the lock died with the child
    try:
        assert store.info("docs").meta == {"model": "m"}
        assert store.count("docs") == 49
        assert store.count("docs", Filters(visible=True)) == 49
    finally:
        store.close()


def test_edge_queries_during_optimize_stay_correct(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path, indexing_threshold_kb=32)
    try:
        x, _ = clustered(3000, 30, seed=5)
        store.create_collection("big", DIM, {})
        store.upsert("big", [make_point(i, x[i].tolist(), [i % 7]) for i in range(len(x))])
        queries = [x[i].tolist() for i in range(0, 3000, 300)]

        def top() -> list[list[str]]:
            found = [
                store.query("big", dense=q, sparse=None, mode="dense", limit=5) for q in queries
            ]
            return [[h.id for h in hits] for hits in found]

        expected = top()
        seen: list[list[list[str]]] = []
        stop = threading.Event()

        running = threading.Event()

        def keep_querying() -> None:
            while not stop.is_set():
                seen.append(top())
                running.set()

        worker = threading.Thread(target=keep_querying)
        worker.start()
        assert running.wait(30)
        store.optimize("big")
        stop.set()
        worker.join()
        assert seen and all(result == expected for result in seen)
        assert top() == expected
    finally:
        store.close()


OPEN_IN_CHILD = """
import sys
from pathlib import Path
from groundmcp.errors import StoreLocked
from groundmcp.store.edge import EdgeStore
try:
    EdgeStore(Path(sys.argv[1])).close()
except StoreLocked as exc:
    print(exc)
    sys.exit(3)
"""


def open_in_child(data_dir: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", OPEN_IN_CHILD, str(data_dir)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_edge_second_process_is_refused(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    try:
        child = open_in_child(tmp_path)
        assert child.returncode == 3, child.stderr
        assert str(tmp_path) in child.stdout
        assert f"pid {os.getpid()}" in child.stdout
        assert "GROUNDMCP_DATA_DIR" in child.stdout
        with pytest.raises(StoreLocked, match="this process"):
            EdgeStore(tmp_path)
    finally:
        store.close()
    assert open_in_child(tmp_path).returncode == 0


def test_closed_edge_store_refuses_work(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path)
    store.create_collection("docs", DIM, {})
    store.close()
    store.close()  # twice is fine
    with pytest.raises(GroundError, match="closed"):
        store.info("docs")


# -- qdrant-client specifics and the factory ------------------------------------------------


def test_local_mode_second_client_is_refused(tmp_path: Path) -> None:
    store = QdrantStore(path=tmp_path)
    try:
        with pytest.raises(StoreLocked, match=str(tmp_path)):
            QdrantStore(path=tmp_path)
    finally:
        store.close()
    again = QdrantStore(path=tmp_path)
    again.close()
    again.close()  # twice is fine


def test_unreachable_server_says_so() -> None:
    with pytest.raises(GroundError, match=r"cannot use the Qdrant server at http://127.0.0.1:9"):
        QdrantStore(url="http://127.0.0.1:9")


def test_factory_picks_the_backend(tmp_path: Path) -> None:
    edge = open_store(
        data_dir=tmp_path, qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None
    )
    try:
        assert isinstance(edge, EdgeStore) and edge.backend == "edge"
        assert (tmp_path / "edge" / "LOCK").exists()
    finally:
        edge.close()
    local = open_store(
        data_dir=tmp_path, qdrant_url=None, qdrant_api_key=None, qdrant_local_path=tmp_path / "q"
    )
    try:
        assert isinstance(local, QdrantStore) and local.backend == "qdrant"
        assert local.location == str(tmp_path / "q")
    finally:
        local.close()
    with pytest.raises(InputError, match="keep one"):
        open_store(
            data_dir=tmp_path,
            qdrant_url="http://x:6333",
            qdrant_api_key=None,
            qdrant_local_path=tmp_path / "q",
        )


@pytest.mark.parametrize("exact_up_to", [None, 0])
def test_edge_searches_small_collections_exactly(
    tmp_path: Path, exact_up_to: int | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below EXACT_SEARCH_MAX_POINTS the embedded store searches dense vectors exactly, even once
    optimize has built HNSW: the top 100 are brute force's. (Forced onto HNSW, they are not: the
    test can tell.)"""
    import groundmcp.store.edge as edge_module

    if exact_up_to is not None:
        monkeypatch.setattr(edge_module, "EXACT_SEARCH_MAX_POINTS", exact_up_to)
    rng = np.random.default_rng(11)
    dim, n = 384, 8000  # 12 MB of vectors: over the 10 MB below which Qdrant scans a segment anyway
    x = rng.standard_normal((n, dim))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    store = EdgeStore(tmp_path / "edge", indexing_threshold_kb=32)
    store.create_collection("hard", dim, {})
    points = [PointData(pid(i), x[i].tolist(), SparseVec([1], [1.0]), {"visible": True}) for i in range(n)]
    for start in range(0, n, 1000):
        store.upsert("hard", points[start : start + 1000])
    store.optimize("hard")
    assert store._open("hard").shard.info().indexed_vectors_count >= n
    queries = rng.standard_normal((20, dim))
    found, expected = [], []
    for q in queries:
        q /= np.linalg.norm(q)
        hits = store.query("hard", dense=q.tolist(), sparse=None, mode="dense", limit=100)
        found.append([h.id for h in hits])
        expected.append([pid(int(i)) for i in np.argsort(-(x @ q), kind="stable")[:100]])
    store.close()
    if exact_up_to is None:
        assert found == expected
    else:
        assert found != expected
