"""The CLI's entry point, with a fast path: `groundmcp search QUERY ...` answered by a running owner
without importing the CLI's framework, the settings' pydantic models or the MCP SDK (together
over a second of a cold start; the search itself takes tens of milliseconds in a warm owner).

The fast path speaks the MCP handshake era to the owner's endpoint (owner/endpoint.py: its Unix
socket, or 127.0.0.1 with the owner's token) with the standard library (one keep-alive
connection: initialize, initialized, tools/call, then the session's DELETE) and prints
through the CLI's own renderer (render.py), so its output is the full CLI's. It answers only what
it can answer exactly as the full CLI would; anything else goes to the full CLI (cli.py), which
also starts an owner when none runs and reports every error in its own words:
- global flags other than --data-dir, or search options it does not know (--rerank, --json, ...);
- the owner off (GROUNDMCP_OWNER), a Qdrant server or local path, no owner accepting on its
  endpoint (or a loopback endpoint file it cannot trust), or an owner that serves another model
  than this command asks for;
- a hit the owner trimmed or left out to fit its response, or any JSON-RPC or transport failure.
A tool error (an unknown collection, a filter that matches nothing) is printed as the full CLI
prints it, with exit code 1.
"""

from __future__ import annotations

import json
import os
import sys
from http.client import HTTPConnection
from pathlib import Path

PROTOCOL_VERSION = "2025-11-25"
TIMEOUT_S = 600.0  # one search: the first after an owner's start waits for the model
TOOL_MAX_TOP_K = 50  # the search tool's bound; more goes to the full CLI, which searches in process
VALUE_OPTIONS = {"-c": "collection", "--collection": "collection", "-k": "top_k", "--top-k": "top_k",
                 "--mode": "mode", "--path": "path", "--language": "languages", "--kind": "kind"}
MODES = ("hybrid", "dense", "sparse")
KINDS = ("code", "doc")
OFF = ("0", "false", "no", "off")


class Fallback(Exception):
    """The fast path cannot answer this exactly; the full CLI will."""


def main() -> None:
    """`groundmcp`: the fast path when it can answer, else the full CLI."""
    try:
        code = quick(sys.argv[1:])
    except Fallback:
        code = None
    if code is None:  # outside the except block: the full CLI's own errors are not chained to it
        from .cli import main as full

        full()
        return
    sys.exit(code)


def quick(argv: list[str]) -> int:
    """Answer `argv` through a running owner and return the exit code; Fallback when it cannot."""
    data_dir, query, arguments = parse(argv)
    env = os.environ
    if env.get("GROUNDMCP_OWNER", "1").strip().lower() in OFF:
        raise Fallback("the owner is off")
    if env.get("GROUNDMCP_QDRANT_URL") or env.get("GROUNDMCP_QDRANT_LOCAL_PATH"):
        raise Fallback("a Qdrant server or local path: no owner")
    from .defaults import DEFAULT_MODEL, default_data_dir
    from .owner.client import launch_model
    from .owner.endpoint import published
    from .owner.paths import OWNER_PROTOCOL, OwnerPaths, read_meta

    data = Path(data_dir or env.get("GROUNDMCP_DATA_DIR") or default_data_dir()).expanduser()
    paths = OwnerPaths(data)
    meta = read_meta(paths.lock)
    if meta is None or launch_model(env.get("GROUNDMCP_MODEL") or DEFAULT_MODEL) not in meta.models:
        raise Fallback("no owner, or one with another model")
    if meta.protocol != OWNER_PROTOCOL:
        raise Fallback("an owner of another groundmcp")  # the full CLI replaces an older one
    endpoint = published(paths)
    if endpoint is None:
        raise Fallback("no owner endpoint")
    result = call_search(endpoint, arguments)
    return show(result, query)


def parse(argv: list[str]) -> tuple[str | None, str, dict]:
    """(--data-dir, the query, the search tool's arguments) of `[--data-dir D] search QUERY
    [options]`; Fallback for anything else."""
    args = list(argv)
    data_dir = None
    while args and args[0].startswith("--data-dir"):
        flag = args.pop(0)
        data_dir = flag.split("=", 1)[1] if "=" in flag else (args.pop(0) if args else None)
        if not data_dir:
            raise Fallback("--data-dir without a value")
    if not args or args.pop(0) != "search":
        raise Fallback("not a search")
    query, found = None, {"languages": [], "collection": []}
    while args:
        arg = args.pop(0)
        if arg.startswith("-") and arg != "-":
            flag, eq, value = arg.partition("=")
            if flag not in VALUE_OPTIONS:
                raise Fallback(f"option {flag}")
            if not eq:
                if not args:
                    raise Fallback(f"{flag} without a value")
                value = args.pop(0)
            name = VALUE_OPTIONS[flag]
            if name in ("languages", "collection"):
                found[name].append(value)
            elif name in found:
                raise Fallback(f"{flag} given twice")
            else:
                found[name] = value
        elif query is None:
            query = arg
        else:
            raise Fallback("a second query")
    if query is None:
        raise Fallback("no query")
    arguments: dict = {"query": query, "top_k": 10, "mode": found.get("mode", "hybrid"), "rerank": False}
    try:
        arguments["top_k"] = int(found.get("top_k", 10))
    except ValueError:
        raise Fallback("--top-k is not a number") from None
    if not 1 <= arguments["top_k"] <= TOOL_MAX_TOP_K or arguments["mode"] not in MODES:
        raise Fallback("a value the full CLI checks")
    from .defaults import DEFAULT_COLLECTION
    from .search.budget import HARD_CAP_TOKENS

    arguments["max_tokens"] = HARD_CAP_TOKENS  # whole chunks, as the CLI shows them
    names = found["collection"] or [os.environ.get("GROUNDMCP_COLLECTION") or DEFAULT_COLLECTION]
    arguments["collection"] = names[0] if len(names) == 1 else names  # a name, a glob or a list
    if "path" in found:
        arguments["path"] = found["path"]
    if found["languages"]:
        arguments["languages"] = found["languages"]
    if "kind" in found:
        if found["kind"] not in KINDS:
            raise Fallback("a kind alias")
        arguments["kind"] = found["kind"]
    return data_dir, query, arguments


def call_search(endpoint, arguments: dict) -> dict:
    """The search tool's result (the JSON-RPC `result`) from the owner at `endpoint` (a trusted one:
    owner/endpoint.py `published`; its token, if any, goes with every request)."""
    conn = endpoint.connection(TIMEOUT_S)
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               **endpoint.headers()}
    try:
        init = _post(conn, headers, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": PROTOCOL_VERSION, "capabilities": {},
            "clientInfo": {"name": "groundmcp-cli", "version": "quick"}}})
        headers["mcp-protocol-version"] = init["result"]["protocolVersion"]
        if conn.session_id:
            headers["mcp-session-id"] = conn.session_id
        _post(conn, headers, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        answer = _post(conn, headers, {"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                       "params": {"name": "search", "arguments": arguments}})
        if "mcp-session-id" in headers:
            conn.request("DELETE", "/mcp", headers=headers)
            conn.getresponse().read()
    except (OSError, ValueError, KeyError, TypeError) as exc:  # no owner, or an answer not understood
        raise Fallback(f"{type(exc).__name__}: {exc}") from None
    finally:
        conn.close()
    if "result" not in answer:
        raise Fallback("a JSON-RPC error")
    return answer["result"]


def _post(conn: HTTPConnection, headers: dict, message: dict) -> dict:
    """Send one message; the response to it (requests), or {} (a notification's 202)."""
    conn.request("POST", "/mcp", body=json.dumps(message), headers=headers)
    response = conn.getresponse()
    body = response.read()
    conn.session_id = response.getheader("mcp-session-id") or getattr(conn, "session_id", None)
    if response.status == 202 and "id" not in message:
        return {}
    if response.status != 200:
        raise ValueError(f"HTTP {response.status}")
    if (response.getheader("content-type") or "").startswith("application/json"):
        return json.loads(body)
    for data in _sse_data(body.decode("utf-8")):  # text/event-stream: notifications, then the answer
        sent = json.loads(data)
        if sent.get("id") == message["id"]:
            return sent
    raise ValueError("no response in the event stream")


def _sse_data(stream: str):
    """The data of each server-sent event in `stream`."""
    lines: list[str] = []
    for line in stream.splitlines():
        if line.startswith("data:"):
            lines.append(line[5:].removeprefix(" "))
        elif not line and lines:
            yield "\n".join(lines)
            lines = []
    if lines:
        yield "\n".join(lines)


class _Hit:
    __slots__ = ("citation", "collection", "score", "start_line", "symbol", "text")

    def __init__(self, h: dict, several: bool) -> None:
        start, end = h["chunk_lines"]
        self.citation, self.start_line = f"{h['path']}:{start}-{end}", start
        self.score, self.symbol, self.text = h["score"], h["symbol"], h["text"]
        self.collection = h.get("collection", "") if several else ""


def show(result: dict, query: str) -> int:
    """Print the search tool's result as the full CLI prints it; the exit code."""
    from rich.console import Console
    from rich.markup import escape

    if result.get("isError"):
        text = " ".join(c.get("text", "") for c in result.get("content", []))
        message = text.removeprefix("Error executing tool search: ") or "the search tool failed"
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(message)}", highlight=False)
        return 1
    found = result.get("structuredContent") or {}
    hits = found.get("hits")
    if hits is None or found.get("omitted") or any(h.get("truncated") for h in hits):
        raise Fallback("hits trimmed or left out: the full CLI reads them whole")
    from .render import print_hits

    for row in found.get("skipped") or []:
        note = f"note: skipped collection {row['collection']!r}: {row['reason']}"
        Console(stderr=True, soft_wrap=True).print(note, highlight=False)
    several = "collections" in found  # a glob or a list: each hit says its collection
    states = [h.get("disk_state", "unknown") for h in hits]
    print_hits(Console(soft_wrap=True), [_Hit(h, several) for h in hits], query, states)
    return 0
