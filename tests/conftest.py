"""Shared fixtures: the real bundled encoder (loaded once), fresh stores, small real corpora."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from groundmcp.encoders.base import Encoder
from groundmcp.encoders.hashing import HashingEncoder

STDLIB_JSON = Path(json.__file__).parent  # a small, real, always-present Python package

# CLI commands the tests run work in their own process unless a test asks for the resident owner
# (tests/test_owner.py builds its own environment): an owner left behind by a test would hold a
# model's memory and its data dir's lock for minutes. One that does start exits soon when idle.
os.environ.setdefault("GROUNDMCP_OWNER", "0")
os.environ.setdefault("GROUNDMCP_OWNER_IDLE_S", "30")

# The suite runs the model in float32 on every CPU, so that its vectors and the tolerances the tests
# hold them to are the same on every machine. On a CPU with native bf16 the product picks bfloat16
# (encoders/device.py pick_dtype); tests/test_bf16.py runs that precision on purpose, on any CPU.
# Subprocesses read the setting; encoders built in this process ask `cpu_has_fast_bf16`.
os.environ.setdefault("GROUNDMCP_PRECISION", "float32")
if os.environ["GROUNDMCP_PRECISION"] == "float32":
    from groundmcp.encoders import device as _device

    _device.cpu_has_fast_bf16 = lambda: False


@pytest.fixture(scope="session")
def real_encoder() -> Encoder:
    from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder

    return SentenceTransformerEncoder(batch_size=32)


@pytest.fixture
def hashing_encoder() -> Encoder:
    return HashingEncoder(dim=64)


@pytest.fixture
def hashing_server(tmp_path, hashing_encoder):
    """An in-process MCP server over an engine with the hashing encoder, its roots `tmp_path`."""
    from groundmcp.engine import Engine
    from groundmcp.server.app import build_server
    from groundmcp.settings import Settings

    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path])
    engine = Engine(settings, encoder=hashing_encoder)
    yield build_server(settings, engine=engine)
    engine.close()


@pytest.fixture(params=["edge", "qdrant-local"])
def store(request, tmp_path):
    """A fresh store of each backend: the embedded engine, and qdrant-client (local mode stands in
    for a server, which needs the same calls)."""
    from groundmcp.store.factory import open_store

    if request.param == "edge":
        s = open_store(data_dir=tmp_path / "data", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
    else:
        s = open_store(
            data_dir=tmp_path / "data", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=tmp_path / "local"
        )
    yield s
    s.close()


@pytest.fixture
def edge_store(tmp_path):
    from groundmcp.store.factory import open_store

    s = open_store(data_dir=tmp_path / "data", qdrant_url=None, qdrant_api_key=None, qdrant_local_path=None)
    yield s
    s.close()


@pytest.fixture
def project(tmp_path) -> Path:
    """A small mixed tree: Python, JavaScript, Markdown and an ignored build folder."""
    return write_project(tmp_path / "project")


def write_project(root: Path) -> Path:
    (root / "src").mkdir(parents=True)
    (root / "docs").mkdir()
    (root / "build").mkdir()
    (root / "src" / "billing.py").write_text(
        '"""Billing helpers."""\n\n\n'
        "class InvoiceCalculator:\n"
        '    """Computes invoice totals with tax."""\n\n'
        "    def __init__(self, tax_rate: float) -> None:\n"
        "        self.tax_rate = tax_rate\n\n"
        "    def total_with_tax(self, amounts: list[float]) -> float:\n"
        "        subtotal = sum(amounts)\n"
        "        return round(subtotal * (1 + self.tax_rate), 2)\n\n\n"
        "def parse_currency(text: str) -> float:\n"
        '    """Turn "$1,234.50" into 1234.5."""\n'
        '    return float(text.replace("$", "").replace(",", ""))\n'
    )
    (root / "src" / "retry.js").write_text(
        "// Retry a promise-returning function with exponential backoff.\n"
        "export async function retryWithBackoff(fn, attempts = 5, baseDelayMs = 100) {\n"
        "  for (let i = 0; i < attempts; i++) {\n"
        "    try { return await fn(); } catch (err) {\n"
        "      await new Promise((r) => setTimeout(r, baseDelayMs * 2 ** i));\n"
        "    }\n"
        "  }\n"
        "  throw new Error('retries exhausted');\n"
        "}\n"
    )
    (root / "docs" / "guide.md").write_text(
        "# User guide\n\nWelcome to the billing service.\n\n"
        "## Installation\n\nRun `pip install billing` and set BILLING_TOKEN in your environment.\n\n"
        "## Refunds\n\nRefunds are issued within 14 days to the original payment method.\n"
    )
    (root / "build" / "generated.py").write_text("def generated():\n    return 1\n")
    return root


@pytest.fixture
def stdlib_json_copy(tmp_path) -> Path:
    dest = tmp_path / "json_pkg"
    shutil.copytree(STDLIB_JSON, dest, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def index(tmp_path, real_encoder):
    """(data dir, work dir, project root): an index of the sample project, with the engine closed
    again so that a server process can own the store."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    work = tmp_path / "work"
    root = write_project(work / "project")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    engine.ingest(str(root))
    engine.close()
    return tmp_path / "data", work, root


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, real_encoder):
    """What the README's quick start leaves behind: `make demo` indexed a project into the
    collection "groundmcp" in the default data dir, `~/.local/share/groundmcp`. Here the project is
    the sample one and HOME a temporary folder (HOME, because MCP clients pass it on to the servers
    they start, and not XDG_DATA_HOME); `env` is a process environment that finds the index there,
    with no GROUNDMCP_* or XDG_DATA_HOME variable set. Read-only: tests must not write to it."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    base = tmp_path_factory.mktemp("after-quick-start")
    root = write_project(base / "project")
    home = base / "home"
    data = home / ".local" / "share" / "groundmcp"
    engine = Engine(Settings(data_dir=data), encoder=real_encoder)
    engine.ingest(str(root), collection="groundmcp")
    engine.close()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GROUNDMCP_", "XDG_DATA_HOME"))}
    yield SimpleNamespace(root=root, home=home, data=data, env=env | {"HOME": str(home)})
    from groundmcp.owner.daemon import stop_owner

    stop_owner(data)  # the owner a `serve` of the README's commands started: not past the session


@pytest.fixture(scope="session")
def shared_http_server(tmp_path_factory, real_encoder):
    """One `groundmcp serve --http --token s3cret` subprocess on an index of the sample project,
    shared by the tests that only read through it (every server process loads the model, which is
    most of what such a test costs). Tests that ingest or delete start their own."""
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    from .mcp_helpers import http_server

    base = tmp_path_factory.mktemp("shared-http")
    root = write_project(base / "work" / "project")
    engine = Engine(Settings(data_dir=base / "data"), encoder=real_encoder)
    engine.ingest(str(root))
    engine.close()  # the server process owns the store from here
    with http_server(base / "data", base / "work", token="s3cret") as url:
        yield SimpleNamespace(url=url, token="s3cret", data=base / "data", work=base / "work", root=root)
