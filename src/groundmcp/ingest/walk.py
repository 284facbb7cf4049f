"""Find the files under a root that ingest should read.

``walk`` only lists and stats; it never opens a file it yields. Reading, and the checks that need the
bytes (binary sniffing, UTF-8), live in ``read.py`` (``read_bytes`` / ``read_text``) so the caller
decides when to pay. The ignore rules and their precedence live in ``ignore.py``.

An ignored directory is pruned, never listed, which is also what git does: a file cannot be
re-included once its parent directory is excluded. ``.git`` is never entered. Files left out by these
rules are silent (counted in ``WalkStats``); files left out for another reason come back as ``Skipped``.
A bare repository (a folder holding ``HEAD``, ``config``, ``objects/`` and ``refs/``) is pruned like
``.git``.

Files that hold credentials by their name (``.env``, private keys, ``.netrc``, cloud credential files:
see ``secrets.py``) come back as ``Skipped`` and are never opened, even when named as the root.

Symlinks are never followed out of the root. A symlink whose target lies inside the root is walked
under the link's path only when that target is not walked under its own path (it is ignored, say);
otherwise the link is dropped silently as a duplicate. Links are resolved after the real tree, so the
real path always wins, and every real directory and file is yielded at most once.
"""

from __future__ import annotations

import errno
import heapq
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from groundmcp.errors import InputError

from .ignore import IGNORE_FILES, Layer, compile_ignore_file, compile_patterns, default_ignored, enclosing_layers
from .secrets import secret_file, secret_file_reason


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the root, forward slashes
    abs_path: Path  # real path on disk (inside the root)
    size: int
    mtime_ns: int
    # (st_dev, st_ino) when listed: reading refuses a file replaced since (see nofollow.py)
    ident: tuple[int, int] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str  # relative to the root, forward slashes (or the given name)
    reason: str  # short, for a person: "binary file", "symlink loop", ...


@dataclass(frozen=True, slots=True)
class WalkOptions:
    max_file_bytes: int = 2_000_000
    extra_ignores: tuple[str, ...] = ()  # gitignore-style patterns from settings / CLI
    use_default_ignores: bool = True

    def __post_init__(self) -> None:
        if self.max_file_bytes <= 0:
            raise InputError(f"max_file_bytes must be positive, got {self.max_file_bytes}")
        if isinstance(self.extra_ignores, str):
            raise InputError(f"extra_ignores must be a sequence of patterns, got the string {self.extra_ignores!r}")


@dataclass(slots=True)
class WalkStats:
    """Counts filled in by ``walk`` as it goes; final once the iterator is exhausted."""

    files: int = 0  # FileEntry items yielded
    skipped: int = 0  # Skipped items yielded
    ignored_files: int = 0  # files left out silently by ignore rules or binary extension
    ignored_dirs: int = 0  # directories pruned by ignore rules (their contents are not counted)
    duplicates: int = 0  # symlinks (or re-entered directories) whose target is walked elsewhere


def resolve_root(path: str | Path) -> Path:
    """The absolute, resolved root (``~`` expanded), or InputError saying what is wrong with it."""
    given = str(path)
    if not given.strip():
        raise InputError("no path given; pass the directory or file to ingest")
    try:
        real = Path(os.path.realpath(os.path.expanduser(given), strict=True))
        st = real.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"path '{given}' is a symlink loop; pass the real directory instead") from None
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            raise InputError(
                f"path '{given}' does not exist (relative paths are taken from {os.getcwd()}); "
                "check the spelling or pass an absolute path"
            ) from None
        raise InputError(f"path '{given}' cannot be opened: {exc.strerror}") from None
    if stat.S_ISDIR(st.st_mode):
        if not os.access(real, os.R_OK | os.X_OK):
            raise InputError(f"directory '{given}' cannot be listed (permission denied); fix its permissions")
    elif stat.S_ISREG(st.st_mode):
        if not os.access(real, os.R_OK):
            raise InputError(f"file '{given}' cannot be read (permission denied); fix its permissions")
    else:
        raise InputError(f"path '{given}' is neither a directory nor a regular file; pass a directory or file")
    return real


def walk(
    root: str | Path, options: WalkOptions = WalkOptions(), *, stats: WalkStats | None = None, resolved: bool = False
) -> Iterator[FileEntry | Skipped]:
    """Every file under ``root`` to ingest, plus a ``Skipped`` for each one left out for a reason worth
    telling, in sorted path order (plain string order of ``path``), without duplicates.

    The root is checked at once (InputError). A root that is a single file yields just that file, with
    its name as ``path`` (the parent is the root for relative paths); ignore rules do not apply to a
    file named explicitly, the size limit does. Pass ``stats`` to receive counts, including the files
    ignored silently. `resolved`: `root` is what resolve_root returned already (not checked again).
    """
    real = Path(root) if resolved else resolve_root(root)
    extra = Layer(compile_patterns(options.extra_ignores)) if options.extra_ignores else None
    return _Walker(real, options, extra, stats if stats is not None else WalkStats()).run()


def walk_paths(root: Path, paths: Iterable[str], options: WalkOptions = WalkOptions()) -> list[FileEntry | Skipped] | None:
    """What `walk(root)` yields at or under these relative paths (files, or folders: all under them),
    in the same order and under the same rules, listing only the folders on their way; None when
    that cannot be told without walking the whole root: a symlink on the way or inside (the walk
    decides a link by what else it walks). `root` is resolved already. A path that is gone, or
    ignored, yields nothing. For a watcher's small batches: see ingest_path's `only`."""
    extra = Layer(compile_patterns(options.extra_ignores)) if options.extra_ignores else None
    walker = _Walker(root, options, extra, WalkStats())
    for rel in sorted(set(paths)):
        if not walker.walk_one(rel):
            return None
    found = {item.path: item for item in walker.out}
    return [found[path] for path in sorted(found)]


def left_out(root: Path, rel: str, options: WalkOptions = WalkOptions()) -> bool:
    """Whether `walk(root)` leaves `rel` (a file or folder under `root`, resolved) out by its rules:
    it is `.git` or inside one, inside a bare repository, or an ignore rule takes it or a folder on
    its way. False when the walk would reach it, and when that cannot be told from the path alone:
    it is gone, unreadable, or a symlink is on the way. Only the folders on the way are listed.
    (Which root of a collection a path belongs to: see roots.py.)"""
    extra = Layer(compile_patterns(options.extra_ignores)) if options.extra_ignores else None
    return _Walker(root, options, extra, WalkStats()).left_out(rel)


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


# --- the walk --------------------------------------------------------------------------------------


def too_large(limit: int, size: int) -> str:
    shown = _human(size)
    return f"larger than {_human(limit)} ({shown if shown != _human(limit) else f'{size:,} bytes'})"


def _human(n: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f}".removesuffix(".0") + f" {unit}"
    return f"{n} bytes"


def _printable(rel: str) -> str:
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


class _Walker:
    def __init__(self, root: Path, options: WalkOptions, extra: Layer | None, stats: WalkStats) -> None:
        self.root = str(root)
        self.options = options
        self.extra = extra
        self.stats = stats
        self.out: list[FileEntry | Skipped] = []
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[tuple[int, int]] = set()
        self.dir_links: list[tuple[str, str, tuple[Layer, ...]]] = []  # heap of (prefix, target, layers)
        self.file_links: list[tuple[str, str, os.stat_result]] = []

    def run(self) -> Iterator[FileEntry | Skipped]:
        if os.path.isdir(self.root):
            self._walk_tree()
        else:
            self._add_file(os.path.basename(self.root), Path(self.root), os.stat(self.root))
        self.out.sort(key=lambda item: item.path)
        for item in self.out:
            if isinstance(item, FileEntry):
                self.stats.files += 1
            else:
                self.stats.skipped += 1
            yield item

    def _walk_tree(self) -> None:
        stack = [(self.root, "", enclosing_layers(self.root))]
        while True:
            while stack:
                self._walk_dir(*stack.pop(), stack)
            if not self.dir_links:
                break
            prefix, target, layers = heapq.heappop(self.dir_links)
            stack.append((target, prefix, layers))
        for rel, target, st in sorted(self.file_links, key=lambda link: link[0]):
            if (st.st_dev, st.st_ino) in self.seen_files:
                self.stats.duplicates += 1
            else:
                self._add_file(rel, Path(target), st)

    def walk_one(self, rel: str) -> bool:
        """Walk `rel` (a file or a folder under the root) as `_walk_tree` would reach it, listing
        only the folders on its way for their ignore files. False at a symlink (see walk_paths)."""
        parts = [p for p in rel.split("/") if p]
        real, prefix, layers = self.root, "", enclosing_layers(self.root)
        for i, name in enumerate(parts):
            if (listed := _listed(real, prefix, layers)) is None:
                return True  # gone (or unreadable: the whole walk would say so)
            entries, layers = listed
            if _bare_repository(set(entries), list(entries.values())) or name == ".git" or name not in entries:
                return True
            entry, here = entries[name], prefix + name
            if entry.is_symlink():
                return False
            if entry.is_dir(follow_symlinks=False):
                if self._ignored(layers, here, is_dir=True):
                    return True
                if i == len(parts) - 1:
                    stack = [(entry.path, here + "/", layers)]
                    while stack:
                        self._walk_dir(*stack.pop(), stack)
                    return not (self.dir_links or self.file_links or any(
                        isinstance(s, Skipped) and s.reason in ("symlink loop", "symlink points outside the root",
                                                                "broken symlink") for s in self.out))
                real, prefix = entry.path, here + "/"
                continue
            if i < len(parts) - 1 or self._ignored(layers, here, is_dir=False):
                return True
            try:
                if entry.is_file(follow_symlinks=False):
                    self._add_file(here, Path(entry.path), entry.stat(follow_symlinks=False))
                else:
                    self._skip(here, "not a regular file")
            except OSError as exc:
                self._skip(here, f"unreadable: {exc.strerror}")
        return True

    def left_out(self, rel: str) -> bool:
        """See the module function `left_out`."""
        parts = [p for p in rel.split("/") if p]
        real, prefix, layers = self.root, "", enclosing_layers(self.root)
        for name in parts:
            if (listed := _listed(real, prefix, layers)) is None:
                return False
            entries, layers = listed
            if name == ".git" or _bare_repository(set(entries), list(entries.values())):
                return True
            if name not in entries:
                return False
            entry, here = entries[name], prefix + name
            if entry.is_symlink():
                return False
            is_dir = entry.is_dir(follow_symlinks=False)
            if self._ignored(layers, here, is_dir=is_dir):
                return True
            if not is_dir:
                return False  # the file itself (or a file where a folder was named: nothing to say)
            real, prefix = entry.path, here + "/"
        return False

    def _walk_dir(self, real: str, prefix: str, layers: tuple[Layer, ...], stack: list) -> None:
        """List one directory: real path, its path relative to the root ("" or "a/b/"), layers above."""
        try:
            st = os.stat(real)
            if (st.st_dev, st.st_ino) in self.seen_dirs:
                self.stats.duplicates += 1
                return
            self.seen_dirs.add((st.st_dev, st.st_ino))
            with os.scandir(real) as it:
                entries = list(it)
        except OSError as exc:
            self._skip(prefix.rstrip("/") or ".", f"unreadable: {exc.strerror}")
            return
        base = Path(real)
        names = {entry.name for entry in entries}
        if _bare_repository(names, entries):  # a repository's insides, as .git is: never read
            self._count_ignored(True)
            return
        for name in IGNORE_FILES:
            if name in names and (spec := compile_ignore_file(os.path.join(real, name))) is not None:
                layers = (*layers, Layer(spec, strip=len(prefix)))
        for entry in entries:
            name, rel = entry.name, prefix + entry.name
            if name == ".git":  # the repository, or a submodule's .git file: never read
                self._count_ignored(entry.is_dir(follow_symlinks=False))
                continue
            if not name.isascii() and not _encodable(name):
                self._skip(_printable(rel), "file name is not valid UTF-8")
                continue
            try:
                if entry.is_symlink():
                    self._symlink(entry, rel, real, layers)
                elif entry.is_dir(follow_symlinks=False):
                    if self._ignored(layers, rel, is_dir=True):
                        self._count_ignored(True)
                    else:
                        stack.append((entry.path, rel + "/", layers))
                elif self._ignored(layers, rel, is_dir=False):
                    self._count_ignored(False)
                elif entry.is_file(follow_symlinks=False):
                    self._add_file(rel, base / name, entry.stat(follow_symlinks=False))
                else:
                    self._skip(rel, "not a regular file")
            except OSError as exc:
                self._skip(rel, f"unreadable: {exc.strerror}")

    def _symlink(self, entry: os.DirEntry, rel: str, parent: str, layers: tuple[Layer, ...]) -> None:
        try:
            st = os.stat(entry.path)
        except OSError as exc:
            if self._ignored(layers, rel, is_dir=False):
                self._count_ignored(False)
            elif exc.errno == errno.ELOOP:
                self._skip(rel, "symlink loop")
            elif exc.errno in (errno.ENOENT, errno.ENOTDIR):
                self._skip(rel, "broken symlink")
            else:
                self._skip(rel, f"unreadable: {exc.strerror}")
            return
        is_dir = stat.S_ISDIR(st.st_mode)
        if self._ignored(layers, rel, is_dir=is_dir):
            self._count_ignored(is_dir)
            return
        target = os.path.realpath(entry.path)
        if not _inside(target, self.root):
            self._skip(rel, "symlink points outside the root")
        elif is_dir and _inside(parent, target):
            self._skip(rel, "symlink loop")  # it points at the directory holding it, or above
        elif is_dir:
            heapq.heappush(self.dir_links, (rel + "/", target, layers))
        elif stat.S_ISREG(st.st_mode):
            self.file_links.append((rel, target, st))
        else:
            self._skip(rel, "not a regular file")

    def _ignored(self, layers: tuple[Layer, ...], rel: str, *, is_dir: bool) -> bool:
        """Whether rules leave ``rel`` out: the first layer with an opinion decides, deepest first."""
        query = rel + "/" if is_dir else rel
        ordered = [self.extra, *reversed(layers)] if self.extra is not None else [*reversed(layers)]
        locals_ = [layer.local(query) for layer in ordered]
        if not any(layer.may_negate(q) for layer, q in zip(ordered, locals_, strict=True)):
            # With no negation in play every verdict is "ignored" or "no opinion", so any match decides.
            if any(layer.ignores(q) for layer, q in zip(ordered, locals_, strict=True)):
                return True
        else:
            for layer in ordered:
                if (verdict := layer.verdict(query)) is not None:
                    return verdict
        return self.options.use_default_ignores and default_ignored(rel.rpartition("/")[2], is_dir)

    def _add_file(self, rel: str, real: Path, st: os.stat_result) -> None:
        self.seen_files.add((st.st_dev, st.st_ino))
        if (label := _secret_label(rel, real)) is not None:
            self._skip(rel, secret_file_reason(label))
        elif st.st_size > self.options.max_file_bytes:
            self._skip(rel, too_large(self.options.max_file_bytes, st.st_size))
        else:
            self.out.append(FileEntry(rel, real, st.st_size, st.st_mtime_ns, (st.st_dev, st.st_ino)))

    def _skip(self, rel: str, reason: str) -> None:
        self.out.append(Skipped(rel, reason))

    def _count_ignored(self, is_dir: bool) -> None:
        if is_dir:
            self.stats.ignored_dirs += 1
        else:
            self.stats.ignored_files += 1


def _secret_label(rel: str, real: Path) -> str | None:
    """secret_file by the name a file is listed under and by its real path (a link's target; a
    root file's folder). Only a file's name and folder count, so the real path is checked only
    where those may differ: a file at the root, or one whose path on disk does not end in `rel`."""
    if (label := secret_file(rel)) is not None:
        return label
    on_disk = real.as_posix()
    return secret_file(on_disk) if "/" not in rel or not on_disk.endswith("/" + rel) else None


_BARE_MARKERS = frozenset({"HEAD", "config", "objects", "refs"})


def _bare_repository(names: set[str], entries: list[os.DirEntry]) -> bool:
    """A bare git repository (``project.git/`` on a server, a mirror): HEAD and config files beside
    objects/ and refs/ folders. Its config can hold remote URLs with credentials, its objects every
    version of every file; like ``.git`` it is skipped whole."""
    if not _BARE_MARKERS <= names:
        return False
    kinds = {e.name: e.is_dir(follow_symlinks=False) for e in entries if e.name in _BARE_MARKERS}
    return kinds["objects"] and kinds["refs"] and not kinds["HEAD"] and not kinds["config"]


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _listed(real: str, prefix: str, layers: tuple[Layer, ...]) -> tuple[dict[str, os.DirEntry], tuple[Layer, ...]] | None:
    """The entries of the folder `real` (at `prefix` under the root) and the ignore layers in force
    inside it (its own ignore files added to `layers`); None when it cannot be listed. One step of
    the path descents of `walk_one` and `left_out`."""
    try:
        with os.scandir(real) as it:
            entries = {e.name: e for e in it}
    except OSError:
        return None
    for ignore_file in IGNORE_FILES:
        if ignore_file in entries and (spec := compile_ignore_file(os.path.join(real, ignore_file))):
            layers = (*layers, Layer(spec, strip=len(prefix)))
    return entries, layers
