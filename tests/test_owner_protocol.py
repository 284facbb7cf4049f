"""An owner started by another groundmcp (an upgrade in place leaves the running owner on the old
code until it exits): one of an older owner protocol is replaced by the next command, which says
so; a newer one is left running and the older command is refused with what to do. Real processes;
the owner here never loads the model (it only lists collections)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from groundmcp.owner.daemon import stop_owner
from groundmcp.owner.paths import OWNER_PROTOCOL, OwnerPaths, is_held, read_pid

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket")


def collections(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "groundmcp", "collections"], env=env, capture_output=True, text=True, timeout=240
    )


def claim_protocol(paths: OwnerPaths, protocol: int | None) -> None:
    """Rewrite the running owner's lock file as an owner of `protocol` would have written it (None:
    one from before protocols, which wrote only its models)."""
    pid, meta = paths.lock.read_text(encoding="utf-8").splitlines()[:2]
    info = json.loads(meta)
    info.pop("protocol")
    if protocol is not None:
        info["protocol"] = protocol
    paths.lock.write_text(f"{pid}\n{json.dumps(info)}\n", encoding="utf-8")


def alive(pid: int, within: float = 0.0) -> bool:
    """Whether `pid` still runs (after waiting up to `within` seconds for it to end: an owner frees
    its lock before its process has finished exiting)."""
    deadline = time.monotonic() + within
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.05)


def test_an_older_owner_is_replaced_and_a_newer_one_refuses_this_command(tmp_path):
    data = tmp_path / "d"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="120")
    paths = OwnerPaths(data)
    try:
        first = collections(env)
        assert first.returncode == 0, first.stderr
        old = read_pid(paths.lock)
        assert old and is_held(paths.lock)
        assert json.loads(paths.lock.read_text().splitlines()[1])["protocol"] == OWNER_PROTOCOL

        claim_protocol(paths, None)  # an owner of the release before protocols
        second = collections(env)
        assert second.returncode == 0, second.stderr
        assert second.stdout == first.stdout
        assert f"stopping the index owner (pid {old}) started by an older groundmcp" in second.stderr
        new = read_pid(paths.lock)
        assert new != old and not alive(old, within=20) and is_held(paths.lock)

        claim_protocol(paths, OWNER_PROTOCOL + 1)  # this command is the old one now
        third = collections(env)
        assert third.returncode != 0
        assert "started by a newer groundmcp" in third.stderr and "same groundmcp install" in third.stderr
        assert read_pid(paths.lock) == new and alive(new)  # left serving its own clients
    finally:
        stop_owner(data, timeout=30)
