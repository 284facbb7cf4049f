"""What every tool module shares: the front end's state, and engine calls run off the event loop."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..access import Access, AppState, access_for
from ..errors import GroundError

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

COLLECTION_DESCRIPTION = (
    "Collection to use; omit for the server's default. `list_collections` shows what exists."
)
MAX_NAME = 255  # collection names (Qdrant's limit)
MAX_PATH = 4096


def clean_doc(fn: F) -> F:
    """Dedent a tool's docstring, which becomes its description: clients show it to the model."""
    fn.__doc__ = inspect.cleandoc(fn.__doc__ or "")
    return fn


def state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


def access(ctx: Context) -> Access:
    """What this request may touch: every collection, or its bearer token's allow-list."""
    return access_for(state(ctx), ctx.request_context.request)


async def use_collection(ctx: Context, name: str | None, *, must_exist: bool = True) -> str:
    """The collection to use for `name` (None: the default), refused with a tool error before
    the collection is read when this request's token may not use it."""
    return await run(access(ctx).collection, name, must_exist=must_exist)


@contextmanager
def tool_errors() -> Iterator[None]:
    """Expected failures become tool errors: an `isError` result whose message says what to do,
    so the model can correct itself (anything else is masked by the SDK and logged)."""
    try:
        yield
    except GroundError as exc:
        raise ToolError(str(exc)) from exc


async def run(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking engine call on a worker thread, with tool_errors()."""
    with tool_errors():
        return await anyio.to_thread.run_sync(functools.partial(fn, *args, **kwargs))
