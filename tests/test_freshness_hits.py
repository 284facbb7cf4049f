"""Freshness on hits (issue 14): each hit says when its file was indexed and whether the file on disk
is still that version; collection_stats shows the changes the watcher has yet to re-ingest."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from dataclasses import replace

import anyio
import pytest
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.record import ChunkRecord, utc_stamp
from groundmcp.search.query import SearchRequest, disk_state
from groundmcp.server.app import build_server
from groundmcp.settings import Settings
from groundmcp.sparse import document_vector
from groundmcp.store.base import Filters, PointData

pytestmark = pytest.mark.anyio

STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
DEADLINE_S = 30.0


@pytest.fixture
def engine(tmp_path, real_encoder):
    eng = Engine(Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"], watch=False), encoder=real_encoder)
    yield eng
    eng.close()


def module(name: str, words: str) -> str:
    return f"def {name}():\n    return '{words}'\n"


async def test_every_record_of_a_file_version_carries_its_stat_and_when_it_was_indexed(tmp_path, engine):
    root = tmp_path / "work"
    root.mkdir()
    guide = root / "guide.md"
    guide.write_text("# Guide\n\n" + "\n\n".join(f"## Part {i}\n\n" + f"part {i} explains step {i}. " * 40 for i in range(6)))
    before = utc_stamp(time.time() - 1)
    engine.ingest(str(root))
    after = utc_stamp(time.time() + 1)
    st = guide.stat()
    fields = ["chunk_index", "indexed_at", "file_size", "file_mtime_ns"]
    rows = [p for _, p in engine.store.scroll("default", Filters(visible=True), fields)]
    assert len(rows) > 3  # several chunks, and every one carries the file version's facts
    for p in rows:
        assert STAMP.fullmatch(p["indexed_at"]) and before <= p["indexed_at"] <= after
        assert (p["file_size"], p["file_mtime_ns"]) == (st.st_size, st.st_mtime_ns)
    assert len({p["indexed_at"] for p in rows}) == 1


async def test_hits_say_whether_their_file_is_unchanged_changed_or_deleted(tmp_path, engine):
    root = tmp_path / "work"
    root.mkdir()
    files = {n: root / f"{n}.py" for n in ("touched", "same_size", "grown", "gone", "kept")}
    for n, f in files.items():
        f.write_text(module(n, f"{n} keeps the ledger of {n}"))
    engine.ingest(str(root))
    engine.ingest_texts([("notes/faq", "the kept ledger answers questions")])
    # A touch (new mtime, same content), an edit to the same length, a longer edit, a deletion.
    later = time.time_ns() + 5_000_000_000
    os.utime(files["touched"], ns=(later, later))
    files["same_size"].write_text(module("same_size", "same_size keeps the ledger of SAME_SIZE"))
    files["grown"].write_text(module("grown", "grown keeps the ledger of grown and much more"))
    files["gone"].unlink()
    want = {"touched": "unchanged", "same_size": "changed", "grown": "changed", "gone": "deleted", "kept": "unchanged"}
    async with Client(build_server(engine.settings, engine=engine)) as client:
        for name, state in want.items():
            result = await client.call_tool("search", {"query": f"{name} ledger", "path": f"{name}.py", "top_k": 1})
            hit = result.structured_content["hits"][0]
            assert (hit["path"], hit["disk_state"]) == (f"{name}.py", state)
            assert STAMP.fullmatch(hit["indexed_at"])
            text = result.content[0].text
            assert ("changed on disk since it was indexed" in text) == (state == "changed"), text
            assert ("deleted from disk since it was indexed" in text) == (state == "deleted"), text
        texts = (await client.call_tool("search", {"query": "ledger questions", "path": "notes/faq"})).structured_content
        assert texts["hits"][0]["disk_state"] == "unknown" and STAMP.fullmatch(texts["hits"][0]["indexed_at"])
        # Without a watcher the stats say nothing waits.
        stats = (await client.call_tool("collection_stats", {})).structured_content
        assert (stats["watched"], stats["pending"], stats["reingesting"]) == (False, 0, False)


async def test_records_written_before_freshness_existed_still_search_with_null_fields(tmp_path, engine, real_encoder):
    root = tmp_path / "work"
    root.mkdir()
    (root / "new.py").write_text(module("fresh", "fresh code"))
    engine.ingest(str(root))
    old = root / "old.py"
    old.write_text(module("legacy_totals", "legacy totals of the old ledger"))
    text = old.read_text().rstrip("\n")
    record = ChunkRecord(root=str(root), path="old.py", language="python", kind="code", symbol="legacy_totals",
                         start_line=1, end_line=2, text=text, visible=True,
                         file_hash=hashlib.sha256(old.read_bytes()).hexdigest()).to_payload()
    for field in ("indexed_at", "file_size", "file_mtime_ns"):  # what an old writer left out
        del record[field]
    dense = real_encoder.encode_documents([text])[0].tolist()
    engine.store.upsert("default", [PointData("00000000-0000-4000-8000-000000000001", dense, document_vector(text), record)])
    async with Client(build_server(engine.settings, engine=engine)) as client:
        hit = (await client.call_tool("search", {"query": "legacy totals", "path": "old.py"})).structured_content["hits"][0]
        assert (hit["indexed_at"], hit["disk_state"]) == (None, "unchanged")  # told from the content's hash
        old.write_text(module("legacy_totals", "legacy totals, rewritten"))
        hit = (await client.call_tool("search", {"query": "legacy totals", "path": "old.py"})).structured_content["hits"][0]
        assert hit["disk_state"] == "changed"
    [found] = engine.search(SearchRequest(query="legacy totals", path_glob="old.py", top_k=1))
    assert found.file_size is None and found.file_mtime_ns is None
    assert disk_state(replace(found, file_hash="")) == "unknown"  # no stat, no hash: nothing to compare


async def test_collection_stats_show_the_changes_the_watcher_has_yet_to_reingest(tmp_path, real_encoder):
    root = tmp_path / "work"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "base.py").write_text(module("base", "base module"))  # in a subfolder: a tree, not single files
    settings = Settings(data_dir=tmp_path / "data", roots=[root], watch=True)
    engine = Engine(settings, encoder=real_encoder)
    engine.ingest(str(root))
    release, blocked = threading.Event(), threading.Event()

    def hold(_progress) -> None:  # an ingest of the collection holds it, so the watcher's waits
        blocked.set()
        release.wait(60)

    try:
        async with Client(build_server(settings, engine=engine)) as client:
            async def stats() -> dict:
                return (await client.call_tool("collection_stats", {})).structured_content

            deadline = time.monotonic() + DEADLINE_S
            while not (await stats())["watched"]:
                assert time.monotonic() < deadline, "the watcher never watched the collection"
                await anyio.sleep(0.05)
            holder = threading.Thread(target=engine.ingest, args=(str(root),), kwargs={"progress": hold})
            holder.start()
            assert blocked.wait(30)
            # Three new files; written again until the watch (started just now) has seen them.
            while True:
                for i in range(3):
                    (root / f"new_{i}.py").write_text(module(f"new_{i}", f"new module {i} of the watched tree"))
                seen_until = time.monotonic() + 2
                while time.monotonic() < seen_until and not ((s := await stats())["reingesting"] and s["pending"] == 3):
                    await anyio.sleep(0.05)
                if s["reingesting"] and s["pending"] == 3:
                    break
                assert time.monotonic() < deadline, f"the stats never showed the batch: {s}"
            release.set()
            holder.join(30)
            while (s := await stats())["pending"] or s["reingesting"]:
                assert time.monotonic() < deadline + DEADLINE_S, f"the batch never finished: {s}"
                await anyio.sleep(0.05)
            hit = (await client.call_tool("search", {"query": "new module 2", "path": "new_2.py"})).structured_content["hits"][0]
            assert hit["disk_state"] == "unchanged" and s["watched"]
    finally:
        release.set()
        engine.close()
