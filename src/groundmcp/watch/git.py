"""Whether git is in the middle of rewriting a work tree.

`git checkout`, `switch`, `merge`, `rebase` and `stash` hold `.git/index.lock` while they write
files. A batch that starts while it exists waits for it to go (up to a limit), so a branch switch of
thousands of files is ingested once, as the new tree, and not in halves.
"""

from __future__ import annotations

import os
from pathlib import Path


def git_dir(root: Path) -> Path | None:
    """The git folder of the work tree holding `root` (a `.git` folder, or the one a `.git` file
    names, as in worktrees and submodules), or None outside a repository."""
    for folder in (root, *root.parents):
        dot = folder / ".git"
        if dot.is_dir():
            return dot
        if dot.is_file():
            try:
                line = dot.read_text(encoding="utf-8", errors="replace").strip()
            except OSError:
                return None
            if line.startswith("gitdir:"):
                target = Path(line.removeprefix("gitdir:").strip())
                return target if target.is_absolute() else (folder / target)
            return None
    return None


def git_busy(folder: Path | None) -> bool:
    """True while a git command holds the index lock of `folder` (from `git_dir`)."""
    return folder is not None and os.path.exists(folder / "index.lock")
