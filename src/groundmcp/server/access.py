"""Which collections a request may touch: every one, or the allow-list of its bearer token.

Tools ask here before they reach the store, so a collection outside the list is never queried:
the refusal reads the same whether that collection exists or not, and listings show only the
allowed ones. stdio and in-process clients are the local user and may use every collection.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

from ..errors import InputError
from .auth import COLLECTIONS_CLAIM
from .state import AppState


class AccessDenied(InputError):
    """The request's token may not use that collection."""


@dataclass(frozen=True, slots=True)
class Access:
    patterns: tuple[str, ...] | None  # collection names or globs; None: every collection
    state: AppState

    @property
    def limited(self) -> bool:
        return self.patterns is not None

    def allows(self, name: str) -> bool:
        return self.patterns is None or any(fnmatch.fnmatchcase(name, p) for p in self.patterns)

    def visible(self, names: Iterable[str]) -> list[str]:
        return [n for n in names if self.allows(n)]

    @property
    def default(self) -> str | None:
        """The collection used when none is named: the server's, or else the first one this token's
        list names exactly."""
        if self.allows(self.state.settings.collection):
            return self.state.settings.collection
        return next((p for p in self.patterns or () if not any(c in p for c in "*?[")), None)

    def collection(self, name: str | None, *, must_exist: bool = True) -> str:
        """The collection a tool should use for `name` (None: the default), checked against this
        request's allow-list before anything is read; AccessDenied or InputError otherwise."""
        if name is None:
            name = self.default
            if name is None:
                raise AccessDenied(
                    f"name a collection: this token has no default and may use {self._listed()}"
                )
        if not self.allows(name):
            raise AccessDenied(
                f"collection {name!r} is not available to this token; it may use {self._listed()} "
                "(list_collections shows them)"
            )
        if self.limited and must_exist and name not in self.state.engine.store.list_collections():
            # The store's own message would name every collection; say only what this token may see.
            mine = self.visible(sorted(self.state.engine.store.list_collections()))
            raise InputError(
                f"collection {name!r} does not exist (this token's collections: "
                f"{', '.join(map(repr, mine)) or 'none'}); ingest into it first or pick one of those"
            )
        return name

    def _listed(self) -> str:
        return ", ".join(repr(p) for p in self.patterns or ()) or "no collection"


def access_for(state: AppState, request) -> Access:
    """The access of one request: `request` is the HTTP request the SDK hands the tool (None over
    stdio and in-process)."""
    if request is None:
        return Access(None, state)
    user = request.scope.get("user")
    if isinstance(user, AuthenticatedUser):
        patterns = (user.access_token.claims or {}).get(COLLECTIONS_CLAIM)
        return Access(None if patterns is None else tuple(patterns), state)
    if state.settings.http_tokens or state.settings.http_token:
        return Access((), state)  # tokens are configured but this request bore none: fail closed
    return Access(None, state)  # HTTP on loopback without tokens: the local user
