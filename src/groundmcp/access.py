"""What a request may touch: every collection and the roots, or its bearer token's grant.

This is policy, not transport: the MCP tools and resources, the LangChain integration and any
other front end ask here, and each passes its own fix-it wording (`AppState.remedy`) rather than
rewriting another's messages. A front end that authenticates requests puts the token's grant in
the claims named below (server/auth.py does); `access_for` reads them.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .claims import COLLECTIONS_CLAIM, FRONT_ROOTS_CLAIM, ROOTS_CLAIM
from .engine import Engine
from .errors import InputError
from .search.multi import CollectionSpec, Target, select
from .settings import Settings

if TYPE_CHECKING:
    from .watch import Watcher

SERVER_REMEDY = "restart the server with --root PATH (or GROUNDMCP_ROOTS) to allow it"


@dataclass
class AppState:
    """What a front end opens once per process: the settings, the engine, and the folders that
    ingest and file reads may touch (resolved). `remedy` ends a refused path's message: how to
    allow it in this front end. `watcher`: the file watcher that keeps the collections fresh, if
    one runs (it knows the changes waiting for a re-ingest)."""

    settings: Settings
    engine: Engine
    roots: tuple[Path, ...]
    remedy: str = SERVER_REMEDY
    no_roots: str = (
        "this server has no allowed roots (it was started from / or your home folder without "
        "--root); restart it with --root PATH (or GROUNDMCP_ROOTS) to allow ingest"
    )
    watcher: Watcher | None = None

    def allowed_path(self, path: str) -> Path:
        """`path` resolved, if it lies inside an allowed root; InputError otherwise."""
        return path_inside(path, self.usable_roots(), self.remedy)

    def usable_roots(self) -> tuple[Path, ...]:
        """`roots`, or InputError when there are none."""
        if not self.roots:
            raise InputError(self.no_roots)
        return self.roots


def path_inside(path: str, roots: tuple[Path, ...], remedy: str) -> Path:
    """`path` (relative: to the only root) resolved, if it lies inside one of `roots` (resolved
    folders); InputError otherwise, ending in `remedy`."""
    if "\x00" in path:  # no file name holds one; the OS calls below would raise ValueError
        raise InputError(f"path {path!r} contains a NUL character; give a folder or file path")
    given = Path(os.path.expanduser(path.strip()))
    if not given.is_absolute():
        if len(roots) != 1:
            raise InputError(
                f"relative path {path!r} is ambiguous with several roots; give an absolute path "
                f"under one of: {', '.join(map(str, roots))}"
            )
        given = roots[0] / given
    try:
        real = Path(os.path.realpath(given))
    except OSError as exc:  # a link on the path changed while it was resolved (EINVAL, ELOOP)
        raise InputError(f"path {path!r} cannot be resolved ({exc.strerror}); give a path without symlink loops") from None
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise InputError(f"path {path!r} is outside the allowed roots ({', '.join(map(str, roots))}); {remedy}")
    return real


def narrow_roots(mine: tuple[Path, ...], server: tuple[Path, ...]) -> tuple[Path, ...]:
    """The folders inside both a root of `mine` and a root of `server` (all resolved): a token's
    roots are usable only as far as the server's reach."""
    out: list[Path] = []
    for a in mine:
        for b in server:
            inner = a if a.is_relative_to(b) else b if b.is_relative_to(a) else None
            if inner is not None and inner not in out:
                out.append(inner)
    return tuple(out)


def resolve_roots(settings: Settings) -> tuple[Path, ...]:
    """The configured roots, or else the current folder: unless that is / or the home folder
    (where desktop apps often start servers), which would open the whole disk or every project."""
    if settings.roots:
        return tuple(Path(os.path.realpath(os.path.expanduser(r))) for r in settings.roots)
    cwd = Path(os.path.realpath(Path.cwd()))
    if cwd == Path("/") or cwd == Path(os.path.realpath(Path.home())):
        return ()
    return (cwd,)


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
        if self.limited and must_exist and name not in (names := self.state.engine.collection_names()):
            # The store's own message would name every collection; say only what this token may see.
            mine = self.visible(sorted(names))
            raise InputError(
                f"collection {name!r} does not exist (this token's collections: "
                f"{', '.join(map(repr, mine)) or 'none'}); ingest into it first or pick one of those"
            )
        return name

    def collections(self, spec: CollectionSpec) -> list[Target]:
        """The collections a search may cover for `spec`: a name, a glob ('proj-*') or a list of
        them (None: the default). A name is checked as `collection` checks it (the same refusals
        and messages); a glob expands only to the collections this request may use, and one that
        matches none of them lists those, never what else exists."""
        return select(
            spec,
            default=lambda: self.collection(None),
            name=self.collection,
            listed=lambda: self.visible(self.state.engine.collection_names()),
            whose="this token's" if self.limited else "the",
        )

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
    """The access of one request: `request` is the HTTP request the MCP SDK hands a tool (None over
    stdio and in-process), whose scope's user carries the token's claims (server/auth.py)."""
    if request is None:
        return Access(None, state)
    token = getattr(request.scope.get("user"), "access_token", None)
    if token is not None:
        claims = getattr(token, "claims", None) or {}
        if (front := claims.get(FRONT_ROOTS_CLAIM)) is not None:
            state = replace(state, roots=tuple(Path(os.path.realpath(r)) for r in front))
        patterns = claims.get(COLLECTIONS_CLAIM)
        roots = claims.get(ROOTS_CLAIM, None if patterns is None else [])
        return Access(
            None if patterns is None else tuple(patterns), state, None if roots is None else tuple(map(Path, roots))
        )
    if state.settings.http_tokens or state.settings.http_token:
        return Access((), state, ())  # tokens are configured but this request bore none: fail closed
    return Access(None, state)  # HTTP on loopback without tokens: the local user
