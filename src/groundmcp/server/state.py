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
        if not self.roots:
            raise InputError(
                "this server has no allowed roots (it was started from / or your home folder "
                "without --root); restart it with --root PATH (or GROUNDMCP_ROOTS) to allow ingest"
            )
        if "\x00" in path:  # no file name holds one; the OS calls below would raise ValueError
            raise InputError(f"path {path!r} contains a NUL character; give a folder or file path")
        given = Path(os.path.expanduser(path.strip()))
        if not given.is_absolute():
            if len(self.roots) != 1:
                raise InputError(
                    f"relative path {path!r} is ambiguous with several roots; give an absolute path "
                    f"under one of: {', '.join(map(str, self.roots))}"
                )
            given = self.roots[0] / given
        real = Path(os.path.realpath(given))
        if not any(real == root or real.is_relative_to(root) for root in self.roots):
            raise InputError(
                f"path {path!r} is outside the allowed roots ({', '.join(map(str, self.roots))}); "
                "restart the server with --root PATH (or GROUNDMCP_ROOTS) to allow it"
            )
        return real


def resolve_roots(settings: Settings) -> tuple[Path, ...]:
    """The configured roots, or else the current folder: unless that is / or the home folder
    (where desktop apps often start servers), which would open the whole disk or every project."""
    if settings.roots:
        return tuple(Path(os.path.realpath(os.path.expanduser(r))) for r in settings.roots)
    cwd = Path(os.path.realpath(Path.cwd()))
    if cwd == Path("/") or cwd == Path(os.path.realpath(Path.home())):
        return ()
    return (cwd,)
