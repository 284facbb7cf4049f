"""Errors the engine raises for expected failures.

Every message says what was asked, what was found and what to do about it, so the CLI and the MCP
tools can pass it on to a person or a model unchanged.
"""


class GroundError(Exception):
    """An expected failure with an actionable message."""


class InputError(GroundError):
    """The caller asked for something that cannot be done (missing path, bad argument)."""


class CollectionNotFound(GroundError):
    """The named collection does not exist."""


class IncompatibleCollection(GroundError):
    """The collection was built with another model or dimension than the one in use."""


class StoreLocked(GroundError):
    """Another process holds the embedded store."""
