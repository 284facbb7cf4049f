"""Operating figures of one server: Prometheus text at `GET /metrics`, the same figures as JSON in
the `groundmcp://stats` resource (and `groundmcp stats`).

- Requests: every MCP request is counted and timed by a middleware on the app, labelled by method,
  tool (a tool this server has, else "unknown"), search mode (for `search`) and outcome (ok;
  tool_error: the tool answered isError; error: a protocol error or a crash). No label ever holds
  query text, a path, a URI or a token, so a series set stays as small as the tool list.
- Read at scrape time: each collection's chunks, files and bytes on disk (Engine.stats, kept until
  an ingest into it or SIZE_TTL_S: a scan of its payloads is O(chunks)), the changes the watcher
  has yet to re-ingest, the query-vector cache (search/query_cache.py), and the process's own
  figures (resident memory, CPU, open files: prometheus-client's process collector).

A registry per app (never the library's global one): two servers in one process (tests) keep
their own counts. Per-collection series are those the request's token may use: a limited token's
scrape names no other tenant's collection, as `list_collections` does not.

`/metrics` sits behind whatever gates the app: the bearer token over HTTP (server/transports.py),
the socket or the owner's token on the owner (a scrape there does not keep an idle owner awake:
owner/daemon.py), and an HTTP bridge serves its owner's figures behind its own token
(owner/bridge.py).
"""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ResourceError
from mcp_types.methods import SPEC_CLIENT_METHODS
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import __version__
from ..access import Access, AppState, access_for
from ..errors import GroundError

log = logging.getLogger(__name__)

STATS_URI = "groundmcp://stats"
METRICS_PATH = "/metrics"
SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 120.0, 600.0)
SIZE_TTL_S = 60.0  # a collection's sizes are read again after this long, or after an ingest into it
RECENT = 1000  # latest latencies kept per series, for the stats view's percentiles
MODES = ("hybrid", "dense", "sparse")
METHODS = SPEC_CLIENT_METHODS  # any other method is counted as "other": a client cannot grow the label set
STREAMS = frozenset({"subscriptions/listen"})  # open for as long as a client listens: counted, not timed
# The HTTP request (None: stdio, in-process) of the MCP request being handled: the stats resource is
# static, and the SDK injects no Context into a static resource, so the middleware hands it over.
_REQUEST = contextvars.ContextVar[Any]("groundmcp_metrics_request", default=None)


class Metrics:
    """The figures of one app (`register` makes one per MCPServer)."""

    def __init__(self, mcp: MCPServer | None) -> None:
        self._mcp = mcp
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "groundmcp_requests", "MCP requests handled, by method, tool, search mode and outcome",
            ["method", "tool", "mode", "outcome"], registry=self.registry,
        )
        self.seconds = Histogram(
            "groundmcp_request_seconds", "Time to answer an MCP request, by method, tool and search mode",
            ["method", "tool", "mode"], buckets=SECONDS_BUCKETS, registry=self.registry,
        )
        ProcessCollector(registry=self.registry)
        self.state: AppState | None = None
        self.started = time.time()
        self._tools: frozenset[str] | None = None
        self._lock = threading.Lock()
        self._recent: dict[tuple[str, str, str], _Series] = {}
        self._sizes: dict[str, tuple[float, dict[str, Any]]] = {}

    # -- requests ------------------------------------------------------------------------------

    async def middleware(self, ctx, call_next):
        """Count and time each request (notifications pass untouched)."""
        if ctx.request_id is None:
            return await call_next(ctx)
        _REQUEST.set(ctx.request)
        method = ctx.method if ctx.method in METHODS else "other"
        tool, mode = await self._labels(method, ctx.params or {})
        started = time.perf_counter()
        outcome = "error"
        try:
            result = await call_next(ctx)
            is_error = isinstance(result, dict) and result.get("isError") or getattr(result, "is_error", False)
            outcome = "tool_error" if is_error else "ok"
            return result
        finally:
            took = time.perf_counter() - started
            self.requests.labels(method, tool, mode, outcome).inc()
            if method not in STREAMS:
                self.seconds.labels(method, tool, mode).observe(took)
            with self._lock:
                self._recent.setdefault((method, tool, mode), _Series()).add(took, outcome != "ok")

    async def _labels(self, method: str, params: dict) -> tuple[str, str]:
        if method != "tools/call":
            return "", ""
        if self._tools is None:
            self._tools = frozenset(t.name for t in await self._mcp.list_tools())
        name = params.get("name")
        tool = name if isinstance(name, str) and name in self._tools else "unknown"
        if tool != "search":
            return tool, ""
        mode = (params.get("arguments") or {}).get("mode", "hybrid")
        return tool, mode if mode in MODES else "invalid"

    # -- the figures ---------------------------------------------------------------------------

    def snapshot(self, rights: Access | None = None) -> dict[str, Any]:
        """Every figure as JSON-ready data (blocking: reads the index; call off the event loop).
        `rights`: the collections shown are those it allows (None: all)."""
        state = self.state
        out: dict[str, Any] = {
            "version": __version__,
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started, 1),
            "rss_bytes": resident_bytes(),
            "requests": self._request_rows(),
        }
        if state is None:
            return out | {"model": "", "query_cache": None, "collections": []}
        engine = state.engine
        out["model"] = state.settings.model
        out["query_cache"] = engine.queries.stats().to_dict()
        out["encoder"] = engine.encoder_figures()
        allowed = rights.allows if rights is not None else (lambda _n: True)
        names = [n for n in engine.collection_names() if allowed(n)]
        with self._lock:
            for gone in set(self._sizes) - set(names):
                del self._sizes[gone]
        out["collections"] = [self._collection(state, name) for name in names]
        return out

    def _request_rows(self) -> list[dict[str, Any]]:
        with self._lock:
            series = sorted(self._recent.items())
            return [{"method": m, "tool": t, "mode": mo, **s.summary()} for (m, t, mo), s in series]

    def _collection(self, state: AppState, name: str) -> dict[str, Any]:
        with self._lock:
            cached = self._sizes.get(name)
        if cached is None or time.monotonic() - cached[0] > SIZE_TTL_S:
            try:
                st = state.engine.stats(name)
                sizes = {"model": st.model, "chunks": st.chunks, "files": st.files, "disk_bytes": st.disk_bytes,
                         "updated": st.updated}
            except GroundError as exc:  # damaged, or deleted meanwhile: say so, never fail the scrape
                sizes = {"error": str(exc)}
            cached = (time.monotonic(), sizes)
            with self._lock:
                self._sizes[name] = cached
        row = {"name": name, **cached[1]}
        watcher = state.watcher
        if watcher is not None:
            row["pending"] = watcher.pending(name)
            row["reingesting"] = watcher.reingesting(name)
        return row

    def forget(self, name: str, *_: Any) -> None:
        """Read `name`'s sizes again at the next scrape (an engine ingest listener)."""
        with self._lock:
            self._sizes.pop(name, None)

    def exposition(self, rights: Access | None = None) -> bytes:
        """The Prometheus text of this registry and the snapshot's figures (blocking)."""
        figures = _Figures(self.snapshot(rights))
        return generate_latest(_Both(self.registry, figures))

    # -- wiring ----------------------------------------------------------------------------------

    @asynccontextmanager
    async def following(self, state: AppState) -> AsyncIterator[None]:
        self.state = state
        unsubscribe = state.engine.on_ingest(self.forget)
        try:
            yield
        finally:
            unsubscribe()
            self.state = None


class _Series:
    """Counts and the latest latencies of one (method, tool, mode)."""

    __slots__ = ("count", "errors", "recent")

    def __init__(self) -> None:
        self.count = self.errors = 0
        self.recent: deque[float] = deque(maxlen=RECENT)

    def add(self, seconds: float, failed: bool) -> None:
        self.count += 1
        self.errors += failed
        self.recent.append(seconds)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.recent)

        def pct(p: float) -> float:
            return round(ordered[max(0, math.ceil(p * len(ordered)) - 1)] * 1000, 2) if ordered else 0.0  # nearest rank

        return {"count": self.count, "errors": self.errors, "p50_ms": pct(0.50), "p95_ms": pct(0.95),
                "p99_ms": pct(0.99), "window": len(ordered)}


class _Both:
    """Two collectors as one, for generate_latest."""

    def __init__(self, *collectors) -> None:
        self._collectors = collectors

    def collect(self) -> Iterator[Metric]:
        for c in self._collectors:
            yield from c.collect()


class _Figures:
    """A snapshot's figures as metric families."""

    def __init__(self, snap: dict[str, Any]) -> None:
        self.snap = snap

    def collect(self) -> Iterable[Metric]:
        snap = self.snap
        info = GaugeMetricFamily("groundmcp_info", "This server: version and model", labels=["version", "model"])
        info.add_metric([snap["version"], snap["model"]], 1)
        yield info
        cache = snap["query_cache"]
        if cache is not None:
            for key, what in (("hits", "Query vectors found in the cache"), ("misses", "Query vectors not in the cache"),
                              ("evictions", "Query vectors dropped to stay within the cache's bounds")):
                yield CounterMetricFamily(f"groundmcp_query_cache_{key}", what, value=cache[key])
            yield GaugeMetricFamily("groundmcp_query_cache_entries", "Query vectors held", value=cache["entries"])
            yield GaugeMetricFamily("groundmcp_query_cache_bytes", "Bytes the cached query vectors take",
                                    value=cache["bytes"])
            yield CounterMetricFamily("groundmcp_query_encodes", "Queries encoded by the model (cache misses)",
                                      value=cache["encodes"])
            yield CounterMetricFamily("groundmcp_query_encode_seconds", "Time spent encoding queries",
                                      value=cache["encode_seconds"])
        yield from _encoder_families(snap.get("encoder"))
        families = {
            "chunks": GaugeMetricFamily("groundmcp_collection_chunks", "Searchable chunks", labels=["collection"]),
            "files": GaugeMetricFamily("groundmcp_collection_files", "Files with at least one chunk",
                                       labels=["collection"]),
            "disk_bytes": GaugeMetricFamily("groundmcp_collection_disk_bytes", "Bytes on disk (embedded store)",
                                            labels=["collection"]),
            "pending": GaugeMetricFamily("groundmcp_watch_pending", "Changed paths the watcher has yet to "
                                         "re-ingest", labels=["collection"]),
        }
        for row in snap["collections"]:
            for key, family in families.items():
                if isinstance(row.get(key), int):
                    family.add_metric([row["name"]], row[key])
        yield from families.values()


def resident_bytes() -> int:
    """The process's resident memory now (Linux: /proc; elsewhere its peak, from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource
        import sys

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def _encoder_families(figures: dict[str, Any] | None) -> Iterator[Metric]:
    """The encoder's batches, texts and model seconds by kind, and what ingests encoded."""
    if not figures:
        return
    batches = CounterMetricFamily("groundmcp_encoder_batches", "Batches the encoder ran", labels=["kind"])
    texts = CounterMetricFamily("groundmcp_encoder_texts", "Texts the encoder encoded", labels=["kind"])
    seconds = CounterMetricFamily("groundmcp_encoder_seconds", "Seconds spent in the model", labels=["kind"])
    for kind, row in figures["batches"].items():
        batches.add_metric([kind], row["batches"])
        texts.add_metric([kind], row["texts"])
        seconds.add_metric([kind], row["seconds"])
    yield from (batches, texts, seconds)
    done = figures["ingested"]
    yield CounterMetricFamily("groundmcp_ingest_chunks", "Chunks ingests encoded", value=done["chunks"])
    yield CounterMetricFamily("groundmcp_ingest_tokens", "Tokens of the chunks ingests encoded (tokens per "
                              "second: its rate over groundmcp_ingest_encode_seconds's)", value=done["tokens"])
    yield CounterMetricFamily("groundmcp_ingest_encode_seconds", "Seconds ingests spent encoding",
                              value=done["encode_seconds"])


def snapshot_of(state: AppState) -> dict[str, Any]:
    """The figures of an engine opened outside a server (`groundmcp stats` with no owner running):
    sizes, the process and an empty request table."""
    metrics = Metrics(None)
    metrics.state = state
    return metrics.snapshot()


def register(mcp: MCPServer) -> Metrics:
    """Count the app's requests, serve `/metrics` on its HTTP app, and the `groundmcp://stats`
    resource. The app factory's lifespan runs `following(state)` around its yield."""
    metrics = Metrics(mcp)
    mcp.middleware.append(metrics.middleware)

    @mcp.custom_route(METRICS_PATH, methods=["GET"], include_in_schema=False)
    async def prometheus(request: Request) -> Response:
        if metrics.state is None:
            return JSONResponse({"error": "starting", "message": "the server is starting; try again"}, 503)
        rights = access_for(metrics.state, request)
        body = await anyio.to_thread.run_sync(metrics.exposition, rights)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    @mcp.resource(
        STATS_URI,
        name="stats",
        title="Server statistics",
        mime_type="application/json",
        description="The server's operating figures as JSON: requests per tool and mode (counts, errors, "
        "p50/p95/p99 latency of the latest), the query-vector cache, resident memory, and each collection's "
        "chunks, files, bytes on disk and changes waiting for re-ingest. The same figures as GET /metrics.",
    )
    async def stats() -> str:
        if metrics.state is None:
            raise ResourceError("the server is starting; read it again in a moment")
        rights = access_for(metrics.state, _REQUEST.get())
        snap = await anyio.to_thread.run_sync(functools.partial(metrics.snapshot, rights))
        return json.dumps(snap, ensure_ascii=False)

    return metrics
