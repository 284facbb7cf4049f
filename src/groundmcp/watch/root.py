"""One folder's watch: native file-system events, debounced into batches, handed to a refresh.

A thread per root holds a `watchfiles.RustNotify` (inotify, FSEvents, ReadDirectoryChangesW). Its
own thread collects events all the time, also while a refresh runs, so none is lost between
batches. A batch closes STEP_MS after the last event, or MAX_BATCH_MS after its first whatever keeps
coming; while git holds the index lock (a checkout, a rebase) it waits, up to GIT_WAIT_S, and keeps
collecting. Then `refresh(root, paths, everything)` runs on this thread: `paths` are the batch's
relevant paths (batch.py), `everything` says the whole root is to be checked: events may have been
missed (after the watch was restarted, or at start when asked with `catch_up`), or it is the watch's
first batch (what changed while nothing watched is caught up with the first change, not at start,
so a process that starts does not walk every root).

Nothing here kills the process: a refresh that fails is retried after a back-off, with the paths
kept; a watch that fails (the folder was removed, the OS's watch limit) is started again after a
back-off, and its first batch is `everything`.
"""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from .batch import relevant_paths
from .git import git_busy, git_dir

log = logging.getLogger(__name__)

STEP_MS = 300
MAX_BATCH_MS = 1600
GIT_WAIT_S = 30.0
GIT_POLL_MS = 200
BACKOFF_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
ROOT_POLL_S = 2.0  # how often a removed root is looked for

Refresh = Callable[[Path, set[str], bool], None]


def backoff(failures: int) -> float:
    return BACKOFF_S[min(failures, len(BACKOFF_S) - 1)]


class RootWatch:
    """Watch `root` (resolved) on a thread of its own until `stop`; see the module docstring."""

    def __init__(self, root: Path, refresh: Refresh, *, skip: Sequence[Path] = (), catch_up: bool = False) -> None:
        self.root = root
        self._refresh = refresh
        self._skip = tuple(skip)
        self._catch_up = catch_up
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"watch {root}", daemon=True)
        self.batches = 0  # refreshes that succeeded (tests and benchmarks read these two)
        self.event_batches = 0  # batches of events received, relevant or not
        self.ready = threading.Event()  # set once events are being collected
        self._state_lock = threading.Lock()
        self._waiting: frozenset[str] = frozenset()
        self._refreshing: frozenset[str] | None = None

    def queued(self) -> tuple[frozenset[str], frozenset[str] | None]:
        """(the relevant paths received and waiting for a refresh, the paths of the refresh running
        now or None): what `collection_stats` reports as pending. Events count from when their
        batch closes (STEP_MS after the last one); those that arrive during a refresh, from when
        it ends."""
        with self._state_lock:
            return self._waiting, self._refreshing

    def _show(self, waiting: set[str], refreshing: set[str] | None) -> None:
        with self._state_lock:
            self._waiting = frozenset(waiting)
            self._refreshing = None if refreshing is None else frozenset(refreshing)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def start(self) -> RootWatch:
        self._thread.start()
        return self

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def _run(self) -> None:
        everything, failures = self._catch_up, 0
        while not self._stop.is_set():
            try:
                self._watch(everything)
                return  # stopped
            except _RootGone:
                log.warning("watched folder %s is gone; watching for it to come back", self.root)
                while not self._stop.wait(ROOT_POLL_S) and not self.root.is_dir():
                    pass
                failures = 0
            except Exception as exc:  # noqa: BLE001 - a watch failure never ends the process
                wait = backoff(failures)
                failures += 1
                hint = (
                    " (the OS's limit on watched folders: raise it with `sysctl fs.inotify.max_user_watches=N`, "
                    "or leave this collection out with GROUNDMCP_WATCH_EXCLUDE)"
                    if "limit" in str(exc).lower() or getattr(exc, "errno", None) == errno.ENOSPC
                    else ""
                )
                log.warning("watching %s failed (%s)%s; trying again in %.0f s", self.root, exc, hint, wait,
                            exc_info=True)
                self._stop.wait(wait)
            everything = True  # events may have been missed meanwhile

    def _watch(self, everything: bool) -> None:
        from watchfiles._rust_notify import RustNotify

        if not self.root.is_dir():
            raise _RootGone
        repo = git_dir(self.root)
        with RustNotify([str(self.root)], False, False, 0, True, True) as notify:
            self.ready.set()
            try:
                self._loop(notify, repo, everything)
            finally:
                self.ready.clear()

    def _loop(self, notify, repo: Path | None, everything: bool) -> None:
        pending: set[str] = set()
        self._show(pending, None)  # a restarted watch re-ingests the whole root: what waited is in it
        failures, retry_at, git_since = 0, 0.0, None
        first = True  # this watch's first refresh checks the whole root: what changed before it began
        while True:
            due = bool(pending) or everything
            now = time.monotonic()
            if due and now >= retry_at:
                if git_busy(repo) and now - (git_since := git_since or now) < GIT_WAIT_S:
                    timeout_ms = GIT_POLL_MS  # keep collecting while git writes
                else:
                    if git_since is not None and git_busy(repo):
                        log.warning("git has held %s for %.0f s; refreshing %s anyway",
                                    repo / "index.lock", GIT_WAIT_S, self.root)
                    git_since = None
                    self._show(set(), pending)
                    try:
                        self._refresh(self.root, pending, everything or first)
                    except Exception as exc:  # noqa: BLE001 - retried later, with the same paths
                        self._show(pending, None)
                        if self._stop.is_set():
                            return
                        wait = backoff(failures)
                        failures += 1
                        retry_at = time.monotonic() + wait
                        log.warning("refreshing %s failed (%s); trying again in %.0f s", self.root, exc,
                                    wait, exc_info=True)
                    else:
                        self.batches += 1
                        pending, everything, failures, first = set(), False, 0, False
                        self._show(pending, None)
                    continue
            else:
                timeout_ms = 0 if not due else max(1, int((retry_at - now) * 1000))  # 0: no limit
            changes = notify.watch(MAX_BATCH_MS, STEP_MS, timeout_ms, self._stop)
            if changes == "stop" or self._stop.is_set():
                return
            if isinstance(changes, set):
                self.event_batches += 1
                pending |= relevant_paths(self.root, changes, self._skip)
                self._show(pending, None)
                if not self.root.is_dir():
                    raise _RootGone


class _RootGone(Exception):
    pass
