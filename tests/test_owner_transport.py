"""The owner's loopback transport (owner/endpoint.py), the one Windows gets and POSIX gets with
GROUNDMCP_OWNER_TRANSPORT=loopback: the endpoint file is private and replaced whole, a dead owner's
file is never trusted (its port gets no byte), the owner's token gate refuses requests without the
token and composes with the grant header; then, with real processes, a CLI search starts a loopback
owner, the fast path and a stdio bridge search through it, and both survive the owner's kill -9.

The real-process tests share one index and run in file order (each owner start loads the model)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys

import anyio
import httpx2
import pytest

from groundmcp.claims import COLLECTIONS_CLAIM, GRANT_HEADER, ROOTS_CLAIM, forwarded_grant
from groundmcp.engine import Engine
from groundmcp.owner import endpoint as ep
from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.endpoint import (
    Listener,
    LoopbackEndpoint,
    UnixEndpoint,
    live,
    published,
    read_endpoint,
    transport_for,
    write_endpoint,
)
from groundmcp.owner.paths import MAX_SOCKET_PATH, OwnerPaths, is_held, read_pid, try_lock, unlock, write_pid
from groundmcp.server.auth import ForwardedGrant, OwnerToken
from groundmcp.settings import Settings

from .conftest import write_project
from .mcp_helpers import stdio_client

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the tests hold flock-ed owner locks")

LOOPBACK = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120",
            "GROUNDMCP_OWNER_TRANSPORT": "loopback"}
FULL_CLI = ["-c", "import sys; sys.argv[0] = 'groundmcp'; from groundmcp.cli import main; main()"]


# -- the endpoint file ------------------------------------------------------------------------------


def test_the_endpoint_file_is_private_and_replaced_whole(tmp_path):
    paths = OwnerPaths(tmp_path)
    paths.endpoint.write_text("old, and readable by all")
    os.chmod(paths.endpoint, 0o644)
    old = os.umask(0)  # the file's mode is its own, whatever the umask lets through
    try:
        write_endpoint(paths.endpoint, 4242, "t0ken")
    finally:
        os.umask(old)
    st = os.stat(paths.endpoint)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert json.loads(paths.endpoint.read_text()) == {"port": 4242, "token": "t0ken", "pid": os.getpid()}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["owner.endpoint"]  # no temporary file left


def test_a_listening_loopback_owner_is_found_and_removed_whole(tmp_path):
    """In this process, as the owner: the file appears only once the port listens, names this pid,
    and is trusted while the lock is held; closing removes the file, then the port."""
    paths = OwnerPaths(tmp_path)
    held = try_lock(paths.lock)
    try:
        write_pid(held)
        listener = Listener(paths, "loopback")
        assert not paths.endpoint.exists()
        sock = listener.open()
        port = sock.getsockname()[1]
        found = read_endpoint(paths)
        assert found == LoopbackEndpoint(port, listener.token, os.getpid()) == listener.endpoint
        assert len(listener.token) >= 40 and listener.token not in repr(found)
        assert live(paths) == found and found.headers() == {"Authorization": f"Bearer {listener.token}"}
        listener.close()
        assert not paths.endpoint.exists() and published(paths) is None
        assert not LoopbackEndpoint(port, "x", os.getpid()).accepts()
    finally:
        unlock(held)


def _hold_lock(paths: OwnerPaths) -> subprocess.Popen:
    """Another process that holds the owner lock (its pid written there), as an owner would."""
    code = ("import sys, time\nfrom pathlib import Path\nfrom groundmcp.owner.paths import try_lock, write_pid\n"
            "h = try_lock(Path(sys.argv[1]))\nwrite_pid(h)\nprint('held', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(paths.lock)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def _gone(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_dead_owners_endpoint_is_never_trusted_and_its_port_gets_nothing(tmp_path):
    """The file of an owner killed -9 stays behind with its port, which another program may own
    now: no client trusts it (so no token is sent there; not even a connection is made), and a
    file the running owner did not write, or that others may read, is refused too."""
    paths = OwnerPaths(tmp_path)
    stranger = socket.socket()  # the program that has the dead owner's port now
    stranger.bind(("127.0.0.1", 0))
    stranger.listen(8)
    stranger.settimeout(0.3)
    port = stranger.getsockname()[1]
    try:
        owner = _hold_lock(paths)
        try:
            write_endpoint(paths.endpoint, port, "secret", pid=owner.pid)
            assert read_endpoint(paths) == LoopbackEndpoint(port, "secret", owner.pid)  # alive: trusted
            os.chmod(paths.endpoint, 0o640)
            assert read_endpoint(paths) is None  # readable by the group: not the user's alone
            os.chmod(paths.endpoint, 0o600)
            write_endpoint(paths.endpoint, port, "secret", pid=owner.pid + 1)
            assert read_endpoint(paths) is None  # not written by the lock's holder
            write_endpoint(paths.endpoint, port, "secret", pid=owner.pid)
        finally:
            _gone(owner)  # kill -9: the lock is freed, the file stays
        assert not is_held(paths.lock) and read_pid(paths.lock) == owner.pid and paths.endpoint.exists()
        assert read_endpoint(paths) is None and published(paths) is None and live(paths) is None

        successor = _hold_lock(paths)  # a new owner took the lock and has not replaced the file yet
        try:
            assert read_endpoint(paths) is None and live(paths) is None
        finally:
            _gone(successor)
        with pytest.raises(TimeoutError):
            stranger.accept()  # no client ever connected to the stranger's port
    finally:
        stranger.close()


@pytest.mark.parametrize("text", ["", "{", "[]", '{"port": 1}', '{"port": 0, "token": "t", "pid": 1}',
                                  '{"port": 80, "token": "", "pid": 1}', '{"port": "x", "token": "t", "pid": 1}'])
def test_a_malformed_endpoint_file_is_no_endpoint(tmp_path, text):
    paths = OwnerPaths(tmp_path)
    held = try_lock(paths.lock)
    try:
        write_pid(held)
        fd = os.open(paths.endpoint, os.O_WRONLY | os.O_CREAT, 0o600)
        os.write(fd, text.encode())
        os.close(fd)
        assert read_endpoint(paths) is None
    finally:
        unlock(held)


def test_the_transport_is_unix_where_it_can_be_and_loopback_otherwise(tmp_path, monkeypatch):
    short, long = OwnerPaths(tmp_path), OwnerPaths(tmp_path / ("x" * MAX_SOCKET_PATH))
    assert transport_for(short) == transport_for(short, "unix") == "unix"
    assert transport_for(short, "loopback") == transport_for(long) == "loopback"  # auto: no socket fits
    with pytest.raises(ValueError, match="too long for a Unix socket.*shorter --data-dir.*=auto"):
        transport_for(long, "unix")
    with pytest.raises(ValueError, match="'tcp': use one of auto, unix, loopback"):
        transport_for(short, "tcp")
    assert Settings(owner_transport="loopback").owner_transport == "loopback"
    monkeypatch.setenv("GROUNDMCP_OWNER_TRANSPORT", "unix")
    assert short.usable() and not long.usable()
    monkeypatch.setattr(ep, "HAS_UNIX", False)  # as on Windows
    assert transport_for(short) == "loopback"
    with pytest.raises(ValueError, match="no Unix sockets: set it to auto or loopback"):
        transport_for(short, "unix")
    assert ep.published(short) is None  # no socket is looked for either


# -- the owner's token gate -------------------------------------------------------------------------


async def _whose(scope, receive, send) -> None:
    """An app that answers with the claims of the request's user (none: null)."""
    token = getattr(scope.get("user"), "access_token", None)
    body = json.dumps(None if token is None else token.claims).encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@pytest.mark.anyio
async def test_the_token_gates_the_owner_and_the_grant_says_whose_request(tmp_path):
    app = OwnerToken(ForwardedGrant(_whose), "the-token")
    grant = forwarded_grant(["team-*"], [str(tmp_path)], [str(tmp_path)])
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer the-token2"},
                        {"Authorization": "Basic the-token"}, {"Authorization": "the-token"}, {GRANT_HEADER: grant}):
            refused = await http.post("/mcp", headers=headers)
            assert refused.status_code == 401, headers
            assert "owner.endpoint" in refused.json()["message"]
        local = await http.post("/mcp", headers={"Authorization": "Bearer the-token"})
        assert local.status_code == 200 and local.json() is None  # the local user, as on the socket
        limited = await http.post("/mcp", headers={"Authorization": "bearer the-token", GRANT_HEADER: grant})
        assert limited.status_code == 200
        claims = limited.json()
        assert claims[COLLECTIONS_CLAIM] == ["team-*"] and claims[ROOTS_CLAIM] == [str(tmp_path)]
    with pytest.raises(ValueError, match="empty owner token"):
        OwnerToken(_whose, "")


# -- real processes ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def loopback(tmp_path_factory, real_encoder):
    """A data dir holding the sample project as 'p'; the environment of clients that start a
    loopback owner; the project's folder."""
    base = tmp_path_factory.mktemp("loopback")
    project = write_project(base / "project")
    data = base / "d"
    engine = Engine(Settings(data_dir=data, watch=False), encoder=real_encoder)
    try:
        engine.ingest(str(project), collection="p")
    finally:
        engine.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), **LOOPBACK)
    yield OwnerPaths(data), env, project
    stop_owner(data, timeout=30)


def run(env: dict, *args: str, full: bool = False) -> subprocess.CompletedProcess:
    entry = FULL_CLI if full else ["-m", "groundmcp"]
    return subprocess.run([sys.executable, *entry, *args], env=env, capture_output=True, text=True, timeout=300)


def started(paths: OwnerPaths) -> int:
    return paths.log.read_text().count(" serving ") if paths.log.exists() else 0


def test_a_cli_search_starts_a_loopback_owner_that_wants_its_token(loopback):
    paths, env, _ = loopback
    found = run(env, "search", "parse a currency string", "-c", "p")
    assert found.returncode == 0, found.stderr
    assert "src/billing.py" in found.stdout and "note:" not in found.stderr
    assert started(paths) == 1 and "(loopback)" in paths.log.read_text()
    assert not paths.socket.exists()
    assert stat.S_IMODE(os.stat(paths.endpoint).st_mode) == 0o600
    endpoint = read_endpoint(paths)
    assert endpoint is not None and endpoint.pid == read_pid(paths.lock) and endpoint.accepts()
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer not-the-token"}):
        refused = httpx2.post(endpoint.url, json=body, headers=headers, timeout=30, trust_env=False)
        assert refused.status_code == 401
    doctor = run(env, "doctor", "--no-model", "--json")
    [check] = [c for c in json.loads(doctor.stdout)["checks"] if c["name"] == "owner"]
    assert check["status"] == "ok" and f"127.0.0.1:{endpoint.port} (loopback)" in check["summary"]
    assert check["data"]["endpoint"]["port"] == endpoint.port and endpoint.token not in doctor.stdout


@pytest.mark.parametrize("args", [("search", "parse a currency string", "-c", "p"),
                                  ("search", "backoff", "-c", "p", "-k", "2", "--mode", "sparse"),
                                  ("search", "x", "-c", "no-such-collection")])
def test_the_fast_path_answers_through_the_loopback_owner(loopback, args):
    paths, env, _ = loopback
    fast, full = run(env, *args), run(env, *args, full=True)
    assert (fast.returncode, fast.stdout, fast.stderr) == (full.returncode, full.stdout, full.stderr)
    assert started(paths) == 1


def test_the_fast_path_sends_its_token_to_the_owner(loopback):
    """quick.py answers by itself (it never imports the MCP SDK), so it did speak to the port."""
    _, env, _ = loopback
    code = ("import sys; sys.argv[1:] = ['search', 'parse a currency string', '-c', 'p']\n"
            "from groundmcp.quick import quick\nquick(sys.argv[1:])\nprint('mcp' in sys.modules)")
    fast = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert fast.returncode == 0, fast.stderr
    assert "src/billing.py" in fast.stdout and fast.stdout.rstrip().endswith("False")


@pytest.mark.anyio
async def test_a_stdio_bridge_searches_through_it_and_survives_its_kill(loopback):
    paths, env, project = loopback

    async def search(client) -> list[str]:
        result = await client.call_tool("search", {"query": "parse a currency string", "collection": "p", "top_k": 3})
        assert not result.is_error, result.content[0].text
        return [h["path"] for h in result.structured_content["hits"]]

    async with stdio_client(paths.data_dir, project, **LOOPBACK) as bridge:
        assert (await search(bridge))[0] == "src/billing.py"
        assert started(paths) == 1
        old = read_endpoint(paths)
        os.kill(old.pid, signal.SIGKILL)
        with anyio.fail_after(30):
            while is_held(paths.lock):
                await anyio.sleep(0.05)
        assert paths.endpoint.exists() and read_endpoint(paths) is None  # left behind, not trusted
        assert (await search(bridge))[0] == "src/billing.py"  # a new owner, started by the bridge
    new = read_endpoint(paths)
    assert new is not None and new.pid != old.pid and new.token != old.token
    assert started(paths) == 2
    again = await anyio.to_thread.run_sync(lambda: run(env, "search", "parse a currency string", "-c", "p"))
    assert again.returncode == 0 and "src/billing.py" in again.stdout, again.stderr
    assert started(paths) == 2 and isinstance(published(paths), LoopbackEndpoint)
    assert not isinstance(published(paths), UnixEndpoint)
