"""Incremental ingest on both store backends: unchanged trees encode nothing, edits re-encode only
their file, deletions remove chunks, bad input changes nothing, an interrupted run converges."""

from __future__ import annotations

import os

import numpy as np
import pytest

from groundmcp.encoders.base import Encoder
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.errors import IncompatibleCollection, InputError
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.store.base import Filters


class CountingEncoder(Encoder):
    """Wraps an encoder and counts what it is asked to encode (or fails after a budget)."""

    def __init__(self, inner: Encoder, fail_after: int | None = None) -> None:
        self.inner, self.fail_after, self.encoded = inner, fail_after, 0
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.batch_size = 4

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def _embed(self, texts, *, is_query):
        if self.fail_after is not None and self.encoded + len(texts) > self.fail_after:
            raise RuntimeError("simulated crash during encoding")
        self.encoded += len(texts)
        return self.inner._embed(texts, is_query=is_query)


def run(store, encoder, root, **kw):
    return ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t", **kw))


def snapshot(store) -> dict[str, tuple]:
    """id -> (path, file_hash, start_line) of every point, visible or not."""
    return {
        pid: (p["path"], p["file_hash"], p["start_line"], p["visible"])
        for pid, p in store.scroll("t", None, ["path", "file_hash", "start_line", "visible"])
    }


def test_first_ingest_indexes_all_but_ignored(store, project, hashing_encoder):
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    assert sorted(report.added) == ["docs/guide.md", "src/billing.py", "src/retry.js"]
    assert report.chunks == enc.encoded == store.count("t", Filters(kinds=["code", "doc"])) > 3
    assert store.count("t", Filters(kinds=["symbols"])) == 2  # one symbols record per code file
    assert store.count("t", Filters(visible=False)) == 0
    paths = {p for p, *_ in snapshot(store).values()}
    assert "build/generated.py" not in paths  # default ignore list


def test_reingest_unchanged_encodes_nothing(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    before = snapshot(store)
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    assert enc.encoded == 0 and report.chunks == 0
    assert report.unchanged == 3 and not report.added and not report.changed
    assert snapshot(store) == before


def test_touched_but_same_content_is_not_reencoded(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    os.utime(project / "src" / "retry.js", ns=(1, 1))
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    assert enc.encoded == 0 and report.unchanged == 3


def test_editing_one_file_reencodes_only_its_chunks(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    before = snapshot(store)
    guide = project / "docs" / "guide.md"
    guide.write_text(guide.read_text() + "\n## Support\n\nWrite to support@example.com.\n")
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project)
    after = snapshot(store)
    assert report.changed == ["docs/guide.md"] and report.unchanged == 2
    new_guide = {i for i, v in after.items() if v[0] == "docs/guide.md"}
    assert enc.encoded == report.chunks == len(new_guide)
    # Other files' points are untouched; the old guide chunks are gone.
    assert {i: v for i, v in after.items() if v[0] != "docs/guide.md"} == {
        i: v for i, v in before.items() if v[0] != "docs/guide.md"
    }
    assert not new_guide & {i for i, v in before.items() if v[0] == "docs/guide.md"}
    assert len({v[1] for v in after.values() if v[0] == "docs/guide.md"}) == 1


def test_deleting_a_file_removes_its_chunks(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    n_js = store.count("t", Filters(paths=["src/retry.js"], kinds=["code"]))  # its symbols record is no chunk
    (project / "src" / "retry.js").unlink()
    report = run(store, hashing_encoder, project)
    assert report.removed == ["src/retry.js"] and report.chunks_removed == n_js
    assert store.count("t", Filters(paths=["src/retry.js"])) == 0


def test_dry_run_reports_and_writes_nothing(store, project, hashing_encoder):
    enc = CountingEncoder(hashing_encoder)
    report = run(store, enc, project, dry_run=True)
    assert report.dry_run and report.chunks > 0 and report.tokens > 0
    assert enc.encoded == 0
    assert "t" not in store.list_collections()


def test_interrupted_ingest_converges_to_a_clean_one(store, project, hashing_encoder, tmp_path):
    for i in range(8):
        (project / "src" / f"mod{i}.py").write_text(
            "".join(f"def f{i}_{j}(x):\n    return x + {j}\n\n\n" for j in range(6))
        )
    crashing = CountingEncoder(hashing_encoder, fail_after=10)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(store, crashing, project, window_chunks=4)
    # Whatever was written is either published whole or invisible: no file is half-visible.
    visible = [v for v in snapshot(store).values() if v[3]]
    for path in {v[0] for v in visible}:
        assert len({v[1] for v in visible if v[0] == path}) == 1
    report = run(store, hashing_encoder, project)
    assert store.count("t", Filters(visible=False)) == 0
    converged = snapshot(store)

    from groundmcp.store.factory import open_store

    clean_store = open_store(
        data_dir=tmp_path / "clean", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None
    )
    try:
        run(clean_store, hashing_encoder, project)
        assert set(converged) == set(snapshot(clean_store))
    finally:
        clean_store.close()
    assert report.files_seen == 11


def test_bad_files_are_skipped_with_reasons(store, project, hashing_encoder):
    (project / "blob.dat").write_bytes(b"\x00\x01binary\x00" * 100)
    big = project / "huge.txt"
    with open(big, "wb") as fh:  # a sparse 50 MB file: costs no disk, never read
        fh.truncate(50 * 1024 * 1024)
    (project / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    os.symlink(project / "loop", project / "loop")
    report = run(store, hashing_encoder, project)
    reasons = {s.path: s.reason for s in report.skipped}
    assert reasons["blob.dat"] == "binary file"
    assert reasons["huge.txt"] == "larger than 2 MB (52.4 MB)"
    assert reasons["latin1.txt"] == "not UTF-8 text"
    assert "loop" in reasons["loop"]
    assert sorted(report.added) == ["docs/guide.md", "src/billing.py", "src/retry.js"]


def test_missing_path_fails_before_touching_the_store(store, tmp_path, hashing_encoder):
    with pytest.raises(InputError, match="does not exist"):
        run(store, hashing_encoder, tmp_path / "nope")
    assert "t" not in store.list_collections()


def test_other_model_is_refused_and_changes_nothing(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    before = snapshot(store)
    other = HashingEncoder(dim=32)
    with pytest.raises(IncompatibleCollection, match=r"hashing-64 \(64-d vectors\).*hashing-32 \(32-d\)"):
        run(store, other, project)
    assert snapshot(store) == before


def test_single_file_ingest_leaves_siblings_alone(store, project, hashing_encoder):
    run(store, hashing_encoder, project / "src")
    (project / "src" / "billing.py").write_text("def changed():\n    return 2\n")
    report = run(store, hashing_encoder, project / "src" / "billing.py")
    assert report.changed == ["billing.py"] and report.removed == []
    assert store.count("t", Filters(paths=["retry.js"])) > 0


def test_payload_carries_citation_fields(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    fields = ["symbol", "start_line", "end_line", "language", "kind", "file_hash", "root", "text"]
    payloads = [p for _, p in store.scroll("t", Filters(paths=["src/billing.py"], kinds=["code"]), fields)]
    assert {p["language"] for p in payloads} == {"python"}
    assert {p["kind"] for p in payloads} == {"code"}
    assert all(p["root"] == str(project.resolve()) for p in payloads)
    method = next(p for p in payloads if p["symbol"].endswith("total_with_tax"))
    lines = (project / "src" / "billing.py").read_text().splitlines()
    assert method["text"] == "\n".join(lines[method["start_line"] - 1 : method["end_line"]])
    assert np.isfinite(method["start_line"])


def test_dry_run_on_an_existing_index_changes_nothing(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    before = snapshot(store)
    (project / "src" / "retry.js").unlink()
    (project / "docs" / "guide.md").write_text("# Changed\n\nNew text.\n")
    report = run(store, hashing_encoder, project, dry_run=True)
    assert report.removed == ["src/retry.js"] and report.changed == ["docs/guide.md"]
    assert snapshot(store) == before


def test_texts_ingest_incrementally_and_leave_files_alone(store, project, hashing_encoder):
    from groundmcp.ingest.pipeline import ingest_texts
    from groundmcp.record import TEXTS_ROOT

    run(store, hashing_encoder, project)
    files = store.count("t", Filters(roots=[str(project.resolve())]))
    opts = IngestOptions(collection="t")
    docs = [("notes/a.md", "# A\n\nalpha text"), ("b", "beta paragraph one.\n\nbeta paragraph two.")]
    first = ingest_texts(docs, store=store, encoder=hashing_encoder, options=opts)
    assert sorted(first.added) == ["b", "notes/a.md"] and first.chunks >= 2
    enc = CountingEncoder(hashing_encoder)
    again = ingest_texts([docs[0], ("b", "beta changed")], store=store, encoder=enc, options=opts)
    assert again.unchanged == 1 and again.changed == ["b"] and enc.encoded == again.chunks
    assert store.count("t", Filters(roots=[TEXTS_ROOT], paths=["b"])) == again.chunks
    assert store.count("t", Filters(roots=[str(project.resolve())])) == files
    with pytest.raises(InputError, match="unique"):
        ingest_texts([("x", "1"), ("x", "2")], store=store, encoder=hashing_encoder, options=opts)


def test_a_file_that_turns_binary_loses_its_old_chunks(store, project, hashing_encoder):
    run(store, hashing_encoder, project)
    (project / "src" / "retry.js").write_bytes(b"\x00binary now\x00")
    report = run(store, hashing_encoder, project)
    assert {s.path: s.reason for s in report.skipped}["src/retry.js"] == "binary file"
    assert store.count("t", Filters(paths=["src/retry.js"])) == 0
