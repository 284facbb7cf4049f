"""What the server's lifespan opens once per process and every tool reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..engine import Engine
from ..errors import InputError
from ..settings import Settings


@dataclass
class AppState:
    settings: Settings
    engine: Engine
    roots: tuple[Path, ...]  # resolved folders that ingest and file reads may touch

    def allowed_path(self, path: str) -> Path:
        """`path` resolved, if it lies inside an allowed root; InputError otherwise."""
        remedy = "restart the server with --root PATH (or GROUNDMCP_ROOTS) to allow it"
        return path_inside(path, self.usable_roots(), remedy)

    def usable_roots(self) -> tuple[Path, ...]:
        """`roots`, or InputError when there are none."""
        if not self.roots:
            raise InputError(
                "this server has no allowed roots (it was started from / or your home folder "
                "without --root); restart it with --root PATH (or GROUNDMCP_ROOTS) to allow ingest"
            )
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
    real = Path(os.path.realpath(given))
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
