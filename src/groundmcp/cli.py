"""The command line: thin; every command calls the same Engine the MCP tools call.

Results go to stdout (tables, or JSON with --json); progress bars and logs go to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from . import __version__
from .errors import GroundError, StoreLocked
from .ingest.report import progress_line
from .render import print_hits
from .search.query import SearchRequest
from .settings import Settings

app = typer.Typer(
    help="Grounded retrieval over code and documents: ingest a folder, search it, serve it over MCP.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain help: typer's rich help puts a type placeholder (`<bool>`) after every flag.
    rich_markup_mode=None,
    context_settings={"max_content_width": 100},
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

PROGRESS_EVERY_S = 5.0  # without a terminal, a progress line on stderr this often during an ingest


def _version(value: bool) -> None:
    if value:
        print(__version__)
        raise typer.Exit()


def _overrides(ctx: typer.Context) -> dict:
    """This invocation's global flags, kept on its click context (no module state to leak into the
    next invocation in the same process)."""
    obj = ctx.find_root().obj
    return dict(obj) if isinstance(obj, dict) else {}


@app.callback()
def _global(
    ctx: typer.Context,
    data_dir: Annotated[Optional[Path], typer.Option(help="Index directory [GROUNDMCP_DATA_DIR].")] = None,
    qdrant_url: Annotated[Optional[str], typer.Option(help="Qdrant server URL [GROUNDMCP_QDRANT_URL].")] = None,
    model: Annotated[Optional[str], typer.Option(help="Encoder: HF name or path [GROUNDMCP_MODEL].")] = None,
    device: Annotated[Optional[str], typer.Option(help="auto, cpu, cuda or mps [GROUNDMCP_DEVICE].")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log to stderr.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    given = {"data_dir": data_dir, "qdrant_url": qdrant_url, "model": model, "device": device}
    ctx.obj = {k: v for k, v in given.items() if v is not None}


@contextmanager
def _engine(ctx: typer.Context, lock_hint: str = "", **more):
    """An Engine from env + flags; expected failures become a message and exit code 1."""
    from .engine import Engine

    try:
        settings = Settings(**{**_overrides(ctx), **{k: v for k, v in more.items() if v is not None}})
    except ValidationError as exc:
        msgs = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        err.print(f"[red]error:[/] invalid settings: {escape(msgs)}")
        raise typer.Exit(2) from None
    engine = None
    try:
        try:
            engine = Engine(settings)
        except StoreLocked:
            if not _stop_owner_of(settings):
                raise
            engine = Engine(settings)
        yield engine
    except GroundError as exc:
        message = str(exc)
        if isinstance(exc, StoreLocked) and lock_hint:
            message = f"{message.rstrip('.')}. {lock_hint}"
        err.print(f"[red]error:[/] {escape(message)}", highlight=False)
        raise typer.Exit(1) from None
    finally:
        if engine is not None:
            engine.close()


@app.command()
def ingest(
    ctx: typer.Context,
    path: Annotated[str, typer.Argument(help="Folder, git checkout or single file to index.")],
    collection: Annotated[Optional[str], typer.Option("--collection", "-c")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would be encoded; write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """Index PATH incrementally: new and changed files are encoded, deleted ones removed.

    Goes through the data dir's owner (started if none runs) unless --no-owner."""
    label = "dry run" if dry_run else "ingest"
    with _ingest_progress(label) as progress:
        summary = _ingest_through_owner(ctx, no_owner, path, collection, dry_run, progress)
    if summary is None:
        from .tools.ingest import IngestSummary

        with _engine(ctx) as engine:
            with _ingest_progress(label) as progress:
                report = engine.ingest(path, collection=collection, dry_run=dry_run, progress=progress)
            if not dry_run:
                with err.status("building the HNSW index if the collection is large", spinner="dots"):
                    engine.optimize_if_large(report.collection)
        if as_json:
            out.print_json(json.dumps(report.to_dict()))
            return
        summary = IngestSummary.from_report(report).model_dump()
    elif as_json:
        out.print_json(json.dumps(summary))
        return
    _print_report(summary)


@contextmanager
def _ingest_progress(label: str):
    """A progress callback for an ingest: a bar on a terminal, else a line every few seconds."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("files, {task.fields[chunks]} chunks encoded"),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar, _ProgressLines(label, enabled=not err.is_terminal) as lines:
        task = bar.add_task(label, total=None, chunks=0)

        def progress(p) -> None:
            # The first call, before any file is done, carries the walk's count: the bar's total.
            bar.update(task, completed=p.files_done, total=p.files_total, chunks=p.chunks_encoded)
            lines.update(p)

        yield progress


def _ingest_through_owner(ctx: typer.Context, no_owner: bool, path: str, collection, dry_run: bool, progress):
    """The owner's ingest summary (the `ingest` tool's result), or None to ingest in process. The
    folder ingested (a file's folder) is this command's root, so the owner may read it."""
    found = _owner_client(ctx, no_owner)
    if found is None:
        return None
    from .claims import GRANT_HEADER, forwarded_grant
    from .owner import calls

    client, _ = found
    target = Path(os.path.realpath(Path(path).expanduser()))
    front = target if target.is_dir() else target.parent
    client.headers[GRANT_HEADER] = forwarded_grant(None, None, [os.fspath(front)])
    arguments = {"path": os.fspath(target), "dry_run": dry_run}
    if collection:
        arguments["collection"] = collection
    return _through_owner(client, lambda c: calls.ingest(c, arguments, progress))


class _ProgressLines:
    """Without a terminal (a log, CI, `make demo | tee`), a line on stderr every PROGRESS_EVERY_S
    seconds while the ingest runs: files, chunks, rate, ETA. A quick ingest prints none."""

    def __init__(self, label: str, *, enabled: bool, every: float | None = None) -> None:
        self.label, self.enabled, self.every = label, enabled, every or PROGRESS_EVERY_S
        self._latest = None
        self._started = time.monotonic()
        self._walked: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ingest-progress", daemon=True)

    def update(self, p) -> None:
        if self._walked is None:
            self._walked = time.monotonic()  # the first call comes when the walk is done
        self._latest = p

    def __enter__(self) -> _ProgressLines:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            now = time.monotonic()
            working = now - self._walked if self._walked is not None else None
            line = progress_line(self.label, self._latest, now - self._started, working)
            print(line, file=sys.stderr, flush=True)


def _print_report(r: dict) -> None:
    """An ingest summary (the `ingest` tool's fields, whichever path ran it) for a person."""
    verb = "would encode" if r["dry_run"] else "encoded"
    out.print(
        f"[bold]{escape(r['collection'])}[/] ← {escape(r['root'])}\n"
        f"  files: {r['files_seen']} seen, {r['added']} added, {r['changed']} changed, "
        f"{r['unchanged']} unchanged, {r['removed']} removed, {r['skipped_total']} skipped"
        + (f", {r['empty']} empty" if r["empty"] else "")
    )
    if r["rechunked"]:
        out.print(
            f"  re-chunked {r['rechunked']} unchanged file(s): the chunker or the chunk size changed since they were indexed"
        )
    rate = f" ({r['chunks'] / r['encode_seconds']:.1f} chunks/s encoding)" if r["chunks"] and r["encode_seconds"] else ""
    out.print(f"  chunks: {verb} {r['chunks']} ({r['tokens']} tokens), removed {r['chunks_removed']}{rate}")
    if r["leftovers_dropped"]:
        out.print(f"  dropped {r['leftovers_dropped']} unpublished chunks left by an interrupted ingest")
    if r["skipped_total"]:
        counts = ", ".join(f"{n} {reason}" for reason, n in r["skipped_by_reason"].items())
        out.print(f"  skipped by reason: {escape(counts)}", highlight=False)
    for s in r["skipped"][:20]:
        out.print(f"  [yellow]skipped[/] {escape(s['path'])}: {escape(s['reason'])}", highlight=False)
    if r["skipped_total"] > 20:
        out.print(f"  … and {r['skipped_total'] - 20} more skipped (see --json)")
    out.print(f"  took {r['seconds']:.1f} s")


@app.command("search")
def search_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words, a question or an identifier.")],
    collection: Annotated[
        Optional[list[str]],
        typer.Option("--collection", "-c", help="Collection, or a glob such as 'proj-*' (repeatable: one "
                     "ranked list over several, each hit naming its collection)."),
    ] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, max=100)] = 10,
    mode: Annotated[str, typer.Option(help="hybrid, dense or sparse.")] = "hybrid",
    path: Annotated[Optional[str], typer.Option(help="Path glob, e.g. 'src/**/*.py'.")] = None,
    language: Annotated[
        Optional[list[str]], typer.Option(help="Only these languages (python or py, markdown, ...; repeatable).")
    ] = None,
    kind: Annotated[Optional[list[str]], typer.Option(help="code or doc.")] = None,
    rerank: Annotated[bool, typer.Option("--rerank", help="Re-order the top candidates with the reranker.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print hits as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """Search a collection: hybrid (dense + BM25, fused by Qdrant) unless told otherwise."""
    request = SearchRequest(
        query=query,
        top_k=top_k,
        mode=mode,  # type: ignore[arg-type]  # checked by the engine
        path_glob=path,
        languages=tuple(language or ()),
        kinds=tuple(kind or ()),
        rerank=rerank,
    )
    spec = collection[0] if collection and len(collection) == 1 else collection  # a name, a glob or a list
    found = _search_through_owner(ctx, no_owner, request, spec, whole=as_json)
    if found is None:
        with _engine(ctx) as engine:
            found = _search_in_process(engine, request, spec)
    hits, states = found
    if as_json:
        out.print_json(json.dumps([h.to_dict() for h in hits]))
        return
    print_hits(out, hits, query, states)


def _search_in_process(engine, request: SearchRequest, spec) -> tuple[list, list[str]]:
    """The hits and their disk states, searched in this process: one collection as Engine.search
    does it, several (a glob or a list) merged as the search tool merges them."""
    from .search.multi import is_glob, search_many, select
    from .search.query import disk_state

    if spec is None or (isinstance(spec, str) and not is_glob(spec)):
        hits = engine.search(request, collection=spec)
    else:
        targets = select(spec, default=lambda: engine.settings.collection, name=lambda n: n,
                         listed=lambda: sorted(engine.collection_names()))
        found = search_many(engine, request, targets)
        for skipped in found.skipped:
            err.print(f"note: skipped collection {skipped.collection!r}: {skipped.reason}", highlight=False)
        hits = found.hits
    return hits, [disk_state(h) for h in hits]


@app.command()
def serve(
    ctx: typer.Context,
    http: Annotated[bool, typer.Option("--http", help="Serve Streamable HTTP instead of stdio.")] = False,
    host: Annotated[Optional[str], typer.Option(help="HTTP bind address [GROUNDMCP_HTTP_HOST].")] = None,
    port: Annotated[Optional[int], typer.Option(help="HTTP port [GROUNDMCP_HTTP_PORT].")] = None,
    token: Annotated[
        Optional[str], typer.Option(help="Require this bearer token over HTTP [GROUNDMCP_HTTP_TOKEN].")
    ] = None,
    root: Annotated[
        Optional[list[Path]],
        typer.Option(help="Folder the ingest tool may index (repeatable; default: the current one)."),
    ] = None,
    allow_host: Annotated[
        Optional[list[str]], typer.Option(help="Extra Host header to accept over HTTP (host:port).")
    ] = None,
    no_owner: Annotated[
        bool, typer.Option("--no-owner", help="Open the index in this process instead of sharing the "
                           "data dir's owner [GROUNDMCP_OWNER=0].")
    ] = False,
) -> None:
    """Serve the MCP tools over stdio (for IDEs and desktop apps) or Streamable HTTP (/mcp).

    With the embedded store, the server forwards every request to the data dir's owner (started
    when none runs), so any number of servers, IDE windows and CLI commands share one index."""
    more = {"http_host": host, "http_port": port, "http_token": token, "roots": root or None}
    if _serve_through_owner(ctx, no_owner, more, http=http, allowed_hosts=allow_host or []):
        return
    from .server.app import build_server
    from .server.transports import serve_http, serve_stdio

    share = (
        "To share one index between several clients (IDE windows, agents), leave the data dir's "
        "owner on (GROUNDMCP_OWNER=1, no --no-owner): every server and CLI command then goes "
        "through it."
    )
    with _engine(ctx, lock_hint=share, **more) as engine:
        s = engine.settings
        mcp = build_server(s, engine=engine)
        if http:
            _warn_if_open(s)
            serve_http(mcp, s, allowed_hosts=allow_host or [])
        else:
            serve_stdio(mcp)


def _warn_if_open(s: Settings) -> None:
    if not s.http_token and not s.http_tokens:
        err.print(
            f"[yellow]warning:[/] HTTP auth is off: no token is set, so any client that can reach "
            f"http://{s.http_host}:{s.http_port}/mcp may use every collection. Set --token "
            "(GROUNDMCP_HTTP_TOKEN) to require one.",
            highlight=False,
        )


@app.command()
def collections(
    ctx: typer.Context,
    name: Annotated[
        Optional[str], typer.Argument(help="Show this collection: model, roots, files and chunks per language, size.")
    ] = None,
    delete: Annotated[Optional[str], typer.Option(help="Delete this collection.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """List collections with their model, dimension and size (or show one, or delete one).

    Chunks are the searchable ones, as ingest counts them (files that gave no chunk are not)."""
    if name:
        return _show_collection(ctx, name, as_json, no_owner)
    if delete:
        _delete_collection(ctx, delete, no_owner)
    rows = _collections_through_owner(ctx, no_owner)
    if rows is None:
        with _engine(ctx) as engine:
            rows = engine.collections()
    if as_json:
        out.print_json(json.dumps([asdict(r) for r in rows]))
        return
    table = Table()
    for col in ("collection", "model", "dim", "chunks", "created"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r.name, r.model, str(r.dim), str(r.chunks), r.created)
    out.print(table if rows else "no collections yet: run `groundmcp ingest PATH`")


NO_OWNER_HELP = "Run in this process, not through the data dir's owner [GROUNDMCP_OWNER=0]."


def _delete_collection(ctx: typer.Context, name: str, no_owner: bool) -> None:
    from .owner import calls

    found = _owner_client(ctx, no_owner)
    chunks = _through_owner(found[0], lambda c: calls.delete_collection(c, name)) if found else None
    if chunks is None:
        with _engine(ctx) as engine:
            chunks = engine.delete_collection(name)
    err.print(f"deleted collection {name!r} ({chunks} chunks)")


def _owner_client(ctx: typer.Context, no_owner: bool, **more):
    """The data dir's owner client and this invocation's settings (`more`: the command's own
    flags), when this command should go through it (the embedded store, and neither --no-owner
    nor GROUNDMCP_OWNER=0); None otherwise."""
    if no_owner:
        return None
    try:
        s = Settings(**{**_overrides(ctx), **{k: v for k, v in more.items() if v is not None}})
    except ValidationError:
        return None  # the in-process path reports it
    if not s.owner or s.qdrant_url or s.qdrant_local_path:
        return None
    from .owner.client import owner_client

    return owner_client(s.data_dir, s.model, s.device), s


def _through_owner(client, work):
    """`work(mcp_client)` through the owner (started if need be). None, after a one-line note on
    stderr, when no owner can be had: the caller then runs in process. A tool error is the
    command's error (exit 1), as in process."""
    from .owner.client import OwnerUnavailable, ToolFailed

    try:
        return client.call(work)
    except ToolFailed as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    except OwnerUnavailable as exc:
        err.print(f"note: no index owner ({escape(str(exc))}); running in this process", highlight=False)
        return None


def _search_through_owner(ctx: typer.Context, no_owner: bool, request: SearchRequest, collection, *, whole: bool):
    """The hits from the owner's search tool, or None to search in process."""
    owner = _owner_client(ctx, no_owner)
    if owner is None:
        return None
    from .owner import calls

    client, s = owner
    arguments = calls.search_arguments(request, collection or s.collection)
    if arguments is None:
        return None  # beyond what the tool takes: the engine's own checks apply
    found = _through_owner(client, lambda c: calls.search(c, arguments, whole=whole))
    if found is None:
        return None
    hits, omitted, states, skipped = found
    for row in skipped:
        err.print(f"note: skipped collection {row['collection']!r}: {row['reason']}", highlight=False)
    if omitted:
        err.print(f"note: the owner left out {omitted} hit(s) to fit its response; --no-owner shows all")
    return hits, states


def _collections_through_owner(ctx: typer.Context, no_owner: bool):
    """The collection rows from the owner's list_collections tool, or None to list in process."""
    owner = _owner_client(ctx, no_owner)
    if owner is None:
        return None
    from .engine import CollectionSummary
    from .owner import calls

    rows = _through_owner(owner[0], calls.list_collections)
    return None if rows is None else [CollectionSummary(**r) for r in rows]


def _serve_through_owner(ctx: typer.Context, no_owner: bool, more: dict, *, http: bool, allowed_hosts: list[str]) -> bool:
    """Serve as a bridge to the data dir's owner (owner/bridge.py), over stdio or HTTP; False when
    this server should open the index itself (--no-owner, GROUNDMCP_OWNER=0, a Qdrant server or
    local path)."""
    found = _owner_client(ctx, no_owner, **more)
    if found is None or not found[0].paths.usable():
        return False
    from .access import resolve_roots
    from .owner.bridge import OwnerLink, serve_http_bridge, serve_stdio_bridge

    client, s = found
    if http:
        _warn_if_open(s)
        serve_http_bridge(OwnerLink(client), s, resolve_roots(s), allowed_hosts)
    else:
        serve_stdio_bridge(OwnerLink(client), resolve_roots(s))
    return True


def _stop_owner_of(settings: Settings) -> bool:
    """Stop the data dir's owner, if it is what holds the store, so that this process can open it
    (commands other than search and listing do not go through the owner yet). True if stopped."""
    from .owner.daemon import stop_owner

    if settings.qdrant_url or settings.qdrant_local_path:
        return False
    pid = stop_owner(settings.data_dir)
    if pid is not None:
        err.print(f"note: stopped the data dir's owner (pid {pid}) to open the store in this process", highlight=False)
    return pid is not None


@app.command(hidden=True)
def owner(
    ctx: typer.Context,
    stop: Annotated[bool, typer.Option("--stop", help="Stop the running owner and wait for it to exit.")] = False,
) -> None:
    """Own the data dir in the foreground: open the index once and serve the MCP tools on the
    private endpoint until idle: the socket <data dir>/owner.sock, or 127.0.0.1 with a token in
    <data dir>/owner.endpoint (CLI commands and servers start this themselves)."""
    from .owner.daemon import run_owner, stop_owner

    try:
        settings = Settings(**_overrides(ctx))
    except ValidationError as exc:
        msgs = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        err.print(f"[red]error:[/] invalid settings: {escape(msgs)}")
        raise typer.Exit(2) from None
    if stop:
        pid = stop_owner(settings.data_dir)
        err.print(f"stopped the owner (pid {pid})" if pid else f"no owner runs for {settings.data_dir}", highlight=False)
        return
    code = run_owner(settings)
    if code:
        raise typer.Exit(code)


def _show_collection(ctx: typer.Context, name: str, as_json: bool, no_owner: bool) -> None:
    """One collection in detail: the collection_stats tool's figures (the engine's stats, and the
    watcher's pending changes), through the owner or else in process (where nothing watches)."""
    from .engine import CollectionStats
    from .owner import calls

    found = _owner_client(ctx, no_owner)
    data = _through_owner(found[0], lambda c: calls.collection_stats(c, name)) if found else None
    if data is None:
        with _engine(ctx) as engine:
            data = {**asdict(engine.stats(name)), "watched": False, "pending": 0, "reingesting": False}
    if as_json:
        out.print_json(json.dumps(data))
        return
    s = CollectionStats(**{f: data[f] for f in CollectionStats.__dataclass_fields__})
    size = f"{s.disk_bytes / 2**20:.1f} MiB" if s.disk_bytes is not None else "not known (Qdrant server)"
    rows = [
        ("model", f"{s.model} ({s.dim}-d vectors)"),
        ("roots", "\n".join(s.roots) or "none"),
        ("files", f"{s.files:,}" + (f" (and {s.empty_files} empty, no chunk)" if s.empty_files else "")),
        ("chunks", f"{s.chunks:,}" + "".join(f", {n:,} {k}" for k, n in s.kinds.items())),
        ("created", s.created or "?"),
        ("last ingest", s.updated or "not known (Qdrant server)"),
        ("on disk", size),
    ]
    if data["watched"]:
        busy = ", re-ingesting now" if data["reingesting"] else ""
        rows.append(("watching", f"yes: {data['pending']} changed file(s) waiting{busy}"))
    out.print(f"[bold]{escape(s.name)}[/]")
    for key, value in rows:
        for i, part in enumerate(value.splitlines() or [""]):
            out.print(f"  [dim]{key if i == 0 else '':<12}[/] {escape(part)}", highlight=False)
    if s.languages:
        table = Table()
        for col, justify in (("language", "left"), ("files", "right"), ("chunks", "right")):
            table.add_column(col, justify=justify)
        for lang, chunks in s.languages.items():
            table.add_row(lang or "?", f"{s.files_by_language.get(lang, 0):,}", f"{chunks:,}")
        out.print(table)
    out.print(f"[dim]List its files: groundmcp files {escape(s.name)} --glob 'src/**/*.py'[/]")


@app.command()
def files(
    ctx: typer.Context,
    name: Annotated[Optional[str], typer.Argument(help="Collection (default: GROUNDMCP_COLLECTION).")] = None,
    glob: Annotated[
        Optional[str], typer.Option("--glob", "-g", help="Only paths matching this glob, as search's --path reads it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """List the files a collection holds, with their language and chunk count."""
    from .engine import IndexedFile
    from .owner import calls

    found = _owner_client(ctx, no_owner)
    listed = _through_owner(found[0], lambda c: calls.list_files(c, name or found[1].collection, glob)) if found else None
    if listed is not None:
        name, rows = listed["collection"], [IndexedFile(**row) for row in listed["files"]]
        if listed["truncated"]:
            err.print(f"note: the owner listed the first {len(rows):,} of {listed['total']:,} files; "
                      "--no-owner lists all", highlight=False)
    else:
        with _engine(ctx) as engine:
            name = name or engine.settings.collection
            rows = engine.files(name, glob)
    if as_json:
        out.print_json(json.dumps([asdict(r) for r in rows]))
        return
    if not rows:
        out.print(f"no indexed file in {name!r}" + (f" matches {glob!r}" if glob else ""), highlight=False)
        return
    several_roots = len({r.root for r in rows}) > 1
    table = Table(box=None, padding=(0, 2, 0, 0))
    for col in (["root"] if several_roots else []) + ["path", "language", "chunks"]:
        table.add_column(col, justify="right" if col == "chunks" else "left", overflow="fold")
    for r in rows:
        cells = [r.path, r.language or "-", str(r.chunks) if r.kind != "empty" else "0 (empty)"]
        table.add_row(*([r.root] if several_roots else []), *map(escape, cells))
    out.print(table)
    err.print(f"{len(rows):,} files, {sum(r.chunks for r in rows):,} chunks", highlight=False)


@app.command()
def doctor(
    ctx: typer.Context,
    no_model: Annotated[bool, typer.Option("--no-model", help="Do not load the encoder (faster).")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check the install: device, model, store, index sizes, extras; say what is missing and how to fix it.

    Exits 1 when a check fails."""
    from contextlib import nullcontext

    from .doctor import diagnose

    with err.status("checking", spinner="dots") if err.is_terminal else nullcontext():
        report = diagnose(overrides=_overrides(ctx), load_model=not no_model)
    if as_json:
        out.print_json(json.dumps(report.to_dict()))
    else:
        style = {"ok": "green", "info": "cyan", "warn": "yellow", "fail": "red"}
        table = Table(show_header=False, box=None, padding=(0, 1))
        for c in report.checks:
            table.add_row(f"[{style[c.status]}]{c.status}[/]", f"[bold]{c.name}[/]", escape(c.summary))
        out.print(table)
        fixes = [c for c in report.checks if c.fix and c.status != "ok"]
        if fixes:
            out.print("\n[bold]To fix:[/]")
            for c in fixes:
                out.print(f"  [{style[c.status]}]{c.name}[/]: {escape(c.fix)}")
    if not report.ok:
        raise typer.Exit(1)


@app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Argument(help="BEIR-layout folder: corpus.jsonl, queries.jsonl, qrels/test.tsv.")],
    out_dir: Annotated[
        Optional[Path], typer.Option("--out", help="Where results.md/.json/.png go (default ./eval-results/NAME).")
    ] = None,
    mode: Annotated[
        Optional[list[str]], typer.Option("--mode", help="dense, sparse, hybrid, hybrid+rerank (repeatable; default all).")
    ] = None,
    limit_queries: Annotated[Optional[int], typer.Option(help="Score only the first N queries.")] = None,
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="Collection to (re)use.")] = None,
) -> None:
    """Score retrieval on a BEIR dataset through the real ingest and search: nDCG@10, R@10, R@100, MRR@10 per mode.

    The corpus is ingested into its own collection (reused, and nothing re-encoded, on a second run)."""
    from .eval.dataset import open_dataset
    from .eval.drift import record_run
    from .eval.report import markdown, write_outputs
    from .eval.runner import MODES, run_eval

    modes = tuple(mode or MODES)
    with _engine(ctx) as engine:
        ds = open_dataset(dataset, limit_queries)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err,
            transient=True,
            disable=not err.is_terminal,
        ) as bar:
            ingest_task = bar.add_task("ingest passages", total=len(ds.docs))
            tasks = {m: bar.add_task(f"queries: {m}", total=len(ds.queries), start=False) for m in modes}

            def on_ingest(p) -> None:
                bar.update(ingest_task, completed=p.files_done)

            def on_query(m: str, done: int, total: int) -> None:
                bar.start_task(tasks[m])
                bar.update(tasks[m], completed=done)

            err.print(f"{ds.name}: {len(ds.docs):,} passages, {len(ds.queries):,} queries; modes {', '.join(modes)}")
            result = run_eval(engine, ds, modes, collection=collection, on_ingest=on_ingest, on_query=on_query)
        target = out_dir or Path("eval-results") / ds.name
        paths = write_outputs(result, target)
        paths["run record"] = record_run(result, ds, target)  # for `groundmcp eval-diff`
    out.print(markdown(result), markup=False, highlight=False)
    for kind, p in paths.items():
        err.print(f"{kind}: {p}")
    if "chart" not in paths:
        err.print("no chart: matplotlib is missing; pip install 'groundmcp[eval]'")


@app.command("eval-diff")
def eval_diff_cmd(
    folder: Annotated[
        Path, typer.Argument(help="A dataset's results folder (eval-results/NAME), or a folder of them.")
    ] = Path("eval-results"),
    metric: Annotated[str, typer.Option(help="ndcg@10, recall@10, recall@100 or mrr@10.")] = "ndcg@10",
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON.")] = False,
    fail_on_drop: Annotated[
        bool, typer.Option("--fail-on-drop", help="Exit 1 when a mode or group got worse beyond noise.")
    ] = False,
) -> None:
    """Compare the last two `groundmcp eval` runs of each dataset, per mode and query group, and say
    which moved beyond noise (paired bootstrap and sign test over the per-query scores).

    Each eval run is kept with its commit, model and date under eval-results/NAME/runs/."""
    from .eval.drift import compare, histories, report, runs_in

    try:
        shown, worse = [], False
        for where in histories(folder):
            runs = runs_in(where)
            if len(runs) < 2:
                err.print(f"{escape(str(where))}: {len(runs)} run(s) recorded; two are needed to compare", highlight=False)
                continue
            before, after = runs[-2], runs[-1]
            drifts = compare(before, after, metric)
            worse = worse or any(d.verdict == "worse" for d in drifts)
            if as_json:
                shown.append({"folder": str(where), "before": {"file": before.path.name, **before.meta},
                              "after": {"file": after.path.name, **after.meta}, "rows": [d.to_dict() for d in drifts]})
            else:
                out.print(report(where, before, after, drifts), markup=False, highlight=False)
    except GroundError as exc:
        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        raise typer.Exit(1) from None
    if as_json:
        out.print_json(json.dumps(shown))
    if fail_on_drop and worse:
        raise typer.Exit(1)


@app.command()
def stats(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print the figures as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """The running owner's figures: requests per tool and mode (counts, errors, latency), the query
    cache, memory, and each collection's size and pending changes (the same as GET /metrics).

    With no owner running, the index's sizes only, read in this process (no owner is started)."""
    snap = _stats_through_owner(ctx, no_owner)
    if snap is None:
        from .access import AppState
        from .server.metrics import snapshot_of

        with _engine(ctx) as engine:
            snap = snapshot_of(AppState(settings=engine.settings, engine=engine, roots=()))
        snap["served_by"] = "this process (no owner running: no request figures)"
    if as_json:
        out.print_json(json.dumps(snap))
        return
    _print_stats(snap)


def _stats_through_owner(ctx: typer.Context, no_owner: bool) -> dict | None:
    """The running owner's stats resource; None when none runs (a stats call starts none)."""
    found = _owner_client(ctx, no_owner)
    if found is None:
        return None
    from .owner import calls
    from .owner.endpoint import live

    if live(found[0].paths) is None:
        return None
    snap = _through_owner(found[0], calls.stats)
    if snap is not None:
        snap["served_by"] = f"owner (pid {snap.get('pid')})"
    return snap


def _print_stats(snap: dict) -> None:
    mb = 1024 * 1024
    out.print(f"groundmcp {snap['version']}, {snap['served_by']}; model {snap.get('model') or '?'}; "
              f"up {snap['uptime_s']:.0f} s; resident {snap['rss_bytes'] / mb:,.0f} MB", highlight=False)
    if snap["requests"]:
        table = Table(title="requests (latency over the latest 1,000 of each)")
        for col in ("method", "tool", "mode", "count", "errors", "p50 ms", "p95 ms", "p99 ms"):
            table.add_column(col, justify="right" if col[0] in "cep" and col != "method" else "left")
        for r in snap["requests"]:
            table.add_row(r["method"], r["tool"], r["mode"], str(r["count"]), str(r["errors"]),
                          f"{r['p50_ms']:.1f}", f"{r['p95_ms']:.1f}", f"{r['p99_ms']:.1f}")
        out.print(table)
    if c := snap.get("query_cache"):
        out.print(f"query cache: {c['hits']} hits, {c['misses']} misses ({c['hit_rate']:.0%}), {c['entries']} "
                  f"entries, {c['bytes'] / mb:.1f} MB of {c['max_bytes'] / mb:.0f} MB, {c['evictions']} evicted",
                  highlight=False)
    table = Table(title="collections")
    for col in ("collection", "model", "chunks", "files", "disk MB", "pending"):
        table.add_column(col, overflow="fold", justify="left" if col in ("collection", "model") else "right")
    for r in snap["collections"]:
        disk = r.get("disk_bytes")
        table.add_row(escape(r["name"]), escape(r.get("model") or r.get("error", "?")), str(r.get("chunks", "")),
                      str(r.get("files", "")), "" if disk is None else f"{disk / mb:.1f}", str(r.get("pending", "")))
    out.print(table if snap["collections"] else "no collections yet: run `groundmcp ingest PATH`")


@app.command("symbol")
def symbol_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name or a qualified tail: parse, Console.size.")],
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="Collection to look in.")] = None,
    kind: Annotated[Optional[str], typer.Option("--kind", "-k", help="Only this kind: function, method, class, ...")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """Where a symbol is defined (the find_symbol tool): path:lines, kind and signature."""
    from .owner import calls

    found = _owner_client(ctx, no_owner)
    rows = (_through_owner(found[0], lambda c: calls.find_symbol(c, name, kind, collection or found[1].collection))
            if found else None)
    if rows is None:
        with _engine(ctx) as engine:
            rows = [{"citation": f"{x.path}:{x.definition.start_line}-{x.definition.end_line}",
                     "kind": x.definition.kind, "qualified": x.definition.qualified,
                     "signature": x.definition.signature, "match": x.match}
                    for x in engine.find_symbol(name, kind=kind, collection=collection)]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        out.print(f"no definition named {name!r} or spelled like it", highlight=False)
    for r in rows:
        fuzzy = "  (close spelling)" if r["match"] == "fuzzy" else ""
        out.print(f"{escape(r['citation'])}  {r['kind']} {escape(r['qualified'])}: {escape(r['signature'])}{fuzzy}",
                  highlight=False)


@app.command("refs")
def refs_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A symbol, or a chunk id from search.")],
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="Collection to look in.")] = None,
    path: Annotated[Optional[str], typer.Option("--path", help="Prefer the definition in this file or folder.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
    no_owner: Annotated[bool, typer.Option("--no-owner", help=NO_OWNER_HELP)] = False,
) -> None:
    """Who calls a symbol and what it calls (the symbol_neighbours tool). Each caller is resolved
    (the syntax names this definition) or a ranked candidate; calls resolved to other definitions
    are counted, not listed."""
    from .owner import calls
    from .tools.symbols import neighbours_result, refs_data

    found = _owner_client(ctx, no_owner)
    data = (_through_owner(found[0], lambda c: calls.symbol_neighbours(c, name, collection or found[1].collection, path))
            if found else None)
    if data is None:
        with _engine(ctx) as engine:
            n = engine.symbol_neighbours(name, collection=collection, path=path)
            data = refs_data(neighbours_result(collection or engine.settings.collection, n, None))
    if omitted := data.pop("omitted", 0):
        err.print(f"note: the owner left out {omitted} entries to fit its response; --no-owner shows all")
    if as_json:
        out.print_json(json.dumps(data))
        return
    out.print(f"{escape(data['kind'])} {escape(data['qualified'])}  {escape(data['definition'])}", highlight=False)
    resolved = sum(c["resolution"] == "resolved" for c in data["callers"])
    out.print(f"callers ({len(data['callers'])}: {resolved} resolved, {len(data['callers']) - resolved} candidate(s)):",
              highlight=False)
    for c in data["callers"]:
        how = "resolved" if c["resolution"] == "resolved" else "candidate, top" if c["top"] else "candidate"
        out.print(f"  {escape(c['citation'])}  in {escape(c['scope'] or '<module>')}  ({how}, {c['rank']})",
                  highlight=False)
    if data["elsewhere"]:
        out.print(f"  not listed: {data['elsewhere']} call(s) of the name resolved to other definitions or outside "
                  "the index", highlight=False)
    out.print(f"callees ({len(data['callees'])}):", highlight=False)
    for c in data["callees"]:
        outside = " (not indexed)" if c["resolution"] == "outside" or not c["best"] else ""
        where = (f" -> {escape(c['best'])} ({c['resolution']}, {c['rank']}, {c['total']} candidate(s))"
                 if c["best"] and not outside else outside)
        out.print(f"  line {c['line']}: {escape(c['name'])}{where}", highlight=False)
    if data["importers"]:
        out.print("imported by: " + ", ".join(escape(i) for i in data["importers"]), highlight=False)


def main() -> None:
    app()
