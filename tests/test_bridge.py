"""Front ends as bridges to one owner, with real processes: two stdio servers, an HTTP server and
the CLI share one data dir at once, each searching while another ingests; then the owner is
killed (-9) in the middle of an ingest, and every client's next request succeeds through a new
owner. Also: a bridge keeps its own server's limits (its roots; an HTTP token's grant)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import anyio
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.shared.exceptions import MCPError

from groundmcp.owner.paths import OwnerPaths, read_pid

from .conftest import write_project
from .mcp_helpers import http_client, http_server, server_env, stdio_client

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.skipif(sys.platform == "win32", reason="the owner serves a Unix socket"),
]

OWNED = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "120"}


def owners_started(paths: OwnerPaths) -> int:
    return paths.log.read_text().count(" serving ") if paths.log.exists() else 0


async def search_hits(client, query: str, collection: str = "default") -> list[str]:
    result = await client.call_tool("search", {"query": query, "collection": collection, "top_k": 3})
    assert not result.is_error, result.content[0].text
    return [h["path"] for h in result.structured_content["hits"]]


def cli_search(data, query: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "groundmcp", "search", query, "-k", "3"],
        env=server_env(data, **OWNED), capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "running in this process" not in proc.stderr  # it went through the owner
    return proc.stdout


async def test_four_clients_share_one_owner_and_survive_its_kill(tmp_path):
    root = write_project(tmp_path / "work" / "project")
    data = tmp_path / "data"
    paths = OwnerPaths(data)
    with http_server(data, tmp_path / "work", token="s3cret", **OWNED) as url:
        async with (
            stdio_client(data, root, **OWNED) as a,
            stdio_client(data, root, **OWNED) as b,
            http_client(url) as h,
        ):
            ingested = await a.call_tool("ingest", {"path": "."})  # relative: the stdio server's root
            assert not ingested.is_error, ingested.content[0].text
            assert ingested.structured_content["added"] == 3

            # b ingests a second collection while a, the HTTP client and the CLI search.
            found: dict[str, object] = {}

            async def ingest_second() -> None:
                r = await b.call_tool("ingest", {"path": str(root), "collection": "second"})
                found["b"] = r

            async def search(name, client) -> None:
                found[name] = await search_hits(client, "parse a currency string")

            async def cli() -> None:
                found["cli"] = await anyio.to_thread.run_sync(cli_search, data, "parse a currency string")

            async with anyio.create_task_group() as tg:
                tg.start_soon(ingest_second)
                tg.start_soon(search, "a", a)
                tg.start_soon(search, "h", h)
                tg.start_soon(cli)
            assert not found["b"].is_error and found["b"].structured_content["added"] == 3
            assert found["a"][0] == found["h"][0] == "src/billing.py"
            assert "src/billing.py" in found["cli"]
            assert owners_started(paths) == 1  # every front end went to the one owner
            assert await search_hits(h, "refunds", "second")

            # Kill -9 the owner while b's ingest of a third collection runs.
            pid = read_pid(paths.lock)
            third: dict[str, object] = {}

            async def ingest_third() -> None:
                third["r"] = await b.call_tool("ingest", {"path": str(root), "collection": "third"})

            async with anyio.create_task_group() as tg:
                tg.start_soon(ingest_third)
                await anyio.sleep(0.5)
                os.kill(pid, signal.SIGKILL)
            assert not third["r"].is_error, third["r"].content[0].text  # sent again to a new owner
            assert third["r"].structured_content["files_seen"] == 3

            # Every client's next request succeeds, answered by the new owner from the whole store.
            assert (await search_hits(a, "parse a currency string"))[0] == "src/billing.py"
            assert (await search_hits(h, "exponential backoff", "third"))[0] == "src/retry.js"
            assert "src/billing.py" in await anyio.to_thread.run_sync(cli_search, data, "parse a currency string")
            listed = await a.call_tool("list_collections", {})
            names = {c["name"] for c in listed.structured_content["collections"]}
            assert {"default", "second", "third"} <= names
            assert owners_started(paths) == 2
            assert read_pid(paths.lock) != pid


async def test_a_bridge_keeps_its_servers_limits(tmp_path):
    """The stdio bridge's roots and an HTTP bridge's token grants hold in the owner: ingest outside
    the roots is refused with the server's own advice, and a limited token sees only its grant."""
    work = tmp_path / "work"
    mine, theirs = write_project(work / "mine"), write_project(work / "theirs")
    data = tmp_path / "data"
    tokens = json.dumps({"t-mine": {"collections": ["mine"], "roots": [str(mine)]}})
    async with stdio_client(data, mine, **OWNED) as a:
        refused = await a.call_tool("ingest", {"path": str(theirs)})
        assert refused.is_error and "outside the allowed roots" in refused.content[0].text
        assert "--root" in refused.content[0].text
        assert not (await a.call_tool("ingest", {"path": ".", "collection": "mine"})).is_error
    with http_server(data, work, token=None, **OWNED, GROUNDMCP_HTTP_TOKENS=tokens) as url:
        async with stdio_client(data, theirs, **OWNED) as b:
            assert not (await b.call_tool("ingest", {"path": ".", "collection": "theirs"})).is_error
        async with http_client(url, token="t-mine") as h:
            listed = await h.call_tool("list_collections", {})
            assert [c["name"] for c in listed.structured_content["collections"]] == ["mine"]
            denied = await h.call_tool("search", {"query": "refunds", "collection": "theirs"})
            assert denied.is_error and "not available to this token" in denied.content[0].text
            stolen = await h.call_tool("ingest", {"path": str(theirs), "collection": "mine"})
            assert stolen.is_error
            assert "docs/guide.md" in await search_hits(h, "refunds", "mine")
        wrong = httpx2.post(url, json={}, headers={"Authorization": "Bearer wrong"}, timeout=30)
        assert wrong.status_code == 401


def test_cli_ingest_goes_through_the_owner_and_a_model_mismatch_is_refused(tmp_path):
    """`groundmcp ingest` sends the folder to the owner (loading no model itself: torch is never
    imported), prints the same report, and a command that asks for another model than the owner
    serves is told so instead of being served by the wrong encoder."""
    root = write_project(tmp_path / "project")
    data = tmp_path / "data"
    env = server_env(data, **OWNED)

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=300)

    try:
        first = run("-X", "importtime", "-m", "groundmcp", "ingest", str(root), "-c", "p")
        assert first.returncode == 0, first.stderr
        assert "running in this process" not in first.stderr
        assert " torch " not in first.stderr and "sentence_transformers" not in first.stderr
        assert "3 added" in first.stdout and "p ← " in first.stdout
        (root / "src" / "billing.py").unlink()
        again = run("-m", "groundmcp", "ingest", str(root / "src"), "-c", "p", "--json")
        assert again.returncode == 0, again.stderr
        report = json.loads(again.stdout)
        assert report["removed"] == 1 and report["added"] == 0  # the sub-folder joined its root
        assert "src/retry.js" in run("-m", "groundmcp", "search", "exponential backoff", "-c", "p").stdout
        assert OwnerPaths(data).log.read_text().count(" serving ") == 1

        other = run("-m", "groundmcp", "--model", str(tmp_path / "another-model"), "search", "backoff", "-c", "p")
        assert other.returncode == 1
        assert "serves model" in other.stderr and "owner --stop" in other.stderr
        missing = run("-m", "groundmcp", "ingest", str(tmp_path / "nope"), "-c", "p")
        assert missing.returncode == 1 and "nope" in missing.stderr
        listed = json.loads(run("-m", "groundmcp", "files", "p", "--glob", "src/*", "--json").stdout)
        assert [(f["path"], f["language"]) for f in listed] == [("src/retry.js", "javascript")]
        shown = json.loads(run("-m", "groundmcp", "collections", "p", "--json").stdout)
        assert shown["files"] == 2 and shown["watched"] is False and shown["pending"] == 0
        assert run("-m", "groundmcp", "collections", "nope").returncode == 1
        deleted = run("-m", "groundmcp", "collections", "--delete", "p")
        assert deleted.returncode == 0 and "deleted collection 'p'" in deleted.stderr
        assert "no collections yet" in deleted.stdout
        assert OwnerPaths(data).log.read_text().count(" serving ") == 1  # neither stopped the owner
    finally:
        run("-m", "groundmcp", "owner", "--stop")


@pytest.mark.filterwarnings("ignore:resources/subscribe is removed")  # the handshake era, on purpose
async def test_subscriptions_through_a_bridge_survive_the_owners_kill(tmp_path):
    """A stdio client subscribed through the bridge hears of a saved file (the owner's watcher
    re-ingests it); after kill -9 of the owner it is told its URI may have changed, and later
    saves still reach it through the new owner."""
    from mcp.types import ResourceUpdatedNotification

    root = write_project(tmp_path / "project")
    data = tmp_path / "data"
    heard: list[str] = []

    async def inbox(message) -> None:
        if isinstance(message, ResourceUpdatedNotification):
            heard.append(str(message.params.uri))

    async def wait_for(n: int) -> None:
        with anyio.fail_after(60):
            while len(heard) < n:
                await anyio.sleep(0.1)

    env = {**OWNED, "GROUNDMCP_WATCH": "1"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "groundmcp", "serve", "--root", str(root)], env=server_env(data, **env)
    )
    async with Client(params, mode="legacy", message_handler=inbox, read_timeout_seconds=120) as c:
        assert c.server_capabilities.resources.subscribe
        assert not (await c.call_tool("ingest", {"path": "."})).is_error
        uri = "groundmcp://file/default/1/5/docs/guide.md"
        await c.subscribe_resource(uri)
        with pytest.raises(MCPError):  # refused as a read of it would be
            await c.subscribe_resource("groundmcp://file/elsewhere/1/5/docs/guide.md")
        (root / "docs" / "guide.md").write_text("# User guide\n\nRefunds take 30 days now.\n")
        await wait_for(1)
        assert heard == [uri]

        os.kill(read_pid(OwnerPaths(data).lock), signal.SIGKILL)
        await wait_for(2)  # the bridge's follow reconnected to a new owner and says so
        (root / "docs" / "guide.md").write_text("# User guide\n\nRefunds take 60 days now.\n")
        await wait_for(3)
        assert set(heard) == {uri}
        assert owners_started(OwnerPaths(data)) == 2
