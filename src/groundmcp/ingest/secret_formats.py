"""What a file means, for the secret scan: its format by name, and a notebook's decoded texts.

A notebook (``.ipynb``) is JSON, so a password in a code cell is stored as
``"password = \\"...\\"\\n"``, which no pattern for code sees, and an environment dump in an output is
one long JSON string. ``notebook_pieces`` decodes it into its cells' sources and its outputs (stream
text, ``text/plain`` and other text data, error tracebacks without their colour codes), and maps a
line of a piece back to the line of the ``.ipynb`` file that holds it.

Config formats (YAML, INI/cfg/conf, TOML, properties, ``.env``-like, JSON) are scanned as text, and
their values also count unquoted (``secret_values.config_secret``).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

_TEMPLATE_SUFFIXES = (
    ".example",
    ".sample",
    ".template",
    ".dist",
    ".defaults",
    ".tpl",
    ".orig",
    ".bak",
    ".local",
)
_BY_EXTENSION = {
    ".ipynb": "notebook",
    ".yaml": "yaml",
    ".yml": "yaml",
    ".ini": "ini",
    ".cfg": "ini",
    ".conf": "ini",
    ".cnf": "ini",
    ".toml": "toml",
    ".properties": "properties",
    ".json": "json",
    ".jsonc": "json",
    ".json5": "json",
    ".env": "env",
    ".envrc": "env",
}
_SHELL = ("", ".sh", ".bash", ".zsh", ".fish", ".ps1", ".bat", ".cmd")
CONFIG_FORMATS = frozenset({"yaml", "ini", "toml", "properties", "env", "json"})


def file_format(path: str) -> str:
    """The format the file name says: notebook, yaml, ini, toml, properties, env, json or text.
    Template suffixes are looked through (``config.yaml.example`` is yaml, ``.env.example`` env);
    ``.env*``, ``*.env``, ``env.sh``, ``setenv.sh`` and the like are env."""
    name = posixpath.basename(path.replace("\\", "/")).lower()
    while name.endswith(_TEMPLATE_SUFFIXES) and "." in name[1:]:
        name = name[: name.rindex(".")]
    if name.startswith(".env"):
        return "env"
    stem, ext = posixpath.splitext(name)
    if ext in _BY_EXTENSION:
        return _BY_EXTENSION[ext]
    if ext in _SHELL and (stem.endswith("env") or stem in ("environment", "envvars", "secrets")):
        return "env"
    return "text"


@dataclass(frozen=True, slots=True)
class Piece:
    """A decoded text of a file: a cell's source, or one output."""

    text: str
    data: bool  # an output (data, so values count unquoted), not code
    line: Callable[[int], int]  # a 1-based line of `text` -> the file's line that holds it


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TEXT_DATA = (
    "text/plain",
    "text/markdown",
    "text/html",
    "text/latex",
    "application/json",
    "application/javascript",
)


def notebook_pieces(raw: str) -> Iterator[Piece]:
    """The cells' sources and outputs of the notebook whose JSON is ``raw``; nothing if it is not
    a notebook (the caller has scanned the raw text anyway)."""
    try:
        notebook = json.loads(raw)
    except ValueError:
        return
    if not isinstance(notebook, dict):
        return
    cells = notebook.get("cells")
    if cells is None:  # nbformat 3
        sheets = notebook.get("worksheets")
        cells = (
            [c for s in sheets if isinstance(s, dict) for c in s.get("cells") or []] if isinstance(sheets, list) else []
        )
    locate = _Locator(raw)
    for cell in cells if isinstance(cells, list) else ():
        if not isinstance(cell, dict):
            continue
        source = _text(cell.get("source", cell.get("input")))
        yield Piece(source, False, locate.for_text(source))
        for output in cell.get("outputs") or ():
            if isinstance(output, dict):
                for text in _output_texts(output):
                    yield Piece(text, True, locate.for_text(text))


def _output_texts(output: dict) -> Iterator[str]:
    yield _text(output.get("text"))
    data = output.get("data")
    if isinstance(data, dict):
        for mime in _TEXT_DATA:
            value = data.get(mime)
            yield (json.dumps(value, indent=1) if isinstance(value, dict) else _text(value))
    traceback = output.get("traceback")
    if isinstance(traceback, list):
        yield _ANSI.sub("", "\n".join(t for t in traceback if isinstance(t, str)))
    yield _ANSI.sub("", _text(output.get("evalue")))


def _text(value: object) -> str:
    """nbformat's multi-line string: a string, or a list of lines each ending in a newline."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(v for v in value if isinstance(v, str))
    return ""


class _Locator:
    """Finds the line of the ``.ipynb`` file that holds a line of a decoded text: the line as JSON
    writes it (with and without non-ASCII escaped), else its longest word; else line 1."""

    def __init__(self, raw: str) -> None:
        self.raw = raw

    def for_text(self, text: str) -> Callable[[int], int]:
        return lambda line: self.line_of(text.split("\n")[line - 1] if text else "")

    def line_of(self, line: str) -> int:
        line = line.rstrip("\r")
        words = sorted(line.split(), key=len, reverse=True)[:1]
        for needle in (line, *words):
            for ascii_only in (False, True):
                encoded = json.dumps(needle, ensure_ascii=ascii_only)[1:-1]
                if len(encoded) >= 4 and (at := self.raw.find(encoded)) != -1:
                    return self.raw.count("\n", 0, at) + 1
        return 1
