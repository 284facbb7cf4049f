"""Fuzz every MCP tool's arguments with hypothesis, through the SDK's real client and a real index:
wrong types, huge strings, unicode (lone surrogates, NUL, right-to-left marks), negative and huge
numbers, NaN and infinities, empty lists, unknown keys. Every call must end in a result or in an
`isError` result with a message of its own (a crash shows only `Error executing tool NAME`), and
the server must keep answering. Then the same over stdio, as raw JSON-RPC lines, malformed ones too.

    FUZZ_EXAMPLES=2000 pytest tests/test_fuzz.py -s     # the long run reported in docs/reliability.md
    FUZZ_SHOW=1 ...                                      # also print every error message and raw frame
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import anyio.from_thread
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mcp import Client

from groundmcp.engine import Engine
from groundmcp.server.app import build_server
from groundmcp.settings import Settings

from .conftest import write_project

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "120"))
STDIO_EXAMPLES = max(10, EXAMPLES // 5)
DEFAULT, KEEP = "fuzz", "keep"  # the fuzz may delete the first; it never names the second

# -- strategies -------------------------------------------------------------------------------

ODD_CHARS = [
    "\x00", "\ud800", "\udfff", "\u202e", "\u200f", "\u200b", "\ufeff", "\U0001f600", "\u0301", "é",
    "\u4e2d", "\u0645", "a", "Z", "0", " ", "\t", "\n", "/", "\\", ".", "*", "?", "[", "]", "{",
    "'", '"', "%", "$", "~", "-",
]
SPECIAL_STRINGS = [
    "", " ", "\x00", DEFAULT, "nope", "default", "../../etc/passwd", "/etc/passwd", "/", "~", "*",
    "**/*", "[", "src/", "src/**/*.py", "docs/guide.md", "C:\\Windows", "null", "NaN", "-1", "a" * 300,
    "\u202egnp.exe", "project", "project/src/billing.py",
]
HUGE_STRINGS = ["x" * 2_001, "y" * 8_001, "\u0430" * 5_000, "z " * 60_000, "\U0001f600" * 3_000]
WORDS = ["refund policy", "retry with backoff", "parse_currency", "InvoiceCalculator", "the", "?!"]

text = st.one_of(
    st.text(max_size=30),
    st.text(alphabet=st.sampled_from(ODD_CHARS), max_size=30),
    st.sampled_from(SPECIAL_STRINGS),
    st.sampled_from(WORDS),
)
huge = st.sampled_from(HUGE_STRINGS)
# Keys with lone surrogates cannot leave the client (it encodes the arguments as UTF-8 first);
# values with them reach the server, and are fuzzed.
key = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
number = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 50, 51, 101, 2**31, 2**63, -(2**63), 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
scalar = st.one_of(st.none(), st.booleans(), number, text)
junk = st.one_of(
    scalar,
    huge,
    st.just([]),
    st.just({}),
    st.lists(scalar, max_size=5),
    st.dictionaries(key, scalar, max_size=3),
    st.lists(st.lists(scalar, max_size=2), max_size=2),
)


def text_list(max_size: int, item=None) -> st.SearchStrategy:
    return st.lists(st.one_of(text, huge) if item is None else item, max_size=max_size)


def mostly(valid: st.SearchStrategy, edge: st.SearchStrategy) -> st.SearchStrategy:
    """`valid` three times in four, else `edge` (values at or past the limits)."""
    return st.integers(0, 3).flatmap(lambda i: edge if i == 0 else valid)


collection = mostly(
    st.sampled_from([None, DEFAULT]), st.one_of(st.sampled_from(["nope", "scratch", "Bad Name!", "a" * 300]), text)
)
REQUIRED = {"search": {"query"}, "rerank": {"query"}, "embed": {"texts"}, "delete_collection": {"collection"},
            "delete_paths": {"paths"}}


def tool_args(project: Path, chunk_ids: list[str]) -> dict[str, dict[str, st.SearchStrategy]]:
    """For each tool, a strategy per argument: mostly valid values, sometimes edge ones (the junk
    strategy, any type at all, is mixed in by `calls`)."""
    paths = [str(project), str(project / "src"), str(project / "docs" / "guide.md"), "project"]
    odd_paths = ["..", "/", "/etc", "", "project/../..", str(project / "missing")]
    doc = st.fixed_dictionaries({"id": mostly(st.sampled_from(["a", "notes/b"]), text), "text": text})
    too_long_doc = st.just({"id": "big", "text": "w" * 2_000_001})
    return {
        "search": {
            "query": mostly(st.sampled_from(WORDS), st.one_of(text, huge)),
            "collection": collection,
            "top_k": mostly(st.integers(1, 50), number),
            "mode": mostly(st.sampled_from(["hybrid", "dense", "sparse"]), st.one_of(text, st.just("HYBRID"))),
            "path": mostly(st.sampled_from([None, "src/**/*.py", "*.md", "docs/", "src/billing.py"]), text),
            "languages": mostly(st.sampled_from([None, ["python"], ["markdown", "javascript"], []]), text_list(4, text)),
            "kind": mostly(st.sampled_from([None, "code", "doc"]), text),
            "rerank": st.sampled_from([False, False, False, True]),
            "max_tokens": mostly(st.integers(200, 20_000), number),
        },
        "rerank": {
            "query": mostly(st.sampled_from(WORDS), st.one_of(text, huge)),
            "documents": mostly(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), text_list(8)),
            "chunk_ids": mostly(st.lists(st.sampled_from(chunk_ids), min_size=1, max_size=5), st.lists(text, max_size=3)),
            "collection": collection,
            "top_k": mostly(st.integers(1, 100), number),
        },
        "ingest": {
            "path": mostly(st.sampled_from(paths), st.one_of(st.sampled_from(odd_paths), text)),
            "texts": mostly(st.lists(doc, min_size=1, max_size=3), st.one_of(st.just([]), st.lists(too_long_doc, max_size=1))),
            "collection": mostly(st.sampled_from([None, DEFAULT, "scratch"]), text),
            "dry_run": st.booleans(),
        },
        "embed": {
            "texts": mostly(st.lists(st.sampled_from(WORDS), min_size=1, max_size=16), text_list(18)),
            "kind": mostly(st.sampled_from(["query", "document"]), text),
        },
        "list_collections": {},
        "collection_stats": {"collection": collection},
        "delete_collection": {"collection": mostly(st.sampled_from(["scratch", "nope"]), text)},
        "delete_paths": {
            "paths": mostly(st.sampled_from([["src/retry.js"], ["docs"], ["nope.py"]]), st.lists(text, max_size=4)),
            "collection": mostly(st.sampled_from(["scratch", "nope"]), collection),
            "root": mostly(st.sampled_from([None, str(project)]), text),
        },
    }


def calls(project: Path, chunk_ids: list[str]) -> st.SearchStrategy:
    """(tool, arguments): every argument valid-ish, required ones always there; or one of them
    junk; or each of them left out, valid-ish or junk. Sometimes unknown keys too."""
    per_tool = tool_args(project, chunk_ids)

    @st.composite
    def one(draw):
        tool = draw(st.sampled_from(sorted(per_tool)))
        params = per_tool[tool]
        mode = draw(st.sampled_from(["plausible", "plausible", "one junk", "chaos"]))
        spoiled = draw(st.sampled_from(sorted(params))) if params and mode == "one junk" else None
        args = {}
        for name, plausible in params.items():
            if name == spoiled:
                args[name] = draw(junk)
                continue
            if mode == "chaos":
                choice = draw(st.sampled_from(["omit", "plausible", "junk"]))
            elif name in REQUIRED.get(tool, ()):
                choice = "plausible"
            else:
                choice = draw(st.sampled_from(["omit", "plausible"]))
            if choice != "omit":
                args[name] = draw(plausible if choice == "plausible" else junk)
        if draw(st.integers(0, 9)) == 0:
            args |= draw(st.dictionaries(key, scalar, min_size=1, max_size=2))
        return tool, args

    return one()


def error_text(result) -> str:
    return "".join(getattr(c, "text", "") for c in result.content)


def check(tool: str, args: dict, result, seen: Counter) -> None:
    """A result, or an isError with a message of its own: never the SDK's mask for a crash."""
    if result.is_error:
        message = error_text(result)
        assert message.strip(), (tool, args)
        assert message.strip() != f"Error executing tool {tool}", f"{tool} crashed on {args!r}"
        seen[f"{tool}: error"] += 1
        if os.environ.get("FUZZ_SHOW"):
            print(tool, repr(args)[:150], "->", message[:200].replace("\n", " | "))
    else:
        assert result.structured_content is not None, (tool, args, result)
        seen[f"{tool}: ok"] += 1


# -- in-process, the SDK's client -------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, real_encoder):
    base = tmp_path_factory.mktemp("fuzz")
    project = write_project(base / "work" / "project")
    settings = Settings(data_dir=base / "data", collection=DEFAULT, roots=[base / "work"])
    engine = Engine(settings, encoder=real_encoder)
    engine.ingest(str(project))
    engine.ingest(str(project), collection=KEEP)
    chunk_ids = [i for i, _ in engine.store.scroll(DEFAULT, None, [])]
    with anyio.from_thread.start_blocking_portal() as portal:
        with portal.wrap_async_context_manager(Client(build_server(settings, engine=engine))) as client:
            yield portal, client, project, chunk_ids
    engine.close()


def test_fuzz_every_tool_in_process(fuzz_server):
    portal, client, project, chunk_ids = fuzz_server
    seen: Counter[str] = Counter()

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )
    @given(call=calls(project, chunk_ids))
    def fuzz(call) -> None:
        tool, args = call
        result = portal.call(client.call_tool, tool, args)
        check(tool, args, result, seen)

    started = time.monotonic()
    fuzz()
    print(f"\n{sum(seen.values())} calls in {time.monotonic() - started:.1f} s: {dict(sorted(seen.items()))}")
    # The server still does its job afterwards.
    after = portal.call(client.call_tool, "search", {"query": "refund policy", "collection": KEEP})
    assert not after.is_error and after.structured_content["hits"][0]["path"] == "docs/guide.md"
    assert sum(v for k, v in seen.items() if k.endswith(": ok")) >= EXAMPLES // 10  # not all rejected


# -- over stdio, raw JSON-RPC lines ------------------------------------------------------------


class RawStdio:
    """A `groundmcp serve` subprocess spoken to in raw JSON-RPC lines."""

    def __init__(self, data_dir: Path, root: Path) -> None:
        env = {**os.environ, "GROUNDMCP_DATA_DIR": str(data_dir), "GROUNDMCP_COLLECTION": DEFAULT}
        self.log = data_dir.parent / "server.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "groundmcp", "-v", "serve", "--root", str(root)],
                env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
            )
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()
        self.next_id = 1000

    def _pump(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line)

    def send_line(self, line: bytes) -> None:
        self.proc.stdin.write(line.rstrip(b"\n") + b"\n")
        self.proc.stdin.flush()

    def request(self, method: str, params, *, timeout: float = 120) -> dict:
        self.next_id += 1
        rid = self.next_id
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, ensure_ascii=True)
        if os.environ.get("FUZZ_SHOW"):
            print("SEND", rid, body[:300], flush=True)
        self.send_line(body.encode())
        return self.wait_for(rid, timeout)

    def request_or_dropped(self, method: str, params) -> dict | None:
        """Send a request the SDK may not parse, then a ping; the answer to the first if it came
        before the ping's, else None (the SDK drops a frame it cannot decode, without answering)."""
        self.next_id += 1
        rid = self.next_id
        body = json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": params}, ensure_ascii=True)
        self.send_line(body.encode())
        self.next_id += 1
        ping = self.next_id
        self.send_line(json.dumps({"jsonrpc": "2.0", "id": ping, "method": "ping"}).encode())
        answers = self.wait_for(ping, also=rid)
        return answers.get(rid)

    def wait_for(self, rid, timeout: float = 120, *, also=None):
        """The message answering `rid`; with `also`, a dict of both answers seen by then."""
        deadline = time.monotonic() + timeout
        seen = {}
        while True:
            assert self.proc.poll() is None, f"the server exited with {self.proc.returncode}: {self.log_tail()}"
            try:
                line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no answer to request {rid} within {timeout} s: {self.log_tail()}") from None
            message = json.loads(line)
            if also is not None and message.get("id") == also:
                seen[also] = message
            if message.get("id") == rid:
                return message if also is None else seen | {rid: message}
            assert time.monotonic() < deadline, f"no answer to request {rid} within {timeout} s"

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def raw_stdio(fuzz_server, tmp_path_factory):
    _, _, project, _ = fuzz_server
    base = tmp_path_factory.mktemp("fuzz-stdio")
    data = base / "data"
    shutil_copy_index(project, data)
    server = RawStdio(data, project.parent)
    init = server.request(
        "initialize",
        {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw-fuzz", "version": "0"}},
    )
    assert "result" in init, init
    server.send_line(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')
    yield server, project
    server.close()


def shutil_copy_index(project: Path, data: Path) -> None:
    """An index of `project` in `data` under both collection names (the engine closes it again,
    so the server subprocess can own the store)."""
    engine = Engine(Settings(data_dir=data, collection=DEFAULT))
    try:
        engine.ingest(str(project))
        engine.ingest(str(project), collection=KEEP)
    finally:
        engine.close()


def strict_json(value) -> bool:
    """Whether `value` travels as JSON without NaN, infinities or lone surrogates."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except (ValueError, UnicodeEncodeError):
        return False
    return True


def test_fuzz_over_stdio_raw_json_rpc(raw_stdio, fuzz_server):
    server, project = raw_stdio
    _, _, _, chunk_ids = fuzz_server
    seen: Counter[str] = Counter()

    @settings(max_examples=STDIO_EXAMPLES, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(call=calls(project, chunk_ids))
    def fuzz(call) -> None:
        tool, args = call
        params = {"name": tool, "arguments": args}
        if strict_json(args):
            answer = server.request("tools/call", params)
        else:  # NaN, infinities, lone surrogates: not JSON text that every parser takes
            answer = server.request_or_dropped("tools/call", params)
            if answer is None:
                seen["not strict JSON: dropped by the SDK, unanswered"] += 1
                return
        if "error" in answer:  # a protocol error only for what is not strict JSON
            assert not strict_json(args), (tool, args, answer)
            assert answer["error"]["message"], answer
            seen["not strict JSON: JSON-RPC error"] += 1
            return
        result = answer["result"]
        if result.get("isError"):
            message = "".join(c.get("text", "") for c in result["content"])
            assert message.strip() and message.strip() != f"Error executing tool {tool}", (tool, args, message)
            seen[f"{tool}: error"] += 1
        else:
            seen[f"{tool}: ok"] += 1

    fuzz()
    # Frames no client would send: not JSON, cut short, arguments of the wrong shape, nesting
    # deeper than the SDK's JSON parser takes. The SDK answers what it can parse and drops (and
    # logs) what it cannot; either way the server must go on answering.
    deep = "[" * 5000 + "]" * 5000
    for line in (
        b"not json at all",
        b'{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "search", "argum',
        b'{"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": {"name": "search", "arguments": "x"}}',
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "search", "arguments": [1]}}',
        b'{"jsonrpc": "2.0", "id": 10, "method": "tools/call", "params": {"name": "nope", "arguments": {}}}',
        b'{"jsonrpc": "2.0", "id": 11, "method": "no/such/method", "params": {}}',
        ('{"jsonrpc": "2.0", "id": 12, "method": "tools/call", "params": {"name": "search", '
         f'"arguments": {{"query": {deep}}}}}}}').encode(),
        b'{"jsonrpc": "2.0", "id": 13, "method": "tools/call", "params": {"name": "search", '
        b'"arguments": {"query": "\\ud800\\u0000\\u202e"}}}',
        b"\xff\xfe\x00garbage bytes",
    ):
        server.send_line(line)
    for rid in (8, 9, 10, 11):  # 7 is cut short, 12 too deep and 13 not valid Unicode: unanswered
        answer = server.wait_for(rid, timeout=60)
        assert "error" in answer or answer["result"].get("isError"), answer
    after = server.request("tools/call", {"name": "search", "arguments": {"query": "refund policy", "collection": KEEP}})
    print(f"\nstdio: {dict(sorted(seen.items()))}")
    assert not after["result"].get("isError"), after
    assert after["result"]["structuredContent"]["hits"][0]["path"] == "docs/guide.md"
    assert server.proc.poll() is None
