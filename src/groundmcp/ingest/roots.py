"""One identity per file: which root of a collection an ingest writes a path under.

A chunk's id is made of its root and its path relative to that root (pipeline.point_id), so a file
recorded under two roots is two files to the index: search returns it twice, and a re-ingest of
either root keeps both. The rule below gives every file one root however it is reached: a
sub-folder, the parent, or the same tree by another spelling (a symlink to the folder, a relative
path, `..`), which the Engine resolves before anything here sees it.

- A collection's roots are the folders its files are recorded under. Texts sent by a client (root
  TEXTS_ROOT) are no folder and play no part. A root that holds files in sub-folders (a folder was
  ingested) is a *tree*. A root that holds only files at its top (files ingested one by one, or a
  folder without sub-folders) encloses nothing: it holds nothing below its top to duplicate.
- A path (a folder or a file) inside a tree root JOINS it: it is ingested as that root limited to
  the path (the pipeline's `only`), so its files get the ids a clean ingest of the root gives them,
  and deletions are looked for under the path only: the root's other files stay as they are. Of
  several tree roots around the path, the outermost whose rules take the path in wins. A path the
  root's rules leave out (an ignored `build/`, a file an ignore pattern names: walk.left_out) is not
  the root's to hold, so it is ingested as it would be without the root.
- Otherwise a folder becomes a root, and ABSORBS the roots inside it; a file is recorded under its
  own folder, as ever (a lone file's ingest touches nothing else).
- Absorbing: once the ingest of root R over a region (the whole of R, or the `only` paths) has
  returned, every other root Q inside that region gives up the records of its files: those R now
  holds, those gone from disk, and those R's walk would list (and so skipped: a secret, a size).
  Q keeps only files that R's rules leave out and that still exist (someone asked for them by
  ingesting Q); a Q left with none is no root any more. So an index holding the same files under
  /x and /x/sub (as ingest wrote before this rule) converges on the next ingest of either /x or
  /x/sub to what a clean ingest of /x holds, point for point. The absorbed files are encoded again
  under R's paths (the store gives back payloads, not vectors): a cost paid once.

Kill-safety: the pipeline's publish order (pipeline.py, manifest.py) holds throughout. The
region's files are published under R, each whole, before any record of Q is deleted, and Q's
records are deleted only after R's ingest has returned. A kill during R's ingest leaves Q whole and
R partly written: every file stays searchable under Q, some also under R: duplicates, never a gap.
A kill during the deletion leaves some files under both roots: the same. The next ingest that
covers Q (of R, or of Q, which now joins R) finishes R's part and absorbs Q.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from ..record import TEXTS_ROOT, P
from ..store.base import Filters, Store
from .manifest import load_manifest

TakesIn = Callable[[str, str], bool]  # (root, relative path) -> whether the root's walk reaches it
DELETE_BATCH = 4096  # ids per delete when absorbing


def inside(path: str, folder: str) -> bool:
    """`path` is `folder` or lies under it (both absolute, resolved)."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def relative(path: str, folder: str) -> str:
    """`path` relative to `folder` (which holds it), forward slashes; "" for the folder itself."""
    return "" if path == folder else path[len(folder.rstrip("/")) + 1 :]


def read_roots(store: Store, name: str) -> dict[str, list[str]]:
    """Root -> the relative paths of its published files, as recorded (one row per file; texts
    left out)."""
    found: dict[str, list[str]] = {}
    for _, p in store.scroll(name, Filters(visible=True, first_chunks=True), [P.ROOT, P.PATH]):
        if p.get(P.ROOT) and p[P.ROOT] != TEXTS_ROOT:
            found.setdefault(p[P.ROOT], []).append(p.get(P.PATH, ""))
    return found


def tree_roots(found: Mapping[str, Iterable[str]]) -> dict[str, bool]:
    """Root -> whether it is a tree (holds files in sub-folders), of folder roots only."""
    return {r: any("/" in p for p in paths) for r, paths in found.items() if os.path.isabs(r)}


def enclosing(path: str, trees: Mapping[str, bool], takes_in: TakesIn) -> str | None:
    """The tree root `path` joins (see the module docstring), or None."""
    around = sorted((r for r, tree in trees.items() if tree and r != path and inside(path, r)), key=len)
    return next((r for r in around if takes_in(r, relative(path, r))), None)


def nested(root: str, region: Sequence[str] | None, roots: Iterable[str]) -> list[str]:
    """The other roots inside `root` and inside the region (relative paths; None: all of it)."""
    return sorted(
        q for q in roots
        if q != root and inside(q, root) and (region is None or any(inside(relative(q, root), p) for p in region))
    )


@dataclass(frozen=True, slots=True)
class Plan:
    """How one ingest of `target` keeps one identity per file."""

    target: Path  # what was asked, resolved
    root: Path  # the root its files are recorded under
    only: list[str] | None  # the region, relative to `root` (pipeline's `only`); None: all of it
    joined: bool  # the target lies in a tree root of the collection (which is `root`)
    absorb: list[str]  # the other roots inside the region, folded into `root` once it is ingested

    @property
    def single_file(self) -> bool:
        """A file recorded under its own folder: the pipeline's single-file ingest."""
        return not self.joined and self.target.is_file()

    @property
    def path(self) -> Path:
        """What the pipeline is given: the root, or the lone file."""
        return self.target if self.single_file else self.root


def check_only(only: Sequence[str] | None, path: str) -> None:
    """InputError unless every `only` path is relative and stays under the folder `path` (no `..`):
    the region of an ingest is compared with roots as plain paths."""
    for p in only or ():
        if p.startswith("/") or ".." in p.split("/"):
            raise InputError(
                f"'only' takes paths relative to {path} with forward slashes and no '..' (such as 'src/app.py' "
                f"or 'docs'); got {p!r}"
            )


def plan_ingest(
    target: Path, trees: Mapping[str, bool], takes_in: TakesIn, only: Sequence[str] | None = None
) -> Plan:
    """The plan for `target` (resolved) given the collection's roots (`tree_roots`); `only`: paths
    under a folder `target` to limit the ingest to (Engine.ingest's), ignored for a file."""
    t, is_file = str(target), target.is_file()
    region = None if only is None or not all(p.strip("/") for p in only) else sorted({p.strip("/") for p in only})
    if (root := enclosing(t, trees, takes_in)) is not None:
        rel = relative(t, root)
        joined = [rel] if is_file or region is None else [f"{rel}/{p}" for p in region]
        return Plan(target, Path(root), joined, True, nested(root, joined, trees))
    if is_file:
        return Plan(target, target.parent, None, False, [])
    return Plan(target, target, region, False, nested(t, region, trees))


def absorb(store: Store, collection: str, root: str, old: str, takes_in: TakesIn) -> tuple[int, list[str]]:
    """Fold the root `old` into `root`, whose ingest has just covered it: delete `old`'s records
    (published or not) of every file but those `root`'s rules leave out that still exist. Returns
    (records deleted, the paths `old` still holds)."""
    rel = relative(old, root)
    held = load_manifest(store, collection, root, ids=False, under=[rel])
    ids_by_path: dict[str, list[str]] = {}
    for point_id, payload in store.scroll(collection, Filters(roots=[old]), [P.PATH]):
        ids_by_path.setdefault(payload[P.PATH], []).append(point_id)
    kept: list[str] = []
    doomed: list[str] = []
    for path, ids in ids_by_path.items():
        mine = f"{rel}/{path}"
        if mine not in held and os.path.isfile(os.path.join(old, path)) and not takes_in(root, mine):
            kept.append(path)
        else:
            doomed.extend(ids)
    for start in range(0, len(doomed), DELETE_BATCH):
        store.delete(collection, ids=doomed[start : start + DELETE_BATCH])
    return len(doomed), sorted(kept)


def merge(found: Mapping[str, Iterable[str]], takes_in: TakesIn) -> dict[str, list[str]]:
    """`read_roots`' answer with every root that joins a tree root (by the rule above) folded into
    it, its paths made relative to that root: the roots as a clean ingest would record them, even
    in an index that still holds duplicates. Sorted, each path once."""
    trees = tree_roots(found)
    out: dict[str, set[str]] = {}
    for root, paths in found.items():
        into = enclosing(root, trees, takes_in) if os.path.isabs(root) else None
        if into is None:
            out.setdefault(root, set()).update(paths)
        else:
            rel = relative(root, into)
            out.setdefault(into, set()).update(f"{rel}/{p}" for p in paths)
    return {r: sorted(ps) for r, ps in sorted(out.items())}


@dataclass(slots=True)
class _Known:
    trees: dict[str, bool]
    points: int  # the collection's point count when `trees` was last right


class RootsCache:
    """Each collection's roots (`tree_roots`), read once (a row per file: 0.13 s for 10k files on
    the embedded store) and kept up to date by the ingests that go through it, so a watcher's small
    batch does not read them all again. Read again whenever the collection's point count differs
    from the one this cache last saw: another process, or a write that did not say, changed it."""

    def __init__(self) -> None:
        self._known: dict[str, _Known] = {}
        self._lock = threading.Lock()

    def get(self, store: Store, name: str) -> dict[str, bool]:
        if name not in store.list_collections():
            self.forget(name)
            return {}
        points = store.info(name).points
        with self._lock:
            known = self._known.get(name)
        if known is None or known.points != points:
            known = _Known(tree_roots(read_roots(store, name)), points)
            with self._lock:
                self._known[name] = known
        return dict(known.trees)

    def forget(self, name: str) -> None:
        with self._lock:
            self._known.pop(name, None)

    def ingested(self, store: Store, name: str, root: str, wrote: Sequence[str], dropped: bool,
                 absorbed: Mapping[str, Sequence[str]]) -> None:
        """After an ingest under `root` that wrote (added, changed) the relative paths `wrote` and,
        if `dropped`, removed or skipped some, and folded in the roots `absorbed` (root -> the
        paths it still holds)."""
        with self._lock:
            known = self._known.get(name)
        if known is None:
            return
        trees = known.trees
        if wrote or root in trees:
            trees[root] = trees.get(root, False) or any("/" in p for p in wrote)
        if dropped and root in trees and not store.count(name, Filters(roots=[root], visible=True)):
            del trees[root]
        for old, kept in absorbed.items():
            if kept:
                trees[old] = any("/" in p for p in kept)
            else:
                trees.pop(old, None)
        known.points = store.info(name).points
