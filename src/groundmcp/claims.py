"""The grant a request carries, by name: set by the front ends that authenticate or forward
requests (server/auth.py, owner/bridge.py), read by the policy (access.py). It imports nothing of
the engine, so the light front ends (the owner's bridges, the CLI) name the same claims."""

from __future__ import annotations

import json
from collections.abc import Sequence

COLLECTIONS_CLAIM = "groundmcp_collections"  # list of names/globs; absent or None: every collection
ROOTS_CLAIM = "groundmcp_roots"  # list of absolute folders; None: the server's roots
# The roots of the front end that forwarded the request (the owner's stdio and HTTP bridges, a CLI
# command): they stand in for the server's roots, so a bridge limits ingest and file reads as its
# own server would.
FRONT_ROOTS_CLAIM = "groundmcp_front_roots"

GRANT_HEADER = "x-groundmcp-grant"  # a request to the owner: the grant of the client it forwards


def forwarded_grant(collections: Sequence[str] | None, roots: Sequence[str] | None, front_roots: Sequence[str]) -> str:
    """The GRANT_HEADER value for a forwarded request: the caller's collections and roots (None:
    every collection / the front end's roots) and the front end's own roots."""
    return json.dumps({
        COLLECTIONS_CLAIM: None if collections is None else list(collections),
        ROOTS_CLAIM: None if roots is None else list(roots),
        FRONT_ROOTS_CLAIM: list(front_roots),
    })
