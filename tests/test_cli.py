"""The command line as a user runs it: a subprocess, real model, embedded store in a temp dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def cli(*args: str, data_dir, check: bool = True, **env) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data_dir), **env}
    proc = subprocess.run(
        [sys.executable, "-m", "groundmcp", *args], capture_output=True, text=True, env=full_env, timeout=240
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def test_ingest_search_collections_roundtrip(tmp_path, project):
    data = tmp_path / "data"
    first = json.loads(cli("ingest", str(project), "--json", data_dir=data).stdout)
    assert sorted(first["added"]) == ["docs/guide.md", "src/billing.py", "src/retry.js"]
    assert first["chunks"] > 0 and first["tokens"] > first["chunks"]

    hits = json.loads(cli("search", "retry with exponential backoff", "--json", "-k", "2", data_dir=data).stdout)
    assert hits[0]["path"] == "src/retry.js" and hits[0]["start_line"] >= 1

    text = cli("search", "refund policy", "-k", "1", data_dir=data).stdout
    assert "docs/guide.md:" in text and "14 days" in text

    rows = json.loads(cli("collections", "--json", data_dir=data).stdout)
    assert rows[0]["name"] == "default" and rows[0]["dim"] == 384 and rows[0]["chunks"] == first["chunks"]

    again = json.loads(cli("ingest", str(project), "--json", data_dir=data).stdout)
    assert again["chunks"] == 0 and again["unchanged"] == 3


def test_dry_run_counts_before_encoding(tmp_path, project):
    data = tmp_path / "data"
    report = json.loads(cli("ingest", str(project), "--dry-run", "--json", data_dir=data).stdout)
    assert report["dry_run"] and report["chunks"] > 0 and report["tokens"] > 0
    assert json.loads(cli("collections", "--json", data_dir=data).stdout) == []


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (("ingest", "/no/such/dir"), {}, 1, "does not exist"),
        (("search", "x", "-c", "missing"), {}, 1, "collection 'missing' does not exist"),
        (("collections", "--delete", "missing"), {}, 1, "no collection named 'missing'"),
        (("collections",), {"GROUNDMCP_QDRANT_API_KEY": "k"}, 2, "drop GROUNDMCP_QDRANT_API_KEY"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, args, env, code, message):
    proc = cli(*args, data_dir=tmp_path / "data", check=False, **env)
    assert proc.returncode == code
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_version():
    from groundmcp import __version__

    assert cli("--version", data_dir="/tmp/unused").stdout.strip() == __version__
