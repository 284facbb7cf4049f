"""The official MCP conformance suite (npm @modelcontextprotocol/conformance), its server scenarios
against `groundmcp serve --http`, with the expected failures and their reasons in
tests/conformance-expected-failures.yml. The suite exits non-zero on a failure not in that list and
on a listed one that now passes, so the list can only shrink. .ci/run installs the suite and the
Node 22 it needs into .tools/; locally the test is skipped unless they are installed
(`npm install --prefix .tools @modelcontextprotocol/conformance@0.1.16 node@22`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .mcp_helpers import http_server

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / ".tools" / "node_modules"
SUITE = TOOLS / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
NODE = TOOLS / ".bin" / "node"  # npm's node@22: the suite needs Node 22 (fs.globSync)
EXPECTED_FAILURES = Path(__file__).with_name("conformance-expected-failures.yml")


@pytest.mark.timeout(600)
def test_conformance_server_scenarios(tmp_path):
    if not (SUITE.exists() and NODE.exists()):
        if os.environ.get("CI"):
            pytest.fail("CI must run the MCP conformance suite: .ci/run installs it into .tools/")
        pytest.skip("MCP conformance suite (and Node 22) not installed in .tools/")
    root = tmp_path / "root"
    root.mkdir()
    (root / "guide.md").write_text("# Guide\n\nThe conformance suite needs no index.\n")
    with http_server(tmp_path / "data", root, token=None) as url:
        proc = subprocess.run(
            [str(NODE), str(SUITE), "server", "--url", url, "--expected-failures", str(EXPECTED_FAILURES),
             "-o", str(tmp_path / "results")],
            capture_output=True, text=True, timeout=540, cwd=tmp_path,
        )
    summary = proc.stdout[proc.stdout.find("=== SUMMARY ===") :] if "=== SUMMARY ===" in proc.stdout else proc.stdout[-4000:]
    assert proc.returncode == 0, f"conformance suite exit {proc.returncode}:\n{summary}\n{proc.stderr[-2000:]}"
