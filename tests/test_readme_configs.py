"""The README's install line and client configs, as users copy them.

The README marks each block with an HTML comment: `<!-- install -->`, `<!-- install: clone -->`,
`<!-- serve: http -->`, `<!-- client: NAME TRANSPORT -->` and `<!-- published: NAME TRANSPORT -->`.
Every client block must parse and must start or reach the server. The client blocks start the
clone's `/path/to/groundmcp/.venv/bin/groundmcp`: here, this venv's console script. The published
blocks (`uvx groundmcp`, for once the package is on PyPI) must be the same command line. Two
launchers stand in for downloads that cannot happen here:
- `uvx` runs the `groundmcp` console script of this checkout. That is what `uvx groundmcp ...`
  runs once the package is on PyPI. The stand-in refuses any other package name.
- `npx -y mcp-remote` runs the mcp-remote that .ci/run installs.
(The wheel itself, installed in a fresh venv, is run by scripts/check_release.sh in CI.)

Claude Code's own CLI (`claude mcp add`, `claude mcp list`) checks its lines. The JSON blocks are
resolved as the client resolves them (`${workspaceFolder}`, `${env:...}`, `${input:...}`, the
config's `env`), then started or connected with the MCP SDK client.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from typer.testing import CliRunner

from groundmcp import __version__
from groundmcp.cli import app
from groundmcp.engine import Engine
from groundmcp.settings import Settings

from .conftest import write_project
from .mcp_helpers import free_port, http_client, stop, wait_for_port

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
TOOLS_BIN = REPO / ".tools" / "node_modules" / ".bin"
GROUNDMCP = Path(sys.executable).with_name("groundmcp")
CLIENTS = {"claude-desktop", "claude-code", "cursor", "vscode"}
DEFAULT_URL = "http://127.0.0.1:8765/mcp"
CLONE_COMMAND = "/path/to/groundmcp/.venv/bin/groundmcp"  # the README's placeholder for the clone's script

pytestmark = pytest.mark.anyio


def readme_blocks() -> dict[str, tuple[str, str]]:
    """tag -> (language, body) of each marked fenced block."""
    found = re.findall(r"<!-- ([^>]+?) -->\s*```(\w+)\n(.*?)```", README, flags=re.S)
    blocks = {tag.strip(): (lang, body) for tag, lang, body in found}
    assert len(blocks) == len(found), "two README blocks share a marker"
    return blocks


BLOCKS = readme_blocks()


def client_block(name: str, transport: str):
    lang, body = BLOCKS[f"client: {name} {transport}"]
    return json.loads(body) if lang == "json" else body.strip()


def published(entry: dict) -> dict:
    """A clone's stdio entry as it reads once the package is on PyPI: `uvx groundmcp ...`."""
    assert entry["command"] == CLONE_COMMAND, entry
    return {**entry, "command": "uvx", "args": ["groundmcp", *entry["args"]]}


def server_entry(config: dict) -> dict:
    servers = config.get("mcpServers") or config.get("servers")
    assert list(servers) == ["groundmcp"], config
    return servers["groundmcp"]


def node_tool(name: str) -> Path | None:
    path = TOOLS_BIN / name
    if path.exists():
        return path
    if os.environ.get("CI"):
        pytest.fail(f"CI must run {name}: .ci/run installs it into .tools/")
    pytest.skip(f"{name} not installed (npm install --prefix .tools ..., as .ci/run does)")


@pytest.fixture(scope="module")
def site(tmp_path_factory, real_encoder):
    """A project, two indexes of it (one for the stdio servers, one for the HTTP server), and a
    bin folder with the launcher stand-ins, put first on PATH."""
    base = tmp_path_factory.mktemp("readme")
    project = write_project(base / "project")
    for data in ("stdio-data", "http-data"):
        engine = Engine(Settings(data_dir=base / data), encoder=real_encoder)
        engine.ingest(str(project))
        engine.close()
    bin_dir = base / "bin"
    bin_dir.mkdir()
    (bin_dir / "uvx").write_text(
        "#!/bin/sh\n"
        '[ "$1" = groundmcp ] || { echo "uvx stand-in: only runs groundmcp, got $1" >&2; exit 2; }\n'
        f'shift\nexec "{GROUNDMCP}" "$@"\n'
    )
    (bin_dir / "npx").write_text(
        "#!/bin/sh\n"
        '[ "$1" = -y ] && shift\n'
        '[ "$1" = mcp-remote ] || { echo "npx stand-in: only runs mcp-remote, got $1" >&2; exit 2; }\n'
        f'shift\nexec "{TOOLS_BIN / "mcp-remote"}" "$@"\n'
    )
    for launcher in bin_dir.iterdir():
        launcher.chmod(0o755)
    path = f"{bin_dir}{os.pathsep}{TOOLS_BIN}{os.pathsep}{os.environ['PATH']}"
    return SimpleNamespace(base=base, project=project, stdio_data=base / "stdio-data",
                           http_data=base / "http-data", path=path)


def resolve(value, project: Path, token: str = "", url: str = DEFAULT_URL):
    """What the IDE does to a config before it uses it: its variables, our placeholders."""
    if isinstance(value, dict):
        return {k: resolve(v, project, token, url) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, project, token, url) for v in value]
    return (value.replace(CLONE_COMMAND, str(GROUNDMCP))
                 .replace("/path/to/project", str(project))
                 .replace("${workspaceFolder}", str(project))
                 .replace("${env:GROUNDMCP_HTTP_TOKEN}", token)
                 .replace("${input:groundmcp-token}", token)
                 .replace("paste-the-token-here", token)
                 .replace(DEFAULT_URL, url))


def stdio_params(entry: dict, site, **env: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=entry["command"], args=entry["args"],
        env={"PATH": site.path, "GROUNDMCP_DATA_DIR": str(site.stdio_data), **entry.get("env", {}), **env},
    )


async def check_connected(client: Client) -> None:
    """The server answers and serves the index it was pointed at."""
    names = {t.name for t in (await client.list_tools()).tools}
    assert {"search", "ingest", "list_collections"} <= names
    listed = await client.call_tool("list_collections", {})
    rows = listed.structured_content["collections"]
    assert [r["name"] for r in rows] == ["default"] and rows[0]["chunks"] > 0


def test_every_client_has_a_stdio_and_an_http_block():
    tags = {tag for tag in BLOCKS if tag.startswith("client: ")}
    assert tags == {f"client: {c} {t}" for c in CLIENTS for t in ("stdio", "http")}
    for name in CLIENTS - {"claude-code"}:
        stdio = server_entry(client_block(name, "stdio"))
        assert stdio["command"] == CLONE_COMMAND and stdio["args"][:1] == ["serve"]
        assert "--root" in stdio["args"]
        http = json.dumps(client_block(name, "http"))
        assert "8765/mcp" in http and "Bearer ${" in http  # a variable, never a literal token
    assert client_block("claude-code", "stdio").startswith(f"claude mcp add groundmcp -- {CLONE_COMMAND} serve")
    assert client_block("claude-code", "http").startswith("claude mcp add --transport http groundmcp ")
    assert CLONE_COMMAND in BLOCKS["serve: http"][1]


def test_published_blocks_are_the_clone_blocks_with_uvx():
    """The `uvx groundmcp` forms, for once the package is on PyPI, run the same command lines."""
    assert {t for t in BLOCKS if t.startswith("published: ")} == {
        "published: claude-desktop stdio", "published: claude-code stdio"}
    later = server_entry(json.loads(BLOCKS["published: claude-desktop stdio"][1]))
    assert later == published(server_entry(client_block("claude-desktop", "stdio")))
    line = BLOCKS["published: claude-code stdio"][1].strip()
    assert line == client_block("claude-code", "stdio").replace(CLONE_COMMAND, "uvx groundmcp")


def test_install_lines_name_a_real_command_and_extras():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["groundmcp"] == "groundmcp.quick:main"  # the fast path, then the full CLI
    clone = [line.split("#")[0].split() for line in BLOCKS["install: clone"][1].strip().splitlines()]
    assert clone == [["make", "install"], [".venv/bin/groundmcp", "doctor"]]
    if sys.prefix == str(REPO / ".venv"):  # `make install`'s venv runs these tests: its script is GROUNDMCP
        assert GROUNDMCP == REPO / ".venv" / "bin" / "groundmcp" and GROUNDMCP.exists()
    lines = [line.split("#")[0].split() for line in BLOCKS["install"][1].strip().splitlines()]
    assert [line[:2] for line in lines] == [["uvx", "groundmcp"], ["pipx", "run"], ["pipx", "install"],
                                            ["pip", "install"]]
    extras = set(re.findall(r"groundmcp\[(\w+)\]", README))
    assert extras and extras <= set(project["optional-dependencies"])
    assert CliRunner().invoke(app, ["--version"]).stdout.strip() == __version__
    helped = CliRunner().invoke(app, [lines[0][2], "--help"])
    assert helped.exit_code == 0 and "--json" in helped.output  # `doctor` is a real command


async def test_stdio_configs_start_the_server(site):
    entries = [resolve(server_entry(client_block(name, "stdio")), site.project)
               for name in sorted(CLIENTS - {"claude-code"})]
    commands = {json.dumps([e["command"], *e["args"]]) for e in entries}
    assert len(commands) == 1, commands  # one command line, three config shapes
    async with Client(stdio_params(entries[0], site), read_timeout_seconds=120) as client:
        await check_connected(client)


def claude(site, home: Path, *args: str, env: dict | None = None, shell: str | None = None):
    """Claude Code's CLI with its own home (its config file) and no traffic beyond this machine."""
    node_tool("claude")
    full = {**os.environ, "HOME": str(home), "PATH": site.path, "GROUNDMCP_DATA_DIR": str(site.stdio_data),
            "DISABLE_AUTOUPDATER": "1", "DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", **(env or {})}
    command = ["bash", "-c", shell] if shell else ["claude", *args]
    return subprocess.run(command, cwd=site.project, env=full, capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL)


def claude_config(home: Path, project: Path) -> dict:
    config = json.loads((home / ".claude.json").read_text())
    return config["projects"][str(project)]["mcpServers"]["groundmcp"]


def test_claude_code_stdio_line_with_the_real_cli(site, tmp_path):
    added = claude(site, tmp_path, shell=resolve(client_block("claude-code", "stdio"), site.project))
    assert added.returncode == 0, added.stderr
    entry = claude_config(tmp_path, site.project)
    assert entry["command"] == str(GROUNDMCP) and entry["args"] == ["serve", "--root", str(site.project)]
    listed = claude(site, tmp_path, "mcp", "list")
    pattern = rf"^groundmcp: {re.escape(str(GROUNDMCP))} serve .*Connected"
    assert re.search(pattern, listed.stdout, flags=re.M), listed.stdout
    # The published line records `uvx groundmcp serve ...`: the same server through the uvx stand-in.
    later = tmp_path / "published"
    later.mkdir()
    added = claude(site, later, shell=BLOCKS["published: claude-code stdio"][1].strip())
    assert added.returncode == 0, added.stderr
    later_entry = claude_config(later, site.project)
    assert later_entry["command"] == "uvx" and later_entry["args"] == ["groundmcp", *entry["args"]]


@pytest.fixture(scope="module")
def http_site(site):
    """The README's two-line HTTP start, run as written (the port moved off 8765 by environment)."""
    export, serve = BLOCKS["serve: http"][1].strip().splitlines()
    token = subprocess.run(["bash", "-c", f'{export}\nprintf %s "$GROUNDMCP_HTTP_TOKEN"'],
                           capture_output=True, text=True, check=True).stdout
    assert len(token) == 64
    port = free_port()
    env = {**os.environ, "PATH": site.path, "GROUNDMCP_HTTP_TOKEN": token, "GROUNDMCP_HTTP_PORT": str(port),
           "GROUNDMCP_DATA_DIR": str(site.http_data)}
    command = resolve(serve.split("#")[0].strip(), site.project)
    proc = subprocess.Popen(["bash", "-c", f"exec {command}"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        wait_for_port(proc, port, "the README's serve line")
        yield SimpleNamespace(token=token, url=f"http://127.0.0.1:{port}/mcp")
    finally:
        stop(proc)


@pytest.mark.parametrize("name", ["cursor", "vscode"])
async def test_http_configs_reach_the_server_with_the_token(site, http_site, name):
    entry = resolve(server_entry(client_block(name, "http")), site.project, http_site.token, http_site.url)
    assert entry["headers"]["Authorization"] == f"Bearer {http_site.token}"
    async with httpx2.AsyncClient() as raw:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        refused = await raw.post(entry["url"], json=body, headers={"Accept": "application/json, text/event-stream"})
        assert refused.status_code == 401  # the token is what gets the config in
    async with http_client(entry["url"], token=http_site.token) as client:
        await check_connected(client)


async def test_claude_desktop_http_through_mcp_remote(site, http_site):
    node_tool("mcp-remote")
    config = resolve(client_block("claude-desktop", "http"), site.project, http_site.token, http_site.url)
    entry = server_entry(config)
    assert entry["env"] == {"GROUNDMCP_HTTP_TOKEN": http_site.token}
    params = stdio_params(entry, site, HOME=str(site.base))  # mcp-remote keeps state under HOME
    async with Client(params, read_timeout_seconds=120) as client:
        await check_connected(client)


def test_claude_code_http_line_with_the_real_cli(site, http_site, tmp_path):
    line = resolve(client_block("claude-code", "http"), site.project, url=http_site.url)
    for home, token in ((tmp_path / "right", http_site.token), (tmp_path / "wrong", "not-the-token")):
        home.mkdir()
        added = claude(site, home, shell=line, env={"GROUNDMCP_HTTP_TOKEN": token})
        assert added.returncode == 0, added.stderr
        assert claude_config(home, site.project)["headers"] == {"Authorization": f"Bearer {token}"}
    right = claude(site, tmp_path / "right", "mcp", "list").stdout
    wrong = claude(site, tmp_path / "wrong", "mcp", "list").stdout
    assert re.search(rf"^groundmcp: {re.escape(http_site.url)} \(HTTP\) - .*Connected", right, flags=re.M), right
    assert "Connected" not in wrong and "401" in wrong, wrong


def test_launcher_stand_ins_refuse_other_packages(site):
    """The stand-ins run only what the README names, so a typo in a block cannot pass."""
    env = {**os.environ, "PATH": site.path}
    ran = subprocess.run(["uvx", "groundmcp", "--version"], env=env, capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == __version__
    assert subprocess.run(["uvx", "groundmcpp", "--version"], env=env, capture_output=True).returncode == 2
    assert subprocess.run(["npx", "-y", "mcp-remotee"], env=env, capture_output=True).returncode == 2
    assert shutil.which("uvx", path=site.path).startswith(str(site.base))
