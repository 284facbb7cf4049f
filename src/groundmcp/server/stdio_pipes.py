"""MCP over stdio without a thread hop per message: stdin and stdout on the event loop.

The SDK's `stdio_server` reads stdin and writes stdout through `anyio.wrap_file`, so each line read
is a task sent to a worker thread, and each answer two more (the write and the flush): three wakes of
another thread and three hops back to the event loop per request. On a loaded machine each wake can
wait for a core. Where stdin and stdout are pipes or sockets (how an IDE or an MCP client spawns a
server) this transport hands them to the asyncio loop instead (`connect_read_pipe`,
`connect_write_pipe`), which reads and writes them without blocking, on the loop's own thread.
Anywhere else (a terminal, a regular file, another event loop, Windows) it is the SDK's transport.

As the SDK does, fd 0 is pointed at the null device and fd 1 at stderr while it serves, so a stray
read or print (of ours, a library's or a child process's) never reaches the protocol's pipe, and both
are put back at the end. A line that is not a JSON-RPC message goes to the server as the exception,
as the SDK's transport sends it; a line longer than MAX_LINE_BYTES is dropped whole and reported the
same way, where the SDK would hold it all in memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Protocol

import anyio
import mcp_types as types
from mcp.shared._context_streams import create_context_streams
from mcp.shared.message import SessionMessage

log = logging.getLogger(__name__)

MAX_LINE_BYTES = 256 * 1024 * 1024  # one JSON-RPC message; a larger one is dropped, not buffered
# lines a lane takes or sees
LANE_WORDS = ('"tools/call"', '"initialize"', "notifications/initialized", "notifications/cancelled")


class Lane(Protocol):
    """Requests sent some other way than through the server (owner/lane.py OwnerLane)."""

    def takes(self, message: Any) -> bool:
        """Whether the parsed JSON-RPC message goes by the lane (it sees every message that holds
        one of LANE_WORDS)."""

    async def send(self, line: bytes, request_id: Any) -> bytes | None:
        """The JSON-RPC answer to the request `line`, or None: the server then answers it. For a
        notification (`request_id` None), b"" once it is passed on."""


class LineTooLong(ValueError):
    """A message over MAX_LINE_BYTES: it was dropped."""


@asynccontextmanager
async def stdio_streams(lane: Lane | None = None) -> AsyncIterator[tuple]:
    """(read_stream, write_stream) of SessionMessages over this process's stdin and stdout, for
    `Server.run`: on the event loop where they are pipes or sockets, else the SDK's transport.
    `lane` (event loop only): requests it `takes` are sent by it and its answer written as it came;
    one it cannot answer goes to the server as any other (owner/lane.py)."""
    if not _native_applies():
        from mcp.server.stdio import stdio_server

        async with stdio_server() as streams:
            yield streams
        return
    wire_in, wire_out = _claim(0, os.O_RDONLY), _claim(1, os.O_WRONLY)
    try:
        async with _pipe_streams(wire_in, wire_out, lane) as streams:
            yield streams
    finally:
        _restore(1, wire_out)
        _restore(0, wire_in)


def _native_applies() -> bool:
    if sys.platform == "win32":
        return False
    try:
        asyncio.get_running_loop()  # anyio on its asyncio backend (trio has none)
        return all(_is_pipe_or_socket(fd) for fd in (0, 1))
    except (RuntimeError, OSError):
        return False


def _is_pipe_or_socket(fd: int) -> bool:
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


def _claim(fd: int, flags: int) -> int:
    """A private duplicate of `fd` (the wire), with `fd` itself pointed elsewhere: stdin at the null
    device, stdout at stderr."""
    wire = os.dup(fd)
    os.set_inheritable(wire, False)  # children (the owner a bridge starts) must not hold the wire
    elsewhere = os.open(os.devnull, flags) if fd == 0 else os.dup(2)
    try:
        os.dup2(elsewhere, fd)
    finally:
        os.close(elsewhere)
    return wire


def _restore(fd: int, wire: int) -> None:
    """Point `fd` back at the wire, blocking again as it came (the loop made it non-blocking)."""
    with suppress(OSError):
        os.set_blocking(wire, True)
        os.dup2(wire, fd)
    with suppress(OSError):
        os.close(wire)


@asynccontextmanager
async def _pipe_streams(wire_in: int, wire_out: int, lane: Lane | None) -> AsyncIterator[tuple]:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_LINE_BYTES, loop=loop)
    # Duplicates again, for the loop's transports to own and close: `wire_in`/`wire_out` stay ours.
    read_file = os.fdopen(os.dup(wire_in), "rb", buffering=0)
    write_file = os.fdopen(os.dup(wire_out), "wb", buffering=0)
    read_transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), read_file)
    write_transport, write_protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, write_file)
    writer = asyncio.StreamWriter(write_transport, write_protocol, None, loop)
    try:
        async with line_streams(reader, writer, lane) as streams:
            yield streams
    finally:
        read_transport.close()
        write_transport.close()


class Watch(Protocol):
    """What a line transport tells its owner of the requests it carries (owner/lane_server.py)."""

    def begin(self, request_id: Any) -> None:
        """A request came in."""

    def end(self, request_id: Any) -> None:
        """It was answered, or its client cancelled it."""


@asynccontextmanager
async def line_streams(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    lane: Lane | None = None,
    *,
    metadata: Any = None,
    watch: Watch | None = None,
    where: str = "stdin",
    limit: int = MAX_LINE_BYTES,
) -> AsyncIterator[tuple]:
    """(read_stream, write_stream) of SessionMessages over newline-delimited JSON-RPC on `reader` and
    `writer`: stdio's framing, on any asyncio stream (stdin and stdout, or an owner's lane socket).
    `metadata` rides on every message read (an owner's lane: the grant of the client it forwards,
    as an HTTP request carries it); `watch` hears of each request and its answer; `where` and
    `limit` (the reader's) name the input and its line limit in LineTooLong. The caller closes
    `writer`."""
    read_stream_writer, read_stream = create_context_streams[SessionMessage | Exception](0)
    write_stream, write_stream_reader = create_context_streams[SessionMessage](0)

    async def stdin_reader() -> None:
        async with read_stream_writer:
            while True:
                try:
                    line = await next_line(reader, where, limit)
                except LineTooLong as exc:
                    log.warning("%s", exc)
                    await read_stream_writer.send(exc)
                    continue
                except ConnectionError:  # a socket reset by its peer: the end of input
                    return
                if line is None:
                    return
                if not line.strip():
                    continue
                text = line.decode("utf-8", errors="replace")  # not UTF-8: U+FFFD, as the SDK reads it
                if lane is not None and any(word in text for word in LANE_WORDS):
                    try:
                        raw = json.loads(text)
                    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
                        raw = None
                    if lane.takes(raw):
                        tasks.start_soon(by_lane, line, text, raw.get("id"))
                        continue
                await to_server(text)

    async def to_server(text: str) -> None:
        try:
            message = types.jsonrpc_message_adapter.validate_json(text, by_name=False)
        except Exception as exc:  # noqa: BLE001 - handed to the server, as the SDK's transport does
            answer = _invalid_request(text, exc)
            if answer is not None:  # a request the server would drop unanswered: its client would wait
                writer.write(answer)
                with suppress(ConnectionError, BrokenPipeError):
                    await writer.drain()
                return
            await read_stream_writer.send(exc)
            return
        if watch is not None:
            if isinstance(message, types.JSONRPCRequest):
                watch.begin(message.id)
            elif isinstance(message, types.JSONRPCNotification) and message.method == "notifications/cancelled":
                watch.end((message.params or {}).get("requestId"))
        await read_stream_writer.send(SessionMessage(message, metadata=metadata))

    async def by_lane(line: bytes, text: str, request_id) -> None:
        assert lane is not None
        answer = await lane.send(line, request_id)  # the bytes as read: the owner decodes them as this did
        if answer is None:  # the server answers it, as any other request
            with suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                await to_server(text)
            return
        if not answer:  # a notification the lane passed on: nothing to answer
            return
        writer.write(answer + b"\n")
        with suppress(ConnectionError, BrokenPipeError):
            await writer.drain()

    async def stdout_writer() -> None:
        async with write_stream_reader:
            async for session_message in write_stream_reader:
                message = session_message.message
                writer.write(message.model_dump_json(by_alias=True, exclude_unset=True).encode("utf-8") + b"\n")
                try:
                    await writer.drain()
                except (ConnectionError, BrokenPipeError):  # the client went: nothing more to answer
                    return
                finally:
                    if watch is not None and isinstance(message, (types.JSONRPCResponse, types.JSONRPCError)):
                        watch.end(message.id)

    async with anyio.create_task_group() as tasks:
        tasks.start_soon(stdin_reader)
        tasks.start_soon(stdout_writer)
        yield read_stream, write_stream
        tasks.cancel_scope.cancel()


def _invalid_request(text: str, error: Exception) -> bytes | None:
    """JSON-RPC's "Invalid Request" answer (a line) to a request that is JSON with an id but not a
    valid message (params that are not an object, say), or None for anything else (not JSON, a
    notification, no id): the SDK's server drops such a message without an answer."""
    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, or nested past the parser's depth
        return None
    if not isinstance(raw, dict) or raw.get("id") is None or "method" not in raw:
        return None
    if not isinstance(raw["id"], (str, int)) or isinstance(raw["id"], bool):
        return None
    first = str(error).strip().splitlines()
    why = " ".join(first[:3])[:300]
    answer = {"jsonrpc": "2.0", "id": raw["id"], "error": {
        "code": types.INVALID_REQUEST, "message": f"invalid request {raw.get('method')!r}: {why}"}}
    return json.dumps(answer).encode("utf-8") + b"\n"


async def next_line(reader: asyncio.StreamReader, where: str = "stdin", limit: int = MAX_LINE_BYTES) -> bytes | None:
    """The next line (without its newline), None at the end of input; LineTooLong (after dropping
    the whole line) for one over the reader's limit."""
    try:
        return (await reader.readuntil(b"\n"))[:-1]
    except asyncio.IncompleteReadError as exc:  # the input ended without a final newline
        return exc.partial or None
    except asyncio.LimitOverrunError:
        dropped = 0
        while True:  # drop what is buffered of the line, and the rest of it as it comes
            try:
                dropped += len(await reader.readuntil(b"\n"))
                break
            except asyncio.LimitOverrunError as more:
                dropped += len(await reader.readexactly(more.consumed))
            except asyncio.IncompleteReadError as end:
                dropped += len(end.partial)
                break
        raise LineTooLong(f"dropped a message of {dropped:,} bytes on {where}: over the "  # noqa: B904 - the overrun is not the cause
                          f"{limit:,}-byte limit; send large ingests as a path or in smaller batches")
