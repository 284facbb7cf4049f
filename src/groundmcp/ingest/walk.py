"""Find the files under a root that ingest should read.

``walk`` only lists and stats; it never opens a file it yields. Reading, and the checks that need the
bytes (binary sniffing, UTF-8), live in ``read_bytes`` / ``read_text`` so the caller decides when to pay.

Ignore rules, highest precedence first (the first layer with an opinion about a path decides, so
negations in a deeper file can re-include what a shallower one excluded, as in git):

1. ``WalkOptions.extra_ignores`` (settings / CLI), relative to the root;
2. ``.groundmcpignore`` then ``.gitignore`` in each directory, deepest directory first;
3. ``.gitignore`` files of the enclosing git work tree above the root, then its ``.git/info/exclude``
   (dropped when the root itself is ignored by them: naming a directory is asking for it);
4. ``DEFAULT_IGNORES`` and ``BINARY_EXTENSIONS`` (unless ``use_default_ignores=False``).

An ignored directory is pruned, never listed, which is also what git does: a file cannot be
re-included once its parent directory is excluded. ``.git`` is never entered. Files left out by these
rules are silent (counted in ``WalkStats``); files left out for another reason come back as ``Skipped``.

Symlinks are never followed out of the root. A symlink whose target lies inside the root is walked
under the link's path only when that target is not walked under its own path (it is ignored, say);
otherwise the link is dropped silently as a duplicate. Links are resolved after the real tree, so the
real path always wins, and every real directory and file is yielded at most once.
"""

from __future__ import annotations

import errno
import functools
import heapq
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from groundmcp.errors import InputError

DEFAULT_IGNORES: tuple[str, ...] = (
    # version control
    ".git/", ".hg/", ".svn/", ".bzr/", "_darcs/", ".jj/", "CVS/",
    # Python environments, caches and build metadata
    "__pycache__/", ".venv/", "venv/", "env/", "*.egg-info/", ".eggs/",
    ".tox/", ".nox/", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/",
    # JavaScript dependencies and framework output
    "node_modules/", "bower_components/", ".next/", ".nuxt/", "coverage/",
    # vendored dependencies (Go, PHP) and build output
    "vendor/", "dist/", "build/", "target/", "out/",
    # editors and OS litter
    ".idea/", ".vscode/", ".DS_Store",
    # lock files
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "Cargo.lock",
    "Gemfile.lock", "composer.lock", "uv.lock", "go.sum", "*.lock",
    # minified code, source maps, vector art (text, but nothing to retrieve)
    "*.min.js", "*.min.css", "*.map", "*.svg",
)

# Known binary formats, matched case-insensitively on the last suffix. While walking they are ignored
# silently like DEFAULT_IGNORES; read_text refuses them whatever the walk options were.
BINARY_EXTENSIONS: frozenset[str] = frozenset(
    # images
    ".png .jpg .jpeg .gif .bmp .ico .icns .webp .tif .tiff .psd .heic .avif "
    # audio and video
    ".mp3 .wav .flac .ogg .m4a .aac .opus .wma .mp4 .m4v .mov .avi .mkv .webm .wmv .flv .mpg .mpeg "
    # fonts
    ".ttf .otf .woff .woff2 .eot "
    # archives and packages
    ".zip .tar .gz .tgz .bz2 .xz .zst .7z .rar .jar .war .whl .egg .apk .dmg .iso .deb .rpm "
    # compiled code
    ".so .dll .dylib .exe .o .a .pyc .pyo .pyd .class .wasm "
    # databases, arrays and model weights
    ".db .sqlite .sqlite3 .npy .npz .pt .pth .ckpt .safetensors .onnx .bin .pkl .pickle "
    ".h5 .hdf5 .parquet .gguf .tflite".split()
)

# Binary formats that are wanted: the caller reads them with read_bytes and parses them itself.
BYTES_EXTENSIONS: frozenset[str] = frozenset({".pdf"})

IGNORE_FILES: tuple[str, ...] = (".gitignore", ".groundmcpignore")  # shallow to deep precedence
SNIFF_BYTES = 8192  # a NUL byte in this many leading bytes marks a file as binary


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str  # relative to the root, forward slashes
    abs_path: Path  # real path on disk (inside the root)
    size: int
    mtime_ns: int


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
    root: str | Path, options: WalkOptions = WalkOptions(), *, stats: WalkStats | None = None
) -> Iterator[FileEntry | Skipped]:
    """Every file under ``root`` to ingest, plus a ``Skipped`` for each one left out for a reason worth
    telling, in sorted path order (plain string order of ``path``), without duplicates.

    The root is checked at once (InputError). A root that is a single file yields just that file, with
    its name as ``path`` (the parent is the root for relative paths); ignore rules do not apply to a
    file named explicitly, the size limit does. Pass ``stats`` to receive counts, including the files
    ignored silently.
    """
    real = resolve_root(root)
    extra = _Layer(_compile(options.extra_ignores)) if options.extra_ignores else None
    return _Walker(real, options, extra, stats if stats is not None else WalkStats()).run()


# --- reading ---------------------------------------------------------------------------------------


def wants_bytes(path: str) -> bool:
    """True for wanted binary formats (PDF) that the caller should read with ``read_bytes``."""
    return os.path.splitext(path)[1].lower() in BYTES_EXTENSIONS


def is_binary(data: bytes) -> bool:
    """True when the leading bytes hold a NUL, which text in any 8-bit encoding or UTF-8 never does."""
    return b"\0" in data[:SNIFF_BYTES]


def read_bytes(entry: FileEntry, limit: int | None = None) -> bytes | Skipped:
    """The file's bytes, or a Skipped if it cannot be read or has grown past ``limit`` bytes."""
    try:
        with open(entry.abs_path, "rb") as fh:
            if limit is None:
                return fh.read()
            data = fh.read(limit + 1)
            if len(data) > limit:
                return Skipped(entry.path, _too_large(limit, os.fstat(fh.fileno()).st_size))
            return data
    except OSError as exc:
        return Skipped(entry.path, f"unreadable: {exc.strerror or exc}")


def decode_text(data: bytes, path: str) -> str | Skipped:
    """UTF-8 text without its BOM, or a Skipped saying why the bytes are not text we can use."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return Skipped(path, "not UTF-8 text")  # UTF-16: NULs everywhere, but not binary
    if is_binary(data):
        return Skipped(path, "binary file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Skipped(path, "not UTF-8 text")


def read_text(entry: FileEntry, limit: int | None = None) -> str | Skipped:
    """The file as text, or a Skipped: binary by extension (PDF included) or content, not UTF-8,
    unreadable, or grown past ``limit``."""
    ext = os.path.splitext(entry.path)[1].lower()
    if ext in BINARY_EXTENSIONS or ext in BYTES_EXTENSIONS:
        return Skipped(entry.path, "binary file")
    data = read_bytes(entry, limit)
    return data if isinstance(data, Skipped) else decode_text(data, entry.path)


# --- ignore rules ----------------------------------------------------------------------------------


def _compile(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(patterns))
    except ValueError as exc:
        raise InputError(f"extra ignore patterns: {exc}; fix or remove that pattern") from None


def _compile_file(path: str) -> pathspec.GitIgnoreSpec | None:
    """Patterns from an ignore file; lines git would not understand are dropped, as git drops them."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    try:
        spec = pathspec.GitIgnoreSpec.from_lines(lines)
    except ValueError:
        spec = pathspec.GitIgnoreSpec.from_lines(line for line in lines if _valid(line))
    return spec if len(spec) else None


def _valid(line: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except ValueError:
        return False
    return True


class _Layer:
    """One ignore file: a path relative to the walk root becomes ``prepend + path[strip:]`` in it.

    Besides the pathspec verdict, a layer keeps two pre-filters, one regex joining its ignoring
    patterns and one joining its negations, so the usual question (does anything here match at all?)
    costs one regex search instead of one per pattern. pathspec always has the last word."""

    __slots__ = ("spec", "strip", "prepend", "_ignores", "_negates", "_exact")

    def __init__(self, spec: pathspec.GitIgnoreSpec, strip: int = 0, prepend: str = "") -> None:
        self.spec, self.strip, self.prepend = spec, strip, prepend
        self._ignores, ok_ignores = _joined(spec, include=True)
        self._negates, ok_negates = _joined(spec, include=False)
        self._exact = ok_ignores and ok_negates

    def local(self, query: str) -> str:
        return self.prepend + query[self.strip :]

    def may_negate(self, local: str) -> bool:
        """False only when no negation here can match (always True without usable pre-filters)."""
        return not self._exact or (self._negates is not None and self._negates.search(local) is not None)

    def ignores(self, local: str) -> bool:
        """Whether an ignoring pattern matches; the verdict itself when ``may_negate`` is False."""
        return self._ignores is not None and self._ignores.search(local) is not None

    def verdict(self, query: str) -> bool | None:
        """True: ignored; False: re-included by a negation; None: no pattern here matches."""
        local = self.local(query)
        if self._exact and not self.may_negate(local) and not self.ignores(local):
            return None
        return self.spec.check_file(local).include


_NAMED_GROUP = re.compile(r"(?<!\\)\(\?P<\w+>")
_ANY_DEPTH = "^(?:.+/)?"  # how pathspec starts the regex of a pattern with no inner slash


def _joined(spec: pathspec.GitIgnoreSpec, *, include: bool) -> tuple[re.Pattern[str] | None, bool]:
    """One regex that matches a path when any pattern of the spec with this ``include`` does, and
    whether that worked (None and True: there are no such patterns). The common ``^(?:.+/)?`` is
    factored out, so the engine tries each directory boundary once, not once per pattern."""
    regexes = [p.regex for p in spec.patterns if p.include is include and p.regex is not None]
    if not regexes:
        return None, True
    if len({r.flags for r in regexes}) != 1 or not all(isinstance(r.pattern, str) for r in regexes):
        return None, False
    bodies = [_NAMED_GROUP.sub("(?:", r.pattern) for r in regexes]
    any_depth = [b.removeprefix(_ANY_DEPTH) for b in bodies if b.startswith(_ANY_DEPTH)]
    parts = [f"(?:{b})" for b in bodies if not b.startswith(_ANY_DEPTH)]
    if any_depth:
        parts.append(_ANY_DEPTH + "(?:" + "|".join(f"(?:{b})" for b in any_depth) + ")")
    try:
        return re.compile("|".join(parts), regexes[0].flags), True
    except re.error:
        return None, False


_DEFAULT_ALL = pathspec.GitIgnoreSpec.from_lines(DEFAULT_IGNORES)
# Patterns ending in "/" only match directories, and ignored directories are pruned before their files
# are looked at, so files need only the others.
_DEFAULT_FILES = pathspec.GitIgnoreSpec.from_lines(p for p in DEFAULT_IGNORES if not p.endswith("/"))
# No default pattern holds a slash before its end, so each matches a name at any depth: the verdict
# depends on the name alone, and names (src/, tests/, __init__.py) repeat, so it is cached by name.


@functools.lru_cache(maxsize=8192)
def _default_ignores(name: str, is_dir: bool) -> bool:
    if is_dir:
        return bool(_DEFAULT_ALL.check_file(name + "/").include)
    if os.path.splitext(name)[1].lower() in BINARY_EXTENSIONS:
        return True
    return bool(_DEFAULT_FILES.check_file(name).include)


def _inside(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _enclosing_layers(root: str) -> tuple[_Layer, ...]:
    """Layers from the git work tree that holds ``root``: info/exclude and the .gitignore files above it."""
    top = root
    while not os.path.exists(os.path.join(top, ".git")):
        parent = os.path.dirname(top)
        if parent == top:
            top = root  # not in a work tree: only the root's own files count
            break
        top = parent
    layers: list[_Layer] = []
    exclude = _compile_file(os.path.join(top, ".git", "info", "exclude"))
    if exclude is not None:
        layers.append(_Layer(exclude, prepend=_rel_dir(root, top)))
    directory = top
    for part in ([] if top == root else os.path.relpath(root, top).split(os.sep)):
        for name in IGNORE_FILES:
            spec = _compile_file(os.path.join(directory, name))
            if spec is not None:
                layers.append(_Layer(spec, prepend=_rel_dir(root, directory)))
        directory = os.path.join(directory, part)
    for layer in reversed(layers):
        if layer.prepend and (verdict := layer.verdict("")) is not None:
            if verdict:  # the root itself is ignored from above: naming it overrides that
                return tuple(layer for layer in layers if not layer.prepend)
            break
    return tuple(layers)


def _rel_dir(path: str, start: str) -> str:
    return "" if path == start else os.path.relpath(path, start).replace(os.sep, "/") + "/"


# --- the walk --------------------------------------------------------------------------------------


def _too_large(limit: int, size: int) -> str:
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
    def __init__(self, root: Path, options: WalkOptions, extra: _Layer | None, stats: WalkStats) -> None:
        self.root = str(root)
        self.options = options
        self.extra = extra
        self.stats = stats
        self.out: list[FileEntry | Skipped] = []
        self.seen_dirs: set[tuple[int, int]] = set()
        self.seen_files: set[tuple[int, int]] = set()
        self.dir_links: list[tuple[str, str, tuple[_Layer, ...]]] = []  # heap of (prefix, target, layers)
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
        stack = [(self.root, "", _enclosing_layers(self.root))]
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

    def _walk_dir(self, real: str, prefix: str, layers: tuple[_Layer, ...], stack: list) -> None:
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
        for name in IGNORE_FILES:
            if name in names and (spec := _compile_file(os.path.join(real, name))) is not None:
                layers = (*layers, _Layer(spec, strip=len(prefix)))
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

    def _symlink(self, entry: os.DirEntry, rel: str, parent: str, layers: tuple[_Layer, ...]) -> None:
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

    def _ignored(self, layers: tuple[_Layer, ...], rel: str, *, is_dir: bool) -> bool:
        """Whether rules leave ``rel`` out: the first layer with an opinion decides, deepest first."""
        query = rel + "/" if is_dir else rel
        ordered = [self.extra, *reversed(layers)] if self.extra is not None else [*reversed(layers)]
        locals_ = [layer.local(query) for layer in ordered]
        if not any(layer.may_negate(q) for layer, q in zip(ordered, locals_)):
            # With no negation in play every verdict is "ignored" or "no opinion", so any match decides.
            if any(layer.ignores(q) for layer, q in zip(ordered, locals_)):
                return True
        else:
            for layer in ordered:
                if (verdict := layer.verdict(query)) is not None:
                    return verdict
        return self.options.use_default_ignores and _default_ignores(rel.rpartition("/")[2], is_dir)

    def _add_file(self, rel: str, real: Path, st: os.stat_result) -> None:
        self.seen_files.add((st.st_dev, st.st_ino))
        if st.st_size > self.options.max_file_bytes:
            self._skip(rel, _too_large(self.options.max_file_bytes, st.st_size))
        else:
            self.out.append(FileEntry(rel, real, st.st_size, st.st_mtime_ns))

    def _skip(self, rel: str, reason: str) -> None:
        self.out.append(Skipped(rel, reason))

    def _count_ignored(self, is_dir: bool) -> None:
        if is_dir:
            self.stats.ignored_dirs += 1
        else:
            self.stats.ignored_files += 1


def _encodable(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
