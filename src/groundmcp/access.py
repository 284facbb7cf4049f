"""What a request may touch: every collection and the server's roots, or its bearer token's grant.

Tools ask here before they reach the store, so a collection outside the list is never queried:
the refusal reads the same whether that collection exists or not, and listings show only the
allowed ones. Paths are limited the same way: a limited token ingests and reads files only under
its own roots (narrowed to the server's), and a limited token without roots does neither, since
collection limits alone are no isolation between tenants whose folders share one server root.
stdio and in-process clients are the local user and may use every collection and root.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser

from ..errors import InputError
from .auth import COLLECTIONS_CLAIM, ROOTS_CLAIM
from .state import AppState, narrow_roots, path_inside


class AccessDenied(InputError):
    """The request's token may not use that collection."""


@dataclass(frozen=True, slots=True)
class Access:
    patterns: tuple[str, ...] | None  # collection names or globs; None: every collection
    state: AppState
    token_roots: tuple[Path, ...] | None = None  # the token's folders; None: the server's roots

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

    @property
    def roots(self) -> tuple[Path, ...]:
        """The folders this request may ingest and read: the server's roots, or the token's
        (resolved now) as far as they lie inside the server's."""
        if self.token_roots is None:
            return self.state.roots
        mine = tuple(Path(os.path.realpath(r)) for r in self.token_roots)
        return narrow_roots(mine, self.state.roots)

    def usable_roots(self) -> tuple[Path, ...]:
        """`roots`, or InputError (AccessDenied for a token's limits) saying why there are none."""
        if self.token_roots is None:
            return self.state.usable_roots()
        if not self.token_roots:
            raise AccessDenied(
                "this token may not ingest or read files by path: it has no roots. Send the documents "
                "as `texts`, or have the server's admin give the token roots in GROUNDMCP_HTTP_TOKENS "
                '({"<token>": {"collections": [...], "roots": ["/path/to/folder"]}})'
            )
        if not (roots := self.roots):
            raise AccessDenied(
                "none of this token's roots lies under the server's roots, so it may not ingest or read "
                "files by path; the server's admin should fix GROUNDMCP_HTTP_TOKENS or --root"
            )
        return roots

    def allowed_path(self, path: str) -> Path:
        """`path` resolved, if this request may ingest or read it; InputError (AccessDenied for a
        token's limits) saying what it may use instead."""
        if self.token_roots is None:
            return self.state.allowed_path(path)
        return path_inside(path, self.usable_roots(), "this token may only use paths under its own roots")

    def _listed(self) -> str:
        return ", ".join(repr(p) for p in self.patterns or ()) or "no collection"


def access_for(state: AppState, request) -> Access:
    """The access of one request: `request` is the HTTP request the SDK hands the tool (None over
    stdio and in-process)."""
    if request is None:
        return Access(None, state)
    user = request.scope.get("user")
    if isinstance(user, AuthenticatedUser):
        claims = user.access_token.claims or {}
        patterns = claims.get(COLLECTIONS_CLAIM)
        roots = claims.get(ROOTS_CLAIM, None if patterns is None else [])
        return Access(
            None if patterns is None else tuple(patterns), state, None if roots is None else tuple(map(Path, roots))
        )
    if state.settings.http_tokens or state.settings.http_token:
        return Access((), state, ())  # tokens are configured but this request bore none: fail closed
    return Access(None, state)  # HTTP on loopback without tokens: the local user
