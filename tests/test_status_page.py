"""The status page (`GET /`, server/status_page.py) in a real browser: headless Chromium (Debian's
package) driven by Playwright against a real `groundmcp serve --http --token ...` subprocess, as a
bridge to the data dir's owner (the default) and with the index in process (--no-owner).

The page logs in, lists the collections, shows live request figures, runs searches with filters,
and renders the hits as the search tool returns them; file names, headings and text written to
run script are shown as text and run nothing. A screenshot of each run is kept under
tests/artifacts/ (git-ignored; CI keeps it as an artifact)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx2
import pytest

from groundmcp.engine import Engine
from groundmcp.settings import Settings

from .conftest import write_project
from .mcp_helpers import http_server, server_env

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
TOKEN = "page-s3cret"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# A file name, a heading (the hit's symbol) and a text that would run script if put in the page as HTML.
HOSTILE_NAME = "<img src=x onerror=alert(1)>.md"
HOSTILE_NAME_2 = '"><svg onload=window.__pwned=1>.md'
HOSTILE_TEXT = (
    "# <img src=x onerror=window.__pwned=1> Zanzibar payload notes\n\n"
    "The zanzibar payload marker: <script>window.__pwned = 1</script> and "
    '<img src=x onerror="window.__pwned=1"> are plain text here.\n'
)

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed: pip install playwright")
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no {CHROMIUM}: apt-get install chromium")


@pytest.fixture
def hostile_index(tmp_path, real_encoder):
    """(data dir, work dir): the sample project plus two docs whose names and text are markup."""
    work = tmp_path / "work"
    root = write_project(work / "project")
    (root / "docs" / HOSTILE_NAME).write_text(HOSTILE_TEXT, encoding="utf-8")
    (root / "docs" / HOSTILE_NAME_2).write_text(HOSTILE_TEXT.replace("Zanzibar", "Second zanzibar"), encoding="utf-8")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    engine.ingest(str(root))
    engine.close()
    return tmp_path / "data", work


@pytest.mark.parametrize("owner", ["bridge", "in-process"])
def test_status_page_in_a_browser(hostile_index, owner):
    data, work = hostile_index
    ARTIFACTS.mkdir(exist_ok=True)
    env = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "1", "GROUNDMCP_OWNER_IDLE_S": "120"} if owner == "bridge" \
        else {"GROUNDMCP_OWNER": "0", "GROUNDMCP_WATCH": "0"}
    try:
        with http_server(data, work, token=TOKEN, **env) as url:
            base = url.removesuffix("/mcp")
            check_gates(base, url)
            shot = ARTIFACTS / ("status-page.png" if owner == "bridge" else "status-page-in-process.png")
            drive_the_page(base, watched=owner == "bridge", screenshot=shot)
    finally:
        if owner == "bridge":
            subprocess.run([sys.executable, "-m", "groundmcp", "owner", "--stop"], env=server_env(data, **env),
                           capture_output=True, timeout=120)


def check_gates(base: str, url: str) -> None:
    """The page loads without the token; data does not; a foreign Origin is refused even with it."""
    with httpx2.Client(timeout=60) as http:
        page = http.get(base + "/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert http.get(base + "/static/status.js").status_code == 200
        assert http.get(base + "/metrics").status_code == 401
        assert http.get(base + "/static/other.js").status_code == 401  # only the page's own files are public
        hello = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}
        headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
        assert http.post(url, json=hello, headers=headers).status_code == 401
        authed = {**headers, "Authorization": f"Bearer {TOKEN}"}
        foreign = http.post(url, json=hello, headers={**authed, "Origin": "http://evil.example"})
        assert foreign.status_code == 403, foreign.text
        assert http.post(url, json=hello, headers={**authed, "Origin": base}).status_code == 200


def drive_the_page(base: str, *, watched: bool, screenshot: Path) -> None:
    dialogs: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(180_000)  # the first tool call may wait for the owner to load the model
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(base + "/")

            # Log in: a wrong token is refused and forgotten; the right one opens the page.
            page.wait_for_selector("body[data-state=login]")
            page.fill("#token", "wrong")
            page.click("#login-form button")
            page.wait_for_function("() => document.getElementById('login-error').textContent.includes('refused')")
            assert page.evaluate("sessionStorage.getItem('groundmcp.token')") is None
            page.fill("#token", TOKEN)
            page.click("#login-form button")
            page.wait_for_selector("body[data-state=ready]")
            assert page.evaluate("sessionStorage.getItem('groundmcp.token')") == TOKEN

            # Collections: model, files (the ignored build/ folder not among them), chunks, freshness.
            row = page.locator("#collections tr[data-collection=default] td")
            cells = row.all_text_contents()
            assert cells[0].startswith("default") and cells[1] == Settings().model
            assert cells[2] == "5" and int(cells[3].replace(",", "")) >= 5
            assert cells[5].endswith("ago")
            assert cells[6] == ("watched" if watched else "not watched")

            # Live figures from the stats resource: the page's own tool calls show up at the next refresh.
            page.wait_for_function(
                "() => [...document.querySelectorAll('#requests tbody tr')].some(r => r.cells[1].textContent === "
                "'collection_stats' && r.cells[4].textContent !== '')")
            assert "query cache" in page.text_content("#process")

            # A query: the hits as the search tool returns them.
            search(page, "retry with exponential backoff")
            first = page.locator("#results .hit").first
            assert first.locator(".citation").text_content() == "src/retry.js:1-9"
            assert "retryWithBackoff" in first.locator("pre.text").text_content()
            assert first.locator(".disk-state").text_content() == "disk: unchanged"
            assert "retryWithBackoff" in page.text_content("#results pre.raw")  # the tool's text content too

            # A tight budget: hits trimmed or left out, and the tool's note on what was cut.
            page.fill("#max-tokens", "200")
            search(page, "billing invoice total with tax")
            note = page.text_content("#results .note")
            assert note.startswith("Note: ") and "to fit max_tokens=200" in note, note
            assert "left out" in page.text_content("#results .summary")

            # Filters: docs only, under docs/; the hostile files come back, their markup as text.
            page.fill("#max-tokens", "")
            page.fill("#path", "docs/")
            page.select_option("#kind", "doc")
            page.fill("#top-k", "3")
            search(page, "zanzibar payload marker")
            citations = page.locator("#results .hit .citation").all_text_contents()
            assert citations and all(c.startswith("docs/") for c in citations), citations
            assert any(c.startswith(f"docs/{HOSTILE_NAME}:") for c in citations), citations
            assert any(c.startswith(f"docs/{HOSTILE_NAME_2}:") for c in citations), citations
            texts = "\n".join(page.locator("#results .hit pre.text").all_text_contents())
            assert "<script>window.__pwned = 1</script>" in texts
            symbols = page.locator("#results .hit .symbol").all_text_contents()
            assert any("<img src=x onerror=window.__pwned=1>" in s for s in symbols), symbols
            assert page.locator("#results img, #results script, #results svg, #results iframe").count() == 0
            assert page.locator("#collections img, #collections svg, #collection img").count() == 0

            # The searches show up in the live figures at the next refresh.
            page.wait_for_function(
                "() => [...document.querySelectorAll('#requests tbody tr')].some(r => r.cells[1].textContent === "
                "'search' && r.cells[2].textContent === 'hybrid' && Number(r.cells[3].textContent) === 3)")
            page.screenshot(path=str(screenshot), full_page=True)
            assert page.evaluate("typeof window.__pwned") == "undefined"
            assert dialogs == [] and errors == []
        finally:
            browser.close()
    assert screenshot.stat().st_size > 10_000


def search(page, query: str) -> None:
    page.fill("#q", query)
    page.evaluate("document.getElementById('results').dataset.state = ''")
    page.click("#search-form button[type=submit]")
    page.wait_for_selector("#results[data-state=done], #results[data-state=error]")
    assert page.get_attribute("#results", "data-state") == "done", page.text_content("#results")
