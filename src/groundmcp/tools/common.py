"""What every tool module shares: the server state, and engine calls run off the event loop."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from ..errors import GroundError
from ..server.state import AppState

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

COLLECTION_DESCRIPTION = (
    "Collection to use; omit for the server's default. `list_collections` shows what exists."
)


def clean_doc(fn: F) -> F:
    """Dedent a tool's docstring, which becomes its description: clients show it to the model."""
    fn.__doc__ = inspect.cleandoc(fn.__doc__ or "")
    return fn


def state(ctx: Context) -> AppState:
    return ctx.request_context.lifespan_context


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
