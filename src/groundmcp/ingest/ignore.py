"""Deciding whether a path under the walk root is ignored.

Ignore rules, highest precedence first (the first layer with an opinion about a path decides, so
negations in a deeper file can re-include what a shallower one excluded, as in git):

1. ``WalkOptions.extra_ignores`` (settings / CLI), relative to the root;
2. ``.groundmcpignore`` then ``.gitignore`` in each directory, deepest directory first;
3. ``.gitignore`` files of the enclosing git work tree above the root, then its ``.git/info/exclude``
   (dropped when the root itself is ignored by them: naming a directory is asking for it);
4. ``DEFAULT_IGNORES`` and ``BINARY_EXTENSIONS`` (unless ``use_default_ignores=False``).

The walker (``walk.py``) applies these layers in that order; this module builds them.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable

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

IGNORE_FILES: tuple[str, ...] = (".gitignore", ".groundmcpignore")  # shallow to deep precedence


def compile_patterns(patterns: Iterable[str]) -> pathspec.GitIgnoreSpec:
    try:
        return pathspec.GitIgnoreSpec.from_lines(list(patterns))
    except ValueError as exc:
        raise InputError(f"extra ignore patterns: {exc}; fix or remove that pattern") from None


def compile_ignore_file(path: str) -> pathspec.GitIgnoreSpec | None:
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


class Layer:
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
def default_ignored(name: str, is_dir: bool) -> bool:
    if is_dir:
        return bool(_DEFAULT_ALL.check_file(name + "/").include)
    if os.path.splitext(name)[1].lower() in BINARY_EXTENSIONS:
        return True
    return bool(_DEFAULT_FILES.check_file(name).include)

def enclosing_layers(root: str) -> tuple[Layer, ...]:
    """Layers from the git work tree that holds ``root``: info/exclude and the .gitignore files above it."""
    top = root
    while not os.path.exists(os.path.join(top, ".git")):
        parent = os.path.dirname(top)
        if parent == top:
            top = root  # not in a work tree: only the root's own files count
            break
        top = parent
    layers: list[Layer] = []
    exclude = compile_ignore_file(os.path.join(top, ".git", "info", "exclude"))
    if exclude is not None:
        layers.append(Layer(exclude, prepend=_rel_dir(root, top)))
    directory = top
    for part in ([] if top == root else os.path.relpath(root, top).split(os.sep)):
        for name in IGNORE_FILES:
            spec = compile_ignore_file(os.path.join(directory, name))
            if spec is not None:
                layers.append(Layer(spec, prepend=_rel_dir(root, directory)))
        directory = os.path.join(directory, part)
    for layer in reversed(layers):
        if layer.prepend and (verdict := layer.verdict("")) is not None:
            if verdict:  # the root itself is ignored from above: naming it overrides that
                return tuple(layer for layer in layers if not layer.prepend)
            break
    return tuple(layers)


def _rel_dir(path: str, start: str) -> str:
    return "" if path == start else os.path.relpath(path, start).replace(os.sep, "/") + "/"

