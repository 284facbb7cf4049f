"""Resource subscriptions (server/subscriptions.py), through real MCP clients over Streamable HTTP:
handshake-era sessions (`resources/subscribe`, notifications on the session) and 2026-07-28 listen
streams. Files change on disk and are re-ingested by the ingest tool or by the watcher; the
notifications must reach the sessions that follow them, and only those, within a deadline."""

from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import ResourceListChangedNotification, ResourceUpdatedNotification

from groundmcp.engine import Engine
from groundmcp.server.subscriptions import MAX_PER_SESSION
from groundmcp.settings import Settings

from .inproc_http import serve_in_thread

DEADLINE_S = 20.0
QUIET_S = 0.5  # how long a session that should hear nothing is listened to after the others heard


class Inbox:
    """What the server sent a session, as it arrives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def put(self, message) -> None:
        self.messages.append(message)

    def updated(self) -> list[str]:
        return [str(m.params.uri) for m in self.messages if isinstance(m, ResourceUpdatedNotification)]

    def list_changed(self) -> int:
        return sum(isinstance(m, ResourceListChangedNotification) for m in self.messages)

    async def wait(self, check, what: str, deadline_s: float = DEADLINE_S) -> None:
        deadline = time.monotonic() + deadline_s
        while not check():
            assert time.monotonic() < deadline, f"timed out waiting for {what}; got {self.messages}"
            await anyio.sleep(0.05)


@contextlib.asynccontextmanager
async def session(url: str, token: str | None = None):
    """A handshake-era (2025-11-25) client, the era of resources/subscribe, and its inbox."""
    inbox = Inbox()
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        client = Client(streamable_http_client(url, http_client=http), mode="legacy",
                        message_handler=inbox.put, read_timeout_seconds=60)
        async with client as c:
            yield c, inbox


@contextlib.asynccontextmanager
async def modern(url: str, token: str | None = None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http), read_timeout_seconds=60) as c:
            assert c.protocol_version == "2026-07-28"
            yield c


async def subscribe(c: Client, uri: str) -> None:
    with warnings.catch_warnings():  # deprecated as of 2026-07-28; this is the 2025 era
        warnings.simplefilter("ignore")
        await c.subscribe_resource(uri)


async def unsubscribe(c: Client, uri: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        await c.unsubscribe_resource(uri)


def file_uri(path: str, collection: str = "docs", start: int = 1, end: int = 5) -> str:
    return f"groundmcp://file/{collection}/{start}/{end}/{path}"


def edit(path: Path, text: str) -> None:
    path.write_text(f"{text}\nsaved at {time.time_ns()}\n")


@pytest.fixture
def work(tmp_path) -> Path:
    root = tmp_path / "work" / "docs"
    root.mkdir(parents=True)
    (root / "a.md").write_text("# Alpha\n\nThe alpha page.\n")
    (root / "b.md").write_text("# Bravo\n\nThe bravo page.\n")
    return root


@pytest.fixture
def served(tmp_path, work, hashing_encoder):
    """An HTTP server (watcher off) over `work`, indexed as collection 'docs'; tokens: an admin
    (every collection) and tok-other (collections 'other*', its own folder)."""
    other = tmp_path / "work" / "other"
    other.mkdir()
    tokens = {"tok-other": {"collections": ["other*"], "roots": [str(other)]}}
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"], watch=False,
                        http_token="admin", http_tokens=tokens)
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(work), collection="docs")
    with serve_in_thread(settings, engine) as url:
        yield url, work
    engine.close()


@pytest.mark.anyio
async def test_capabilities_declare_subscribe_and_resource_list_changes_only(served):
    url, _ = served
    async with session(url, "admin") as (c, _):
        caps = c.server_capabilities
        assert caps.resources.subscribe and caps.resources.list_changed
        assert not caps.tools.list_changed and not caps.prompts.list_changed


@pytest.mark.anyio
async def test_an_ingest_notifies_the_sessions_that_follow_a_changed_file_and_no_other(served):
    url, work = served
    a_uri, b_uri = file_uri("a.md"), file_uri("b.md", start=2, end=3)
    async with session(url, "admin") as (one, inbox1), session(url, "admin") as (two, inbox2), \
            session(url, "admin") as (idle, inbox3):
        await subscribe(one, a_uri)
        await subscribe(one, b_uri)
        await subscribe(two, b_uri)
        edit(work / "a.md", "# Alpha, edited")
        result = await idle.call_tool("ingest", {"path": str(work), "collection": "docs"})
        assert result.structured_content["changed"] == 1
        await inbox1.wait(lambda: inbox1.updated() == [a_uri], "the edited file's notification")
        await anyio.sleep(QUIET_S)
        assert inbox1.updated() == [a_uri]  # b.md did not change
        assert inbox2.updated() == [] and inbox3.updated() == []

        # One ingest tells each follower once; an unsubscribed URI is no longer followed.
        await unsubscribe(one, a_uri)
        await unsubscribe(one, a_uri)  # idempotent
        edit(work / "a.md", "# Alpha, edited again")
        edit(work / "b.md", "# Bravo, edited")
        await idle.call_tool("ingest", {"path": str(work), "collection": "docs"})
        await inbox2.wait(lambda: inbox2.updated() == [b_uri], "the second file's notification")
        await inbox1.wait(lambda: inbox1.updated() == [a_uri, b_uri], "the first session's")
        await anyio.sleep(QUIET_S)
        assert inbox1.updated() == [a_uri, b_uri] and inbox3.updated() == []

        # A file removed from disk (and so from the index by the next ingest) is a change too.
        (work / "b.md").unlink()
        await idle.call_tool("ingest", {"path": str(work), "collection": "docs"})
        await inbox2.wait(lambda: inbox2.updated() == [b_uri, b_uri], "the removed file's notification")
        with pytest.raises(MCPError, match="not an ingested file"):
            await two.read_resource(b_uri)


@pytest.mark.anyio
async def test_a_chunk_subscription_fires_when_its_file_changes_and_its_id_goes(served):
    url, work = served
    async with session(url, "admin") as (c, inbox):
        hits = (await c.call_tool("search", {"query": "alpha page", "collection": "docs", "mode": "sparse"}))
        hit = next(h for h in hits.structured_content["hits"] if h["path"] == "a.md")
        chunk = f"groundmcp://chunk/docs/{hit['id']}"
        await subscribe(c, chunk)
        await c.call_tool("ingest", {"path": str(work), "collection": "docs"})  # nothing changed
        edit(work / "b.md", "# Bravo, edited")  # another file of the same folder
        await c.call_tool("ingest", {"path": str(work), "collection": "docs"})
        await anyio.sleep(QUIET_S)
        assert inbox.updated() == []
        edit(work / "a.md", "# Alpha, edited")
        await c.call_tool("ingest", {"path": str(work / "a.md"), "collection": "docs"})  # the file alone
        await inbox.wait(lambda: inbox.updated() == [chunk], "the chunk's notification")
        with pytest.raises(MCPError, match="no chunk with id"):
            await c.read_resource(chunk)


@pytest.mark.anyio
async def test_the_watchers_reingest_notifies_without_any_tool_call(tmp_path, work, hashing_encoder):
    settings = Settings(data_dir=tmp_path / "data", roots=[tmp_path / "work"], watch=True)
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(work), collection="docs")
    uri = file_uri("a.md")
    try:
        with serve_in_thread(settings, engine) as url:
            async with session(url) as (c, inbox):
                await subscribe(c, uri)
                deadline = time.monotonic() + DEADLINE_S
                while not inbox.updated():  # the watch may start a moment after the server: save again
                    assert time.monotonic() < deadline, "the watcher's re-ingest never notified"
                    edit(work / "a.md", "# Alpha, saved in an editor")
                    await anyio.sleep(1.0)
                assert set(inbox.updated()) == {uri}
    finally:
        engine.close()


@pytest.mark.anyio
async def test_a_listen_stream_hears_its_uris_and_collections_coming_and_going(served):
    url, work = served
    uri = file_uri("a.md")
    async with modern(url, "admin") as c:
        async with c.listen(resource_subscriptions=[uri], resources_list_changed=True) as sub:
            events = aiter(sub)

            async def next_event() -> str:  # one at a time: the client folds events that wait
                with anyio.fail_after(DEADLINE_S):
                    event = await anext(events)
                return f"{type(event).__name__}:{getattr(event, 'uri', '')}"

            edit(work / "a.md", "# Alpha, edited")
            await c.call_tool("ingest", {"path": str(work), "collection": "docs"})
            assert await next_event() == f"ResourceUpdated:{uri}"
            await c.call_tool("ingest", {"texts": [{"id": "t1", "text": "a new note"}], "collection": "notes"})
            assert await next_event() == "ResourcesListChanged:"
            await c.call_tool("delete_collection", {"collection": "notes"})
            assert await next_event() == "ResourcesListChanged:"


@pytest.mark.anyio
async def test_list_changed_when_a_collection_comes_or_goes_and_only_to_who_may_see_it(served):
    url, work = served
    async with session(url, "admin") as (admin, inbox), session(url, "tok-other") as (other, other_inbox):
        await other.list_tools()  # a session the server has heard from
        await admin.call_tool("ingest", {"path": str(work), "collection": "docs"})  # not new
        await admin.call_tool("ingest", {"path": str(work), "collection": "docs-copy"})
        await inbox.wait(lambda: inbox.list_changed() == 1, "list_changed for a new collection")
        await admin.call_tool("ingest", {"texts": [{"id": "n", "text": "a note"}], "collection": "notes"})
        await inbox.wait(lambda: inbox.list_changed() == 2, "list_changed for a collection of texts")
        await admin.call_tool("delete_collection", {"collection": "docs-copy"})
        await inbox.wait(lambda: inbox.list_changed() == 3, "list_changed for a deleted collection")
        # The limited token may see only 'other*' collections: it hears of those alone.
        await admin.call_tool("ingest", {"texts": [{"id": "n", "text": "theirs"}], "collection": "other-notes"})
        await other_inbox.wait(lambda: other_inbox.list_changed() == 1, "the limited session's list_changed")
        await anyio.sleep(QUIET_S)
        assert other_inbox.list_changed() == 1 and inbox.list_changed() == 4


@pytest.mark.anyio
async def test_a_limited_token_is_refused_a_subscription_as_it_is_a_read(served):
    url, _ = served
    async with session(url, "admin") as (admin, _):
        hits = await admin.call_tool("search", {"query": "alpha", "collection": "docs", "mode": "sparse"})
        chunk = f"groundmcp://chunk/docs/{hits.structured_content['hits'][0]['id']}"
    uris = [file_uri("a.md"), chunk, file_uri("a.md", collection="nosuch"), file_uri("nosuch.md"),
            "groundmcp://chunk/other-missing/00000000-0000-0000-0000-000000000000"]
    async with session(url, "tok-other") as (c, inbox), modern(url, "tok-other") as m:
        for uri in uris:
            with pytest.raises(MCPError) as read:
                await c.read_resource(uri)
            with pytest.raises(MCPError) as sub:
                await subscribe(c, uri)
            with pytest.raises(MCPError) as listen:
                async with m.listen(resource_subscriptions=[uri]):
                    pass
            assert (sub.value.error.code, str(sub.value)) == (read.value.error.code, str(read.value)), uri
            assert str(listen.value) == str(read.value), uri
            assert "alpha" not in str(read.value).lower()
        with pytest.raises(MCPError) as unknown:
            await subscribe(c, "test://watched-resource")
        assert "Unknown resource" in str(unknown.value)
    assert inbox.updated() == []


@pytest.mark.anyio
async def test_a_session_holds_a_bounded_number_of_subscriptions(served):
    url, _ = served
    async with session(url, "admin") as (c, _):
        uris = [file_uri("a.md", start=1, end=n) for n in range(1, MAX_PER_SESSION + 1)]
        for uri in uris:
            await subscribe(c, uri)
        await subscribe(c, uris[0])  # already held: not a new one
        extra = file_uri("b.md")
        with pytest.raises(MCPError, match=f"already follows {MAX_PER_SESSION} resources.*unsubscribe"):
            await subscribe(c, extra)
        await unsubscribe(c, uris[-1])
        await subscribe(c, extra)
    async with session(url, "admin") as (fresh, _):  # the limit is per session
        await subscribe(fresh, extra)


@pytest.mark.anyio
async def test_a_session_that_went_away_does_not_stop_the_others(served):
    url, work = served
    uri = file_uri("a.md")
    async with session(url, "admin") as (stays, inbox):
        await subscribe(stays, uri)
        async with session(url, "admin") as (leaves, _):
            await subscribe(leaves, uri)
        edit(work / "a.md", "# Alpha, edited after a client left")
        await stays.call_tool("ingest", {"path": str(work), "collection": "docs"})
        await inbox.wait(lambda: inbox.updated() == [uri], "the notification of the session that stayed")
        edit(work / "a.md", "# Alpha, edited once more")
        await stays.call_tool("ingest", {"path": str(work), "collection": "docs"})
        await inbox.wait(lambda: inbox.updated() == [uri, uri], "the next one too")
