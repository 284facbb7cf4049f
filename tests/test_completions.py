"""`completion/complete`: collections, languages, kinds and indexed path prefixes for the resource
templates' variables and the prompt's arguments, through the SDK's real client; over HTTP only the
token's collections."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from mcp import Client
from mcp.types import PromptReference, ResourceTemplateReference

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import write_project
from .mcp_helpers import free_port, http_client, server_env, stop, wait_for_port

pytestmark = pytest.mark.anyio

CHUNK = ResourceTemplateReference(type="ref/resource", uri="groundmcp://chunk/{collection}/{chunk_id}")
FILE = ResourceTemplateReference(type="ref/resource", uri="groundmcp://file/{collection}/{start}/{end}/{+path}")
PROMPT = PromptReference(type="ref/prompt", name="grounded-answer")


def indexed(tmp_path, encoder) -> Engine:
    """Collections 'default' (the sample project) and 'notes' (one text)."""
    root = write_project(tmp_path / "work" / "project")
    engine = Engine(Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"]), encoder=encoder)
    engine.ingest(str(root))
    engine.ingest_texts([("notes/a.md", "# A\n\nalpha")], collection="notes")
    return engine


@pytest.fixture
def served(tmp_path, hashing_encoder):
    engine = indexed(tmp_path, hashing_encoder)
    yield build_server(engine.settings, engine=engine)
    engine.close()


async def values(client, ref, name, value="", **chosen):
    result = await client.complete(ref, {"name": name, "value": value}, chosen or None)
    return result.completion.values


async def test_completions_offer_collections_languages_kinds_and_paths(served):
    async with Client(served) as client:
        assert client.server_capabilities.completions is not None
        assert await values(client, CHUNK, "collection") == ["default", "notes"]
        assert await values(client, FILE, "collection", "n") == ["notes"]
        assert await values(client, PROMPT, "collection", "de") == ["default"]
        assert await values(client, FILE, "path") == ["docs/", "src/"]
        src = await values(client, FILE, "path", "src/")
        assert "src/retry.js" in src and all(v.startswith("src/") for v in src)
        assert await values(client, FILE, "path", "", collection="notes") == ["notes/"]
        assert await values(client, FILE, "path", "notes/", collection="notes") == ["notes/a.md"]
        assert await values(client, FILE, "language", "py") == ["python"]
        assert await values(client, FILE, "kind") == ["code", "doc"]
        assert await values(client, CHUNK, "chunk_id") == []  # nothing to offer: ids come from search
        assert await values(client, FILE, "path", "", collection="nope") == []


async def test_over_http_a_token_is_offered_only_its_collections(tmp_path, hashing_encoder):
    indexed(tmp_path, hashing_encoder).close()
    tokens = {"tok-notes": ["notes"], "tok-none": ["other"]}
    port = free_port()
    args = [sys.executable, "-m", "groundmcp", "serve", "--http", "--port", str(port), "--root", str(tmp_path / "work")]
    env = server_env(tmp_path / "data", GROUNDMCP_HTTP_TOKENS=json.dumps(tokens))
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(proc, port, "server")
        url = f"http://127.0.0.1:{port}/mcp"
        async with http_client(url, "tok-notes") as client:
            assert await values(client, CHUNK, "collection") == ["notes"]
            assert await values(client, FILE, "path") == ["notes/"]  # its default: the one it names
            assert await values(client, FILE, "path", "", collection="default") == []  # not its own
            assert await values(client, FILE, "language", "", collection="default") == []
        async with http_client(url, "tok-none") as client:
            assert await values(client, PROMPT, "collection") == []
    finally:
        stop(proc)
