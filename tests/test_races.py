"""Reads that must not be tricked by what the file became (issue 12, points 3 and 4).

- The file resource reads the file it opens under the same rules as ingest: a file replaced by a
  link to `.env` or a key, or overwritten with a secret, is refused.
- A file swapped for a link out of the root after the walk and before the read is never read.
- Flipping a file between a regular file and a link out of the root while reading it, through the
  MCP file resource over HTTP, through the same read in process (many more reads a second) and
  through ingest's read path at once, for RACE_SECONDS (30 by
  default; GROUNDMCP_RACE_SECONDS overrides): no read returns the outside file, and every failure
  is a clear refusal. The counts are printed (pytest -s) and, with GROUNDMCP_RACE_REPORT=FILE,
  written as JSON.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from pathlib import Path

import anyio
import pytest
from mcp.shared.exceptions import MCPError

from groundmcp.engine import Engine
from groundmcp.errors import GroundError
from groundmcp.ingest.read import read_bytes
from groundmcp.ingest.walk import FileEntry, Skipped, walk
from groundmcp.settings import Settings
from groundmcp.store.base import Filters

from .inproc_http import serve_in_thread
from .mcp_helpers import http_client

# 15 s gives each side thousands of flips to lose to; GROUNDMCP_RACE_SECONDS runs it longer.
RACE_SECONDS = float(os.environ.get("GROUNDMCP_RACE_SECONDS", "15"))
INSIDE = "def inside():\n    return 'the ordinary file inside the root'\n"
OUTSIDE_MARK = "OUTSIDE-THE-ROOT-7f3a"
AWS_KEY = "AKIA" + "Q3EGRT7XN2LBCD5H"
AWS_SECRET = "".join(["wJa9rXUtnF3MI/K7MDENG", "/bP2RfiCYzq8Tk4Lm0X"])  # noqa: FLY002 (a literal would match)


def client(url: str):
    """A real MCP client over Streamable HTTP, as the server's admin."""
    return http_client(url, "admin-tok")


@pytest.fixture
def served(tmp_path, hashing_encoder):
    """root/ holds code.py (ingested) beside secret files; outside/ holds a file no read may return."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "code.py").write_text(INSIDE)
    (outside / "target.py").write_text(f"def outside():\n    return '{OUTSIDE_MARK}'\n")
    # No watcher: it would (rightly) drop code.py from the index while it is a link, and these
    # tests are about reading the file the index names, whatever it has become.
    settings = Settings(data_dir=tmp_path / "data", roots=[root], http_token="admin-tok", watch=False)
    engine = Engine(settings, encoder=hashing_encoder)
    engine.ingest(str(root), collection="c")
    with serve_in_thread(settings, engine) as url:
        yield url, root.resolve(), outside.resolve(), engine
    engine.close()


@pytest.mark.anyio
async def test_the_file_resource_judges_the_file_it_opened_not_the_one_ingested(served):
    url, root, _, _ = served
    uri = "groundmcp://file/c/1/2/code.py"
    refusals = {}
    async with client(url) as c:
        assert "ordinary file" in (await c.read_resource(uri)).contents[0].text
        for name, body in ((".env", "DB_USER=app\n"), (".env.local", "MODE=dev\n"), ("server.key", "not pem\n")):
            (root / name).write_text(body)
            (root / "code.py").unlink()
            (root / "code.py").symlink_to(root / name)  # a link inside the root, to a credential file
            with pytest.raises(MCPError) as caught:
                await c.read_resource(uri)
            refusals[name] = str(caught.value)
        (root / "code.py").unlink()
        # Overwritten with a key whose id sits on a line not asked for: the whole file is judged.
        (root / "code.py").write_text(f"x = 1\ny = 2\nAWS_ACCESS_KEY_ID={AWS_KEY}\nAWS_SECRET_ACCESS_KEY={AWS_SECRET}\n")
        with pytest.raises(MCPError) as caught:
            await c.read_resource(uri)
        refusals["aws"] = str(caught.value)
        (root / "code.py").write_bytes(b"\x00\x01binary now")
        with pytest.raises(MCPError) as caught:
            await c.read_resource(uri)
        refusals["binary"] = str(caught.value)
    for name in (".env", ".env.local", "server.key"):
        assert "credential file" in refusals[name] and "DB_USER" not in refusals[name], refusals[name]
    assert "holds a secret (AWS access key id, line 3)" in refusals["aws"] and AWS_KEY not in refusals["aws"]
    assert "binary file now" in refusals["binary"]


def test_a_file_swapped_for_a_link_after_the_walk_is_not_read(tmp_path, hashing_encoder):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "code.py").write_text(INSIDE)
    (root / "sub" / "deep.py").write_text(INSIDE)
    (outside / "target.py").write_text(OUTSIDE_MARK)
    entries = {e.path: e for e in walk(root) if isinstance(e, FileEntry)}
    os.link(root / "code.py", tmp_path / "keep")  # the listed inode stays taken: no reuse below
    (root / "code.py").unlink()
    (root / "code.py").symlink_to(outside / "target.py")  # the file itself becomes a link
    os.rename(root / "sub", root / "sub-real")
    (root / "sub").symlink_to(outside)  # a folder on its path becomes a link
    (outside / "deep.py").write_text(OUTSIDE_MARK)
    assert read_bytes(entries["code.py"]) == Skipped("code.py", "unreadable: a symlink now; links are not followed when reading")
    assert read_bytes(entries["sub/deep.py"]).reason.startswith("unreadable: a folder on its path is a symlink")
    # Replaced by another regular file (renamed in from elsewhere) since the walk: refused too.
    (root / "code.py").unlink()
    (root / "code.py").write_text(INSIDE)
    assert read_bytes(entries["code.py"]) == Skipped("code.py", "unreadable: replaced since it was listed")


class Flipper:
    """Flips `path` between a regular file and a link to `outside`, as fast as it can, by
    renaming prepared entries over it (each flip is atomic: the path always exists)."""

    def __init__(self, path: Path, outside: Path) -> None:
        self.path, self.outside = path, outside
        self.stop = threading.Event()
        self.flips = 0
        self.thread = threading.Thread(target=self._run, name="flipper", daemon=True)

    def _run(self) -> None:
        spare_file, spare_link = self.path.with_name(".spare-file"), self.path.with_name(".spare-link")
        while not self.stop.is_set():
            spare_file.write_text(INSIDE)
            os.replace(spare_file, self.path)
            with contextlib.suppress(FileNotFoundError):
                spare_link.unlink()
            spare_link.symlink_to(self.outside)
            os.replace(spare_link, self.path)
            self.flips += 2

    def __enter__(self) -> Flipper:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _ingest_reads(root: Path, engine: Engine, until: float, counts: dict) -> None:
    """Ingest's read path (walk, then read) and whole ingests, over and over, until `until`."""
    while time.monotonic() < until:
        for entry in walk(root):
            if entry.path != "code.py" or not isinstance(entry, FileEntry):
                continue
            data = read_bytes(entry)
            counts["reads"] += 1
            if isinstance(data, Skipped):
                counts["refused"] += 1
            elif OUTSIDE_MARK.encode() in data:
                counts["escaped"] += 1
            else:
                counts["inside"] += 1
        if counts["reads"] % 50 == 0:
            engine.ingest(str(root), collection="race")
            counts["ingests"] += 1
            for _, payload in engine.store.scroll("race", Filters(visible=True), ["text"]):
                if OUTSIDE_MARK in payload.get("text", ""):
                    counts["escaped"] += 1


def _direct_reads(engine: Engine, root: Path, until: float, counts: dict, unexpected: list) -> None:
    """The file resource's read (Engine.file_lines) called in process, far faster than over HTTP."""
    while time.monotonic() < until:
        counts["reads"] += 1
        try:
            text = engine.file_lines("c", "code.py", 1, 2, within=(root,)).text
        except GroundError:
            counts["refused"] += 1
            continue
        except Exception as exc:  # noqa: BLE001 - counted: every failure must be a refusal
            counts["other_errors"] += 1
            unexpected.append(repr(exc))
            continue
        counts["escaped" if OUTSIDE_MARK in text else "inside"] += 1


@pytest.mark.anyio
async def test_flipping_a_file_to_a_link_out_of_the_root_never_leaks_it(served, capsys):
    url, root, outside, engine = served
    until = time.monotonic() + RACE_SECONDS
    ingest = {"reads": 0, "inside": 0, "refused": 0, "escaped": 0, "ingests": 0}
    resource = {"reads": 0, "inside": 0, "refused": 0, "escaped": 0, "other_errors": 0}
    direct = dict(resource)
    unexpected: list[str] = []
    with Flipper(root / "code.py", outside / "target.py") as flipper:
        worker = threading.Thread(target=_ingest_reads, args=(root, engine, until, ingest), daemon=True)
        reader = threading.Thread(target=_direct_reads, args=(engine, root, until, direct, unexpected), daemon=True)
        worker.start()
        reader.start()
        async with client(url) as c:
            while time.monotonic() < until:
                resource["reads"] += 1
                try:
                    text = (await c.read_resource("groundmcp://file/c/1/2/code.py")).contents[0].text
                except MCPError as exc:
                    # A refusal says why in a sentence; anything else (an internal error) counts.
                    if "cannot read 'code.py'" in str(exc) or "resolves outside its root" in str(exc):
                        resource["refused"] += 1
                    else:
                        resource["other_errors"] += 1
                        unexpected.append(str(exc))
                    continue
                resource["escaped" if OUTSIDE_MARK in text else "inside"] += 1
        await anyio.to_thread.run_sync(worker.join)
        await anyio.to_thread.run_sync(reader.join)
    report = {"seconds": RACE_SECONDS, "flips": flipper.flips, "resource": resource, "resource_in_process": direct,
              "ingest": ingest}
    with capsys.disabled():
        print(f"\nrace report: {json.dumps(report)}")
    if path := os.environ.get("GROUNDMCP_RACE_REPORT"):
        Path(path).write_text(json.dumps(report, indent=2))
    assert resource["escaped"] == 0 and direct["escaped"] == 0 and ingest["escaped"] == 0, report
    assert resource["other_errors"] == 0 and direct["other_errors"] == 0, unexpected[:3]
    # The race was real: both sides saw both states many times.
    assert flipper.flips >= 100 and ingest["ingests"] >= 1
    assert min(resource["inside"], resource["refused"], ingest["inside"], ingest["refused"]) > 0, report
