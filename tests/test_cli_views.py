"""The command line without the real model (issue 15): what a collection holds (`collections NAME`,
`files`), progress in a log, the dry run's agreement with the real run, and the smaller rough edges.
In process through typer's runner, with the hashing encoder standing in for the model."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from groundmcp import cli
from groundmcp.encoders.hashing import HashingEncoder


class SlowHashing(HashingEncoder):
    """Slow enough for an ingest to last a few progress intervals."""

    def _embed(self, texts, *, is_query):
        time.sleep(0.05)
        return super()._embed(texts, is_query=is_query)


@pytest.fixture
def run(tmp_path, monkeypatch):
    """`run(*args)` -> the result of `groundmcp ARGS` against a fresh data dir."""
    monkeypatch.setenv("GROUNDMCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("GROUNDMCP_MODEL", "hashing-64")
    monkeypatch.setattr("groundmcp.encoders.factory.load_encoder", lambda settings: SlowHashing(dim=64, batch_size=2))

    def invoke(*args: str, code: int = 0):
        result = CliRunner().invoke(cli.app, list(args))
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    yield invoke


def test_collections_name_shows_what_is_indexed(run, project):
    (project / "src" / "__init__.py").write_text("")  # a file with no chunk
    report = json.loads(run("ingest", str(project), "-c", "proj", "--json").stdout)
    stats = json.loads(run("collections", "proj", "--json").stdout)
    assert stats["model"] == "hashing-64" and stats["dim"] == 64
    assert stats["roots"] == [str(project)]
    assert stats["files"] == 3 and stats["empty_files"] == 1
    assert stats["files_by_language"] == {"python": 1, "javascript": 1, "markdown": 1}
    assert sum(stats["languages"].values()) == stats["chunks"] == report["chunks"]
    assert stats["disk_bytes"] > 0 and stats["updated"].startswith("20")
    text = run("collections", "proj").stdout
    for needed in ("hashing-64 (64-d vectors)", str(project), "last ingest", "on disk", "python", "markdown"):
        assert needed in text
    # The listing counts the same chunks as ingest encoded (the empty file's record is not one).
    rows = json.loads(run("collections", "--json").stdout)
    assert rows == [{"name": "proj", "model": "hashing-64", "dim": 64, "chunks": report["chunks"],
                     "created": stats["created"], "error": ""}]
    run("collections", "missing", code=1)


def test_files_lists_the_indexed_files_with_a_glob(run, project):
    run("ingest", str(project), "-c", "proj")
    rows = json.loads(run("files", "proj", "--json").stdout)
    assert [r["path"] for r in rows] == ["docs/guide.md", "src/billing.py", "src/retry.js"]
    assert all(r["chunks"] > 0 and r["root"] == str(project) for r in rows)
    rows = json.loads(run("files", "proj", "--glob", "src/**/*.py", "--json").stdout)
    assert [(r["path"], r["language"]) for r in rows] == [("src/billing.py", "python")]
    assert "src/retry.js" in run("files", "proj", "-g", "src/").stdout
    assert "no indexed file in 'proj' matches 'lib/*.py'" in run("files", "proj", "-g", "lib/*.py").stdout


def test_ingest_without_a_terminal_logs_progress_lines(run, project, monkeypatch):
    monkeypatch.setattr(cli, "PROGRESS_EVERY_S", 0.02)
    for i in range(12):
        (project / "src" / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n")
    result = run("ingest", str(project))
    lines = [line for line in result.stderr.splitlines() if line.startswith("ingest: ")]
    assert lines, result.stderr
    assert any("/15 files" in line and "elapsed" in line for line in lines)
    assert any("ETA" in line or "finishing" in line for line in lines)


def test_progress_knows_the_total_before_the_first_file(tmp_path, project, hashing_encoder):
    """The bar shows 0/3 as soon as the walk is done, before the model loads and encodes, not 0/?."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    seen = []
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    engine.ingest(str(project), progress=seen.append)
    engine.close()
    assert seen[0] == (0, 3, 0, 0)  # files done, total, chunks encoded, written


def test_progress_line_reads_well():
    from groundmcp.ingest.report import IngestProgress, progress_line

    line = progress_line("ingest", IngestProgress(100, 400, 2000, 2000), 50.0)
    assert line == "ingest: 100/400 files, 2,000 chunks encoded, 40.0 chunks/s, ETA 2 min 30 s, 50 s elapsed"
    assert "walking" in progress_line("ingest", None, 3.0)


def test_dry_run_agrees_with_the_real_run(run, project):
    run("ingest", str(project))
    for name in ("billing.py", "retry.js"):
        path = project / "src" / name
        path.write_text(path.read_text() + "\n// changed\n" if name.endswith(".js") else path.read_text() + "\n# changed\n")
    (project / "docs" / "guide.md").unlink()
    dry = json.loads(run("ingest", str(project), "--dry-run", "--json").stdout)
    real = json.loads(run("ingest", str(project), "--json").stdout)
    assert dry["chunks_removed"] == real["chunks_removed"] > 0
    assert dry["chunks"] == real["chunks"] and dry["changed"] == real["changed"] and dry["removed"] == real["removed"]


def test_dry_run_refuses_a_name_the_real_run_refuses(run, project):
    for extra in ([], ["--dry-run"]):
        result = run("ingest", str(project), "-c", "bad/name", *extra, code=1)
        assert "invalid collection name 'bad/name'" in result.stderr


def test_deleting_a_collection_says_how_many_chunks_went(run, project):
    report = json.loads(run("ingest", str(project), "--json").stdout)
    result = run("collections", "--delete", "default")
    assert f"deleted collection 'default' ({report['chunks']} chunks)" in result.stderr


def test_help_shows_flags_without_placeholders(run):
    for command in ("ingest", "search", "serve", "collections", "files", "doctor"):
        text = run(command, "--help").stdout
        deliberate = text.replace("--no-model", "").replace("--no-owner", "")  # flags of their own, not --x/--no-x pairs
        assert "<bool>" not in text and "--no-" not in deliberate, text


def test_the_listing_counts_the_chunks_ingest_encoded(run, project):
    """An empty file is recorded by a point without vectors; it is not a chunk (2,152 against 2,151)."""
    (project / "src" / "__init__.py").write_text("")
    report = json.loads(run("ingest", str(project), "--json").stdout)
    assert report["empty"] == ["src/__init__.py"]
    assert json.loads(run("collections", "--json").stdout)[0]["chunks"] == report["chunks"]
