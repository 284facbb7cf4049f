"""`groundmcp symbol` and `groundmcp refs` through the data dir's owner, with real processes: the
same output as in process, and an owner started once (it never loads a model for these)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from groundmcp.engine import Engine
from groundmcp.owner.paths import OwnerPaths
from groundmcp.settings import Settings

from .conftest import STDLIB_JSON

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket")


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "groundmcp", *args], env=env, capture_output=True, text=True,
                          timeout=240)


def test_symbol_and_refs_through_the_owner_print_what_they_print_in_process(tmp_path, hashing_encoder):
    root = tmp_path / "proj"
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    data = tmp_path / "d"
    engine = Engine(Settings(data_dir=data, watch=False), encoder=hashing_encoder)
    try:
        engine.ingest(str(root), collection="t")
    finally:
        engine.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDMCP_")}
    env.update(GROUNDMCP_DATA_DIR=str(data), GROUNDMCP_WATCH="0", GROUNDMCP_OWNER_IDLE_S="60")
    paths = OwnerPaths(data)
    runs = (["symbol", "JSONDecoder.raw_decode"], ["symbol", "scanstring", "--kind", "function", "--json"],
            ["refs", "JSONDecoder.raw_decode"], ["refs", "py_scanstring", "--path", "json/", "--json"])
    try:
        owned = [cli(env, *args, "-c", "t") for args in runs]
        assert [r.returncode for r in owned] == [0] * len(runs), [r.stderr for r in owned]
        assert not any("note:" in r.stderr for r in owned)  # served by the owner, not a fallback
        assert paths.log.read_text().count(" serving ") == 1
        # in process (each stops the owner to open the store: so they run last)
        local = [cli(env, *args, "-c", "t", "--no-owner") for args in runs]
        assert [r.stdout for r in owned] == [r.stdout for r in local]
        refs = json.loads(owned[3].stdout)
        assert refs["qualified"] == "py_scanstring" and refs["definition"].startswith("json/decoder.py:")
        assert "JSONDecoder.raw_decode" in owned[2].stdout and "json/decoder.py:" in owned[0].stdout
        missing = cli(env, "refs", "no_such_name_at_all", "-c", "t")
        assert missing.returncode == 1 and "no definition named" in missing.stderr
    finally:
        from groundmcp.owner.daemon import stop_owner

        stop_owner(data, timeout=30)
