"""Which file-system events under a root are worth a re-ingest.

Every event becomes the path it names, relative to the root, unless it can never change what the
root's ingest holds:
- anything inside a `.git` folder (objects, refs, the index: a commit or a fetch alone). A checkout
  also rewrites files of the work tree, and those events count;
- anything under the folders the index itself lives in (a data dir inside a watched root would
  otherwise wake the watcher with every write it makes);
- files with a binary extension (images, archives, .pyc: read refuses them whatever the rules);
- paths reached through a symlink that leads out of the root (the walk never follows one).

Ignore rules are not applied here: a re-ingest of the root applies them (and a `.gitignore` or
`.groundmcpignore` edit is itself an event that triggers one, so newly ignored files go).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

from ..ingest.ignore import BINARY_EXTENSIONS


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def relevant_paths(root: Path, changes: Iterable[tuple[int, str]], skip: Sequence[Path] = ()) -> set[str]:
    """The relative paths (forward slashes) of the `changes` (watchfiles' (change, path) pairs)
    under `root` (resolved) that may change what an ingest of it holds."""
    base = str(root)
    skipped = [str(s) for s in skip]
    real_dirs: dict[str, bool] = {}  # folder -> whether it really lies inside the root
    out: set[str] = set()
    for _, path in changes:
        if not _inside(path, base) or path == base or any(_inside(path, s) for s in skipped):
            continue
        rel = os.path.relpath(path, base).replace(os.sep, "/")
        parts = rel.split("/")
        if ".git" in parts:
            continue
        if os.path.splitext(parts[-1])[1].lower() in BINARY_EXTENSIONS:
            continue
        parent = os.path.dirname(path)
        if parent not in real_dirs:
            real_dirs[parent] = _inside(os.path.realpath(parent), base)
        if real_dirs[parent]:
            out.add(rel)
    return out
