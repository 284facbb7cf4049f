"""The data dir's resident owner, with real processes: CLI searches elect one owner, reuse it
without importing torch, replace a killed one, and keep the CLI's output and errors.

The tests share one small index and run in file order (each owner loads the real model once, so
the file starts two owners for the searches, plus one that never needs the model)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from groundmcp.engine import Engine
from groundmcp.owner.paths import OwnerPaths, accepts, is_held, read_pid
from groundmcp.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket")

QUERY = "retry backoff"


@pytest.fixture(scope="module")
def index(tmp_path_factory, real_encoder):
    """A data dir holding collection 't' (two files), and the environment CLI runs use."""
    base = tmp_path_factory.mktemp("owner")
    project = base / "proj"
    project.mkdir()
    (project / "net.py").write_text(
        'def retry_backoff(attempt):\n    """Exponential backoff for retries."""\n    return 2 ** attempt\n'
    )
    (project / "guide.md").write_text("# Guide\n\nRetries back off exponentially.\n")
    data = base / "d"
    engine = Engine(Settings(data_dir=data, watch=False), encoder=real_encoder)
    try:
        engine.ingest(str(project), collection="t")
    finally:
        engine.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="120")
    yield OwnerPaths(data), env
    _stop(OwnerPaths(data))


def _stop(paths: OwnerPaths) -> None:
    from groundmcp.owner.daemon import stop_owner

    stop_owner(paths.data_dir, timeout=30)


def cli(env: dict, *args: str, importtime: bool = False) -> subprocess.CompletedProcess:
    x = ["-X", "importtime"] if importtime else []
    return subprocess.run(
        [sys.executable, *x, "-m", "groundmcp", *args], env=env, capture_output=True, text=True, timeout=240
    )


def started(paths: OwnerPaths) -> int:
    """How many owners have started serving in this data dir (each logs one line)."""
    return paths.log.read_text().count(" serving ") if paths.log.exists() else 0


def test_racing_searches_start_one_owner(index):
    paths, env = index
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "groundmcp", "search", QUERY, "-c", "t", "-k", "1"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
        assert "net.py:1-3" in out and "retry_backoff" in out
        assert "note:" not in err
    assert started(paths) == 1
    assert is_held(paths.lock) and accepts(paths.socket)


def test_a_second_search_reuses_the_owner_and_never_imports_torch(index):
    paths, env = index
    pid = read_pid(paths.lock)
    run = cli(env, "search", QUERY, "-c", "t", importtime=True)
    assert run.returncode == 0, run.stderr
    assert "net.py:1-3" in run.stdout and "guide.md:1-3" in run.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in run.stderr.splitlines() if "import time:" in line}
    assert "groundmcp" in imported  # the import log is there
    assert not imported & {"torch", "sentence_transformers", "transformers"}
    assert read_pid(paths.lock) == pid and started(paths) == 1


def test_the_socket_and_the_data_dir_are_the_users_alone(index):
    paths, _ = index
    assert stat.S_ISSOCK(os.stat(paths.socket).st_mode)
    assert stat.S_IMODE(os.stat(paths.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(paths.data_dir).st_mode) == 0o700


def test_json_and_listing_through_the_owner(index):
    paths, env = index
    run = cli(env, "search", QUERY, "-c", "t", "-k", "1", "--json")
    assert run.returncode == 0, run.stderr
    [hit] = json.loads(run.stdout)
    assert set(hit) == {"id", "score", "path", "root", "start_line", "end_line", "language", "kind", "symbol",
                        "text", "header", "page", "indexed_at"}
    assert (hit["path"], hit["start_line"], hit["end_line"], hit["symbol"]) == ("net.py", 1, 3, "retry_backoff")
    listed = cli(env, "collections", "--json")
    assert listed.returncode == 0, listed.stderr
    [row] = json.loads(listed.stdout)
    assert (row["name"], row["dim"], row["chunks"], row["error"]) == ("t", 384, 2, "")
    assert started(paths) == 1


def test_a_tool_error_is_the_cli_error(index):
    _, env = index
    run = cli(env, "search", QUERY, "-c", "nope")
    assert run.returncode == 1
    assert run.stderr.startswith("error: collection 'nope' does not exist"), run.stderr
    assert "note:" not in run.stderr and "Error executing tool" not in run.stderr


def test_a_killed_owner_is_replaced_by_the_next_search(index):
    paths, env = index
    old = read_pid(paths.lock)
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while is_held(paths.lock) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert paths.socket.exists() and not accepts(paths.socket)  # the stale socket is left behind
    run = cli(env, "search", QUERY, "-c", "t", "-k", "1")
    assert run.returncode == 0, run.stderr
    assert "net.py:1-3" in run.stdout and "note:" not in run.stderr
    new = read_pid(paths.lock)
    assert new is not None and new != old and accepts(paths.socket)
    assert started(paths) == 2


def test_an_in_process_command_takes_over_from_the_owner(index):
    """A command run in process (--no-owner; every command goes through the owner otherwise)
    stops it, so an owner never locks the user out of the store."""
    paths, env = index
    pid = read_pid(paths.lock)
    run = cli(env, "files", "t", "--no-owner")
    assert run.returncode == 0, run.stderr
    assert "net.py" in run.stdout
    assert f"stopped the data dir's owner (pid {pid})" in run.stderr
    assert not is_held(paths.lock) and not paths.socket.exists()
    assert paths.log.read_text().count("store closed") == 1  # the killed one closed nothing
    listed = cli({**env, "GROUNDMCP_OWNER": "0"}, "collections")
    assert listed.returncode == 0, listed.stderr
    assert "384" in listed.stdout and not is_held(paths.lock) and started(paths) == 2


def test_a_store_held_by_another_process_falls_back_with_a_note(index):
    paths, env = index
    engine = Engine(Settings(data_dir=paths.data_dir, watch=False))  # holds the store, as `serve` would
    try:
        run = cli(env, "collections")
    finally:
        engine.close()
    assert run.returncode == 1 and not is_held(paths.lock)
    note, error = run.stderr.strip().splitlines()
    assert note.startswith("note: no index owner (another groundmcp process (not an owner) holds the store")
    assert note.endswith("running in this process") and error.startswith("error: the store in")


def test_an_idle_owner_exits_and_removes_its_socket(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    data = tmp_path / "d"
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="2")
    paths = OwnerPaths(data)
    try:
        run = cli(env, "collections")
        assert run.returncode == 0, run.stderr
        assert "no collections yet" in run.stdout and "note:" not in run.stderr
        deadline = time.monotonic() + 60
        while is_held(paths.lock) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not is_held(paths.lock) and not paths.socket.exists()
        assert "idle for 2 s; exiting" in paths.log.read_text()
        assert "store closed" in paths.log.read_text()
    finally:
        _stop(paths)
