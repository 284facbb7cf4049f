"""Keep the collections' folders fresh: which collection holds which root, and how to refresh it.

A root is held one of two ways, and is refreshed the way it was ingested:
- as a tree (it was ingested as a folder, or its collection holds files in its subfolders): a batch
  of changes goes through `Engine.ingest`, the same incremental pipeline as any ingest, with its
  ignore, secret and size rules, limited to the batch's paths (`only`: no walk of the whole root)
  unless it is large (PATHS_MAX) or touches a `.gitignore` or `.groundmcpignore`: then the whole
  root is re-ingested, and what the rules now leave out is removed wherever it is. Only changed
  content is encoded; deleted files are removed. So any batch, a branch switch included, leaves
  the collection as a clean ingest of the new tree would;
- as single files (files ingested one by one record their folder as the root; a collection whose
  files under a root are all at its top may be that): only those files are refreshed, one by one,
  and a deleted one is removed. New files beside them are not added: nobody asked for them.

Roots come from the collections at start (`Engine.roots`) and from every later ingest of a path
(`Engine.on_ingest`), whoever asked for it, so front ends need not tell the watcher anything.
The Engine's own ingest is the only way anything here writes. A collection that was deleted is
forgotten, never re-created. Nothing here raises into the process that runs it: see root.py.
"""

from __future__ import annotations

import fnmatch
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..engine import Engine
from ..errors import GroundError, InputError
from ..ingest.ignore import IGNORE_FILES
from ..ingest.report import IngestProgress
from ..settings import Settings
from .root import RootWatch

log = logging.getLogger(__name__)


PATHS_MAX = 256
"""A batch of up to this many paths re-ingests only them (and what is under them); a bigger one,
or one that touches an ignore file, re-ingests the whole root."""


def limited(paths: set[str], everything: bool) -> list[str] | None:
    """The paths a tree's refresh may be limited to (Engine.ingest's `only`), or None for all."""
    if everything or not paths or len(paths) > PATHS_MAX:
        return None
    if any(not p or p.rsplit("/", 1)[-1] in IGNORE_FILES for p in paths):
        return None  # the rules changed: what they now leave out may be anywhere under the root
    return sorted(paths)


class WatchStopped(Exception):
    """Raised into an ingest the watcher started when the watcher stops: the ingest ends as a
    killed one does (its unpublished points are dropped by the next run)."""


@dataclass
class _Root:
    trees: set[str] = field(default_factory=set)  # collections that hold the root as a tree
    files: dict[str, set[str]] = field(default_factory=dict)  # collection -> files ingested one by one
    watch: RootWatch | None = None

    def empty(self) -> bool:
        return not self.trees and not any(self.files.values())

    def holds(self, name: str) -> bool:
        return name in self.trees or bool(self.files.get(name))

    def concerning(self, name: str, paths: frozenset[str]) -> set[str]:
        """Those of `paths` (relative to the root) whose change a refresh of `name` acts on."""
        return set(paths) if name in self.trees else paths & self.files.get(name, set())


class Watcher:
    """Watch every file root of the collections `engine` holds (but those `exclude` names: globs of
    collection names) and re-ingest on change. `skip`: folders whose events never count (the
    index's own). Call `start`, then `stop` before the engine closes."""

    def __init__(self, engine: Engine, *, exclude: Sequence[str] = (), skip: Sequence[Path] = ()) -> None:
        self.engine = engine
        self._exclude = tuple(exclude)
        self._skip = tuple(Path(p).expanduser().resolve() for p in skip)
        self._lock = threading.Lock()
        self._roots: dict[Path, _Root] = {}
        self._stopped = threading.Event()
        self._unsubscribe = None
        self._starter: threading.Thread | None = None
        self._refreshing: dict[Path, set[str]] = {}  # root -> collections its running refresh has yet to do

    @classmethod
    def for_settings(cls, engine: Engine, settings: Settings) -> Watcher:
        skip = [settings.data_dir] + ([settings.qdrant_local_path] if settings.qdrant_local_path else [])
        return cls(engine, exclude=settings.watch_exclude, skip=skip)

    def wanted(self, name: str) -> bool:
        return not any(fnmatch.fnmatchcase(name, pattern) for pattern in self._exclude)

    def start(self, *, wait: bool = False) -> Watcher:
        """Follow later ingests now, and start watching the existing collections' roots on a
        thread (reading them scans each collection's file records), or here with `wait`."""
        self._unsubscribe = self.engine.on_ingest(self.ingested)
        if wait:
            self._watch_all()
        else:
            self._starter = threading.Thread(target=self._watch_all, name="watch start", daemon=True)
            self._starter.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every watch; an ingest one of them runs is cut short (kill-safe, see pipeline.py)."""
        self._stopped.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
        with self._lock:
            watches = [r.watch for r in self._roots.values() if r.watch is not None]
            self._roots.clear()
        for watch in watches:
            watch.stop(timeout=0)
        for watch in watches:
            watch.stop(timeout)
        if self._starter is not None:
            self._starter.join(timeout)

    def watched(self) -> dict[str, list[str]]:
        """Root -> the collections refreshed from it (sorted), for logs and tests."""
        with self._lock:
            return {str(root): sorted(r.trees | {n for n, f in r.files.items() if f}) for root, r in sorted(self._roots.items())}

    def watches(self, name: str) -> bool:
        """Whether some folder of collection `name` is being watched."""
        with self._lock:
            return any(r.holds(name) for r in self._roots.values())

    def pending(self, name: str) -> int:
        """Changed paths (files, or folders whose contents changed) of collection `name` that a
        re-ingest has yet to bring in: received and waiting, or in the batch being re-ingested now
        and not yet done for `name`. 0 when nothing waits (or `name` is not watched)."""
        total = 0
        with self._lock:
            entries = [r for r in self._roots.values() if r.holds(name) and r.watch is not None]
        for entry in entries:
            waiting, batch = entry.watch.queued()
            with self._lock:
                # A batch counts until its refresh is done with `name` (also in the instant
                # between the watch handing it over and the refresh beginning).
                done = entry.watch.root in self._refreshing and name not in self._refreshing[entry.watch.root]
                paths = waiting | (batch if batch is not None and not done else frozenset())
                total += len(entry.concerning(name, paths))
        return total

    def reingesting(self, name: str) -> bool:
        """Whether the watcher is re-ingesting changed files into `name` now."""
        with self._lock:
            return any(name in names for names in self._refreshing.values())

    def watch(self, root: str | Path) -> RootWatch | None:
        """The running watch of `root` (resolved), if any."""
        with self._lock:
            entry = self._roots.get(Path(root))
            return entry.watch if entry else None

    def ingested(self, name: str, target: Path) -> None:
        """`Engine.on_ingest`'s listener: follow what was just ingested."""
        if not self.wanted(name):
            return
        if target.is_dir():
            self._add(name, target, tree=True)
        else:
            self._add(name, target.parent, tree=False, files=[target.name])

    def _watch_all(self) -> None:
        try:
            names = [n for n in self.engine.collection_names() if self.wanted(n)]
        except Exception:  # noqa: BLE001 - the server serves on without watching
            log.warning("could not list the collections to watch", exc_info=True)
            return
        for name in names:
            if self._stopped.is_set():
                return
            try:
                roots = self.engine.roots(name)
            except GroundError as exc:  # damaged or foreign: it cannot be refreshed either
                log.warning("not watching collection %r: %s", name, exc)
                continue
            for root, paths in roots.items():
                tree = any("/" in p for p in paths)
                self._add(name, Path(root), tree=tree, files=() if tree else paths)
        if self._roots:
            log.info("watching %s", "; ".join(f"{r} ({', '.join(c)})" for r, c in self.watched().items()))

    def _add(self, name: str, root: Path, *, tree: bool, files: Sequence[str] = ()) -> None:
        """Follow `root` for `name`. A tree root is watched once: one inside a tree the collection
        already watches adds nothing (its events reach the outer watch), and one around roots the
        collection watched takes them over (the engine absorbed them: ingest/roots.py)."""
        with self._lock:
            if self._stopped.is_set():
                return
            if any(name in r.trees and root.is_relative_to(p) and root != p for p, r in self._roots.items()):
                return
            if tree:
                for inner in [p for p, r in self._roots.items() if p != root and p.is_relative_to(root) and r.holds(name)]:
                    self._drop(inner, name)
            entry = self._roots.setdefault(root, _Root())
            if tree:
                entry.trees.add(name)
                entry.files.pop(name, None)
            elif name not in entry.trees:
                entry.files.setdefault(name, set()).update(files)
            if entry.watch is None:
                # No catch-up ingest at start: a stdio server starts with every client window, and
                # a tree's next change re-ingests all of it anyway (an explicit ingest does too).
                entry.watch = RootWatch(root, self._refresh, skip=self._skip, catch_up=False).start()

    def _forget(self, root: Path, name: str) -> None:
        with self._lock:
            self._drop(root, name)
        log.info("stopped refreshing %s into collection %r (it is gone)", root, name)

    def _drop(self, root: Path, name: str) -> None:
        """Stop following `root` for `name` (the caller holds the lock); its watch stops when no
        collection needs it any more."""
        entry = self._roots.get(root)
        if entry is None:
            return
        entry.trees.discard(name)
        entry.files.pop(name, None)
        if entry.empty():
            del self._roots[root]
            if entry.watch is not None:
                entry.watch.stop()

    def _check_stop(self, _: IngestProgress) -> None:
        if self._stopped.is_set():
            raise WatchStopped("the watcher is stopping")

    def _refresh(self, root: Path, paths: set[str], everything: bool) -> None:
        """Bring every collection that holds `root` in line with it (RootWatch's callback). Raises
        the first failure after trying them all, so the batch is retried."""
        with self._lock:
            entry = self._roots.get(root)
            if entry is None:
                return
            trees = sorted(entry.trees)
            files = {n: set(f) for n, f in entry.files.items() if n not in entry.trees}
            self._refreshing[root] = set(trees) | set(files)  # what `pending` and `reingesting` report
        try:
            self._refresh_all(root, paths, everything, trees, files)
        finally:
            with self._lock:
                self._refreshing.pop(root, None)

    def _refresh_all(self, root: Path, paths: set[str], everything: bool, trees: list[str],
                     files: dict[str, set[str]]) -> None:
        existing = set(self.engine.collection_names())
        failed: list[Exception] = []
        for name in trees:
            if name not in existing:
                self._forget(root, name)
                continue
            try:
                report = self.engine.ingest(str(root), collection=name, progress=self._check_stop,
                                            only=limited(paths, everything))
            except Exception as exc:  # noqa: BLE001 - the others still get theirs
                failed.append(exc)
                continue
            finally:
                self._done(root, name)
            if report.added or report.changed or report.removed:
                log.info("refreshed %s in %r: %d added, %d changed, %d removed (%.2f s)", root, name,
                         len(report.added), len(report.changed), len(report.removed), report.seconds)
        for name, names in sorted(files.items()):
            if name not in existing:
                self._forget(root, name)
                continue
            for rel in sorted(names if everything else names & paths):
                try:
                    self._refresh_file(name, root, rel)
                except Exception as exc:  # noqa: BLE001
                    failed.append(exc)
            self._done(root, name)
        if failed:
            raise failed[0]

    def _done(self, root: Path, name: str) -> None:
        with self._lock:
            self._refreshing.get(root, set()).discard(name)

    def _refresh_file(self, name: str, root: Path, rel: str) -> None:
        path = root / rel
        if path.is_file() and not path.is_symlink():
            try:
                self.engine.ingest(str(path), collection=name, progress=self._check_stop)
            except InputError as exc:  # skipped now (a secret, too large): its chunks were removed
                log.info("%s", exc)
            return
        self.engine.delete_paths(name, [rel], root=str(root))
        with self._lock:
            entry = self._roots.get(root)
            if entry is not None and name in entry.files:
                entry.files[name].discard(rel)
