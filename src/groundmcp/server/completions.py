"""Argument completion (`completion/complete`): what a client can offer while the user fills in a
resource template's variables or a prompt's arguments.

Values are chosen by the argument's name, not by template, so every template and prompt that
names a `collection`, `path`, `language` or `kind` gets them: the collections this request may
use (its token's list over HTTP), and the languages, kinds and path prefixes a collection holds
(the collection already chosen in the request's context, else the default one). A path completes
one folder at a time: "sr" offers "src/", "src/" offers what is inside it.

The SDK hands a completion handler no request context, and the answer depends on who asks: a
small middleware keeps the request of each `completion/complete` call in a context variable for
the handler, which runs inside it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import anyio
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.types import Completion, CompletionArgument, CompletionContext, PromptReference, ResourceTemplateReference

from ..access import Access, AppState, access_for
from ..errors import GroundError

MAX_VALUES = 100  # the most one completion may hold (the protocol's limit)
KINDS = ("code", "doc")

_request: ContextVar[ServerRequestContext[Any, Any] | None] = ContextVar("completion_request", default=None)


def register(mcp: MCPServer) -> None:
    mcp.middleware.append(_keep_request)

    @mcp.completion()
    async def complete(
        ref: PromptReference | ResourceTemplateReference,
        argument: CompletionArgument,
        context: CompletionContext | None,
    ) -> Completion | None:
        ctx = _request.get()
        if ctx is None:  # not reached through the middleware: nothing to say who asks
            return None
        app: AppState = ctx.lifespan_context
        chosen = dict(context.arguments or {}) if context else {}
        values = await anyio.to_thread.run_sync(
            functools.partial(values_for, app, access_for(app, ctx.request), argument.name, argument.value, chosen)
        )
        return _completion(values)


async def _keep_request(ctx: ServerRequestContext[Any, Any], call_next):
    if ctx.method != "completion/complete":
        return await call_next(ctx)
    token = _request.set(ctx)
    try:
        return await call_next(ctx)
    finally:
        _request.reset(token)


def values_for(app: AppState, allowed: Access, name: str, partial: str, chosen: dict[str, str]) -> list[str]:
    """The values of argument `name` that start with `partial` (blocking: reads the store)."""
    name = name.lower()
    if name == "kind" or name == "kinds":
        return _starting(KINDS, partial)
    if name == "collection":
        return _starting(allowed.visible(app.engine.collection_names()), partial)
    if name not in ("language", "languages", "path"):
        return []
    collection = _collection(app, allowed, chosen.get("collection"))
    if collection is None:
        return []
    try:
        files = app.engine.file_paths(collection)
        if name == "path":
            return _path_prefixes((path for path, _ in files), partial)
        return _starting(sorted({language for _, language in files} - {""}), partial)
    except GroundError:  # a damaged collection completes nothing; its tools say why
        return []


def _collection(app: AppState, allowed: Access, name: str | None) -> str | None:
    """The collection to complete from: the one already chosen, else the default, if this request
    may use it and it exists."""
    name = name or allowed.default
    if not name or not allowed.allows(name) or name not in app.engine.collection_names():
        return None
    return name


def _path_prefixes(paths: Iterable[str], partial: str) -> list[str]:
    """Each indexed path under `partial`, up to the end of its next folder: one level at a time."""
    out = set()
    for path in paths:
        if path.startswith(partial):
            cut = path.find("/", len(partial))
            out.add(path if cut < 0 else path[: cut + 1])
    return sorted(out)


def _starting(values: Iterable[str], partial: str) -> list[str]:
    low = partial.lower()
    return [v for v in values if v.lower().startswith(low)]


def _completion(values: list[str]) -> Completion:
    return Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
