"""Collection names: one rule for every backend, so a name that works in one works in all."""

from __future__ import annotations

import re

from groundmcp.errors import InputError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def validate_collection_name(name: str) -> str:
    """Return `name` if it is a valid collection name, else raise InputError saying why."""
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InputError(
            f"invalid collection name {name!r}: use 1-64 characters, letters, digits, '_', '.' "
            "or '-', starting with a letter or digit (e.g. 'docs' or 'my-repo')"
        )
    return name
