"""The MCP Inspector CLI (npm @modelcontextprotocol/inspector), a client nobody here wrote, against
the server over stdio and over HTTP. .ci/run installs it; locally it is skipped unless installed
(`npm install --prefix .tools @modelcontextprotocol/inspector@2.12.0`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from groundmcp.owner.daemon import stop_owner

from .mcp_helpers import server_env

REPO = Path(__file__).resolve().parents[1]


def inspector() -> str | None:
    local = REPO / ".tools" / "node_modules" / ".bin" / "mcp-inspector"
    found = os.environ.get("MCP_INSPECTOR") or (str(local) if local.exists() else shutil.which("mcp-inspector"))
    if found is None and os.environ.get("CI"):
        pytest.fail("CI must run the MCP Inspector CLI: .ci/run installs it into .tools/")
    return found


def run_inspector(*args: str, env: dict) -> dict:
    binary = inspector()
    if binary is None:
        pytest.skip("MCP Inspector CLI not installed")
    proc = subprocess.run([binary, "--cli", *args], capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, f"inspector exit {proc.returncode}: {proc.stdout}\n{proc.stderr}"
    return json.loads(proc.stdout)


def check(listed: dict, called: dict) -> None:
    assert {t["name"] for t in listed["tools"]} >= {"search", "ingest", "embed", "list_collections"}
    hits = called["structuredContent"]["hits"]
    assert hits[0]["path"] == "src/retry.js" and hits[0]["citation"].startswith("src/retry.js:")


def test_inspector_over_stdio(index):
    data, work, _ = index
    env = server_env(data)  # the Inspector passes only a minimal environment to the server:
    server = [sys.executable, "-m", "groundmcp", "--data-dir", str(data), "serve", "--root", str(work)]
    try:
        listed = run_inspector(*server, "--method", "tools/list", env=env)
        called = run_inspector(
            *server, "--method", "tools/call", "--tool-name", "search",
            "--tool-arg", "query=retry with exponential backoff", "top_k=2", env=env,
        )
    finally:
        stop_owner(data)  # the bridge started one; left alone it would wait out its idle time
    check(listed, called)


def test_inspector_over_http(shared_http_server):
    url = shared_http_server.url  # read-only calls: the server other tests share
    auth = ["--transport", "http", "--header", f"Authorization: Bearer {shared_http_server.token}"]
    listed = run_inspector(url, *auth, "--method", "tools/list", env=dict(os.environ))
    called = run_inspector(
        url, *auth, "--method", "tools/call", "--tool-name", "search",
        "--tool-arg", "query=retry with exponential backoff", "top_k=2", env=dict(os.environ),
    )
    check(listed, called)
