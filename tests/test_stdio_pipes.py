"""The stdio transport on the event loop (server/stdio_pipes.py): lines as the server reads them, and
a real `groundmcp serve` spoken to in raw JSON-RPC over pipes, and over a regular file (the SDK's
transport)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from groundmcp.server.stdio_pipes import LineTooLong, next_line

from .mcp_helpers import server_env

INIT = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "0"}}}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
NOT_UTF8 = b'{"jsonrpc": "2.0", "id": 3, "method": "ping", "params": {"_meta": {"note": "caf\xe9"}}}'
BAD_PARAMS = {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": "not an object"}


def lines(*messages) -> bytes:
    return b"".join((m if isinstance(m, bytes) else json.dumps(m).encode()) + b"\n" for m in messages)


async def read_all(chunks: list[bytes], limit: int) -> list[object]:
    """What `next_line` gives for `chunks` fed one by one to a reader of `limit` bytes a line."""
    reader = asyncio.StreamReader(limit=limit)
    got: list[object] = []

    async def feed() -> None:
        for chunk in chunks:
            reader.feed_data(chunk)
            await asyncio.sleep(0)
        reader.feed_eof()

    feeding = asyncio.ensure_future(feed())
    while True:
        try:
            line = await next_line(reader)
        except LineTooLong as exc:
            got.append(exc)
            continue
        if line is None:
            break
        got.append(line)
    await feeding
    return got


def test_lines_are_split_and_the_last_needs_no_newline() -> None:
    got = asyncio.run(read_all([b'{"a": 1}\n{"b"', b': 2}\n\n{"c": 3}'], limit=64))
    assert got == [b'{"a": 1}', b'{"b": 2}', b"", b'{"c": 3}']


@pytest.mark.parametrize("pieces", [1, 7])
def test_a_line_over_the_limit_is_dropped_whole_and_the_next_read(pieces: int) -> None:
    long = b"x" * 300
    data = b'{"a": 1}\n' + long + b'\n{"b": 2}\n'
    step = -(-len(data) // pieces)
    got = asyncio.run(read_all([data[i:i + step] for i in range(0, len(data), step)], limit=64))
    assert got[0] == b'{"a": 1}' and got[2] == b'{"b": 2}' and len(got) == 3
    assert isinstance(got[1], LineTooLong) and "over the" in str(got[1])


def test_a_line_over_the_limit_at_the_end_of_input() -> None:
    got = asyncio.run(read_all([b'{"a": 1}\n', b"y" * 200], limit=64))
    assert got[0] == b'{"a": 1}' and isinstance(got[1], LineTooLong) and len(got) == 2


def serve(tmp_path: Path, stdin) -> subprocess.Popen:
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-m", "groundmcp", "serve", "--no-owner", "--root", str(root)],
        stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=server_env(tmp_path / "data"),
    )


def answers(out: bytes) -> dict[object, dict]:
    """Every line the server wrote, parsed (a stray line fails the test), by request id."""
    parsed = [json.loads(line) for line in out.decode().splitlines()]
    assert all(m.get("jsonrpc") == "2.0" for m in parsed)
    return {m.get("id"): m for m in parsed}


def check(got: dict[object, dict]) -> None:
    assert got[1]["result"]["serverInfo"]["name"] == "groundmcp"
    assert {"search", "ingest"} <= {t["name"] for t in got[2]["result"]["tools"]}


def test_serve_over_pipes_answers_and_survives_a_bad_line(tmp_path: Path) -> None:
    """Raw JSON-RPC to `serve` over pipes (the event-loop transport): a line that is no JSON-RPC is
    dropped and the next request answered, a request with a byte that is not UTF-8 is answered, and
    one that is JSON with an id but not a valid request gets JSON-RPC's Invalid Request error;
    every line the server writes is JSON-RPC (no stray output reaches the wire); closing stdin ends
    it cleanly."""
    proc = serve(tmp_path, subprocess.PIPE)
    try:
        proc.stdin.write(lines(INIT, INITIALIZED, b"this is not json", NOT_UTF8, BAD_PARAMS, LIST))
        proc.stdin.flush()
        out = b""
        while b'"id":2' not in out.replace(b" ", b""):  # the answer to tools/list (after the ping's)
            line = proc.stdout.readline()
            assert line, proc.stderr.read().decode()[-2000:]
            out += line
        rest, err = proc.communicate(timeout=120)  # closes stdin: the server's input ends
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    got = answers(out + rest)
    check(got)
    assert got[3]["result"] == {}  # a Latin-1 byte inside a string is read as U+FFFD, not dropped
    assert got[4]["error"]["code"] == -32600 and "tools/call" in got[4]["error"]["message"]  # answered, not dropped
