"""`groundmcp doctor`: what it finds on a working install, and what it says when something is off."""

from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from groundmcp import cli
from groundmcp.doctor import diagnose
from groundmcp.engine import Engine
from groundmcp.settings import Settings

from .conftest import write_project

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")


@pytest.fixture(scope="module")
def data(tmp_path_factory, real_encoder):
    base = tmp_path_factory.mktemp("doctor")
    engine = Engine(Settings(data_dir=base / "data"), encoder=real_encoder)
    engine.ingest(str(write_project(base / "project")))
    engine.close()
    return base / "data"


def doctor_cli(*args: str, data_dir, monkeypatch):
    """The CLI in-process (the torch and model imports are paid once per test session)."""
    return CliRunner().invoke(cli.app, list(args), env={"GROUNDMCP_DATA_DIR": str(data_dir)})


def test_cli_json_on_a_working_install(data, monkeypatch):
    result = doctor_cli("doctor", "--json", data_dir=data, monkeypatch=monkeypatch)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] and list(checks) == ["versions", "settings", "device", "model", "store", "collections",
                                              "extras", "reranker", "server", "owner"]
    assert checks["versions"]["data"]["mcp"].startswith("2.")
    model = checks["model"]
    assert model["status"] == "ok" and model["data"]["dim"] == 384 and model["data"]["vector_norm"] == 1.0
    assert model["data"]["single_text_path"] == "onnx" and "single texts: onnx" in model["summary"]
    assert checks["device"]["data"]["device"] == model["data"]["device"]
    (row,) = checks["collections"]["data"]["collections"]
    assert row["name"] == "default" and row["chunks"] > 0 and row["model"] == model["data"]["name"]
    # Size on disk, not the apparent size of the store's sparse preallocated files (~200 MiB).
    assert 0 < row["bytes"] < 20 * 2**20
    assert checks["extras"]["data"] == {"langchain": True, "eval": True}


@no_cuda
def test_a_failed_check_exits_1_and_says_how_to_fix_it(data, monkeypatch):
    result = doctor_cli("--device", "cuda", "doctor", "--no-model", data_dir=data, monkeypatch=monkeypatch)
    assert result.exit_code == 1
    assert "fail" in result.stdout and "GROUNDMCP_DEVICE=cuda" in result.stdout
    fixes = result.stdout.split("To fix:")[1]
    assert "GROUNDMCP_DEVICE=auto" in fixes and "CUDA build of torch" in fixes


def test_a_running_server_does_not_hide_the_index(data, real_encoder):
    holder = Engine(Settings(data_dir=data), encoder=real_encoder)  # holds the store, as a server does
    try:
        report = diagnose(Settings(data_dir=data), load_model=False)
    finally:
        holder.close()
    store, collections = report.check("store"), report.check("collections")
    assert store.status == "warn" and "in use by this process" in store.summary
    (row,) = collections.data["collections"]
    assert row["name"] == "default" and row["bytes"] > 0 and row["dim"] == 384 and row["chunks"] is None
    assert report.ok


def test_empty_other_model_damaged_and_open_http(tmp_path, data, hashing_encoder):
    empty = diagnose(Settings(data_dir=tmp_path / "none"), load_model=False)
    assert empty.check("collections").status == "warn" and "groundmcp ingest PATH" in empty.check("collections").fix
    assert empty.check("store").status == "ok" and not (tmp_path / "none").exists()  # doctor creates nothing

    engine = Engine(Settings(data_dir=tmp_path / "hashed"), encoder=hashing_encoder)
    engine.ingest_texts([("a", "some text")], collection="hashed")
    engine.close()
    other = diagnose(Settings(data_dir=tmp_path / "hashed", collection="hashed"), load_model=False)
    assert other.check("collections").status == "warn"
    assert "hashing-64" in other.check("collections").summary and "GROUNDMCP_MODEL" in other.check("collections").fix

    (tmp_path / "hashed" / "edge" / "collections" / "hashed" / "collection.json").write_text("{not json")
    damaged = diagnose(Settings(data_dir=tmp_path / "hashed", collection="hashed"), load_model=False)
    check = damaged.check("collections")
    assert check.status == "warn" and "cannot be used: hashed" in check.summary and "'hashed'" in check.fix

    wide = diagnose(Settings(data_dir=data, http_host="0.0.0.0"), load_model=False)
    assert wide.check("server").status == "fail" and "GROUNDMCP_HTTP_TOKEN" in wide.check("server").fix
    assert not wide.ok


def test_invalid_settings_are_one_failed_check():
    report = diagnose(overrides={"qdrant_api_key": "k"})
    assert [c.name for c in report.checks] == ["versions", "settings"]
    assert report.check("settings").status == "fail" and "GROUNDMCP_QDRANT_API_KEY" in report.check("settings").summary


def test_doctor_reports_the_owner(tmp_path):
    """None runs; then one runs (started by a CLI command): its pid and socket; a doctor asking for
    another model is warned that the owner serves a different one."""
    import os
    import subprocess
    import sys

    from groundmcp.owner.daemon import stop_owner
    from groundmcp.owner.paths import OwnerPaths, read_pid

    data = tmp_path / "d"
    owned = Settings(data_dir=data, owner=True, watch=False)
    assert diagnose(owned, load_model=False).check("owner").summary.startswith("none runs now")
    assert diagnose(Settings(data_dir=data, owner=False), load_model=False).check("owner").status == "info"
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data), "GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0"}
    listed = subprocess.run([sys.executable, "-m", "groundmcp", "collections"], env=env,
                            capture_output=True, text=True, timeout=300)
    assert listed.returncode == 0, listed.stderr
    try:
        check = diagnose(owned, load_model=False).check("owner")
        assert check.status == "ok" and str(read_pid(OwnerPaths(data).lock)) in check.summary
        other = Settings(data_dir=data, owner=True, watch=False, model=str(tmp_path / "elsewhere"))
        warned = diagnose(other, load_model=False).check("owner")
        assert warned.status == "warn" and "owner --stop" in warned.fix
    finally:
        stop_owner(data)
