"""Bearer-token authentication for the Streamable HTTP transport (pure ASGI, constant-time).

Each token is a grant: every collection and the server's roots (the single GROUNDMCP_HTTP_TOKEN),
or only the collections its allow-list names and the folders its roots name (GROUNDMCP_HTTP_TOKENS;
none: no ingest by path, no file reads). An accepted request carries the grant in the ASGI scope as
the MCP SDK's `AuthenticatedUser`, so the tools read it from their request (groundmcp/access.py) and the
SDK binds each session to the token that opened it (another token gets 404 for that session id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from mcp.server.auth.middleware.auth_context import AuthContextMiddleware
from mcp.server.auth.middleware.bearer_auth import AuthenticatedUser
from mcp.server.auth.provider import AccessToken

from ..claims import COLLECTIONS_CLAIM, FRONT_ROOTS_CLAIM, GRANT_HEADER, ROOTS_CLAIM
from ..settings import TokenGrant

Grant = TokenGrant | Sequence[str] | None  # None: everything; a list: those collections, no roots


def _json_response(status: int, body: dict, headers: Sequence[tuple[bytes, bytes]] = ()):
    data = json.dumps(body).encode()

    async def respond(send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    *headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    return respond


class BearerAuth:
    """Rejects HTTP requests without `Authorization: Bearer <token>` (a known token) with 401."""

    def __init__(self, app, tokens: str | Mapping[str, Grant]) -> None:
        grants = {tokens: None} if isinstance(tokens, str) else dict(tokens)
        if not grants or not all(grants):
            raise ValueError("an empty bearer token would let anyone in")
        self.app = AuthContextMiddleware(app)
        # Digests of equal length: the comparison time says nothing about a token's length either.
        self._grants = [(hashlib.sha256(t.encode()).digest(), _user(t, c)) for t, c in grants.items()]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            user = self._user(scope)
            if user is None:
                await _json_response(
                    401,
                    {"error": "unauthorized", "message": "send 'Authorization: Bearer <token>' with a "
                     "token this server was started with (GROUNDMCP_HTTP_TOKEN or GROUNDMCP_HTTP_TOKENS)"},
                    [(b"www-authenticate", b'Bearer realm="groundmcp"')],
                )(send)
                return
            scope = {**scope, "user": user}
        await self.app(scope, receive, send)

    def _user(self, scope) -> AuthenticatedUser | None:
        for name, value in scope.get("headers", ()):
            if name == b"authorization":
                scheme, _, given = value.partition(b" ")
                if scheme.lower() != b"bearer":
                    return None
                digest = hashlib.sha256(given.strip()).digest()
                found = None
                for known, user in self._grants:  # no early exit: every token is compared
                    if hmac.compare_digest(known, digest):
                        found = user
                return found
        return None


def _user(token: str, grant: Grant) -> AuthenticatedUser:
    """The SDK's user for a token: named by a fingerprint, so the token itself is kept nowhere."""
    label = "token-" + hashlib.sha256(token.encode()).hexdigest()[:12]
    if grant is None:
        claims = {COLLECTIONS_CLAIM: None, ROOTS_CLAIM: None}
    elif isinstance(grant, TokenGrant):
        claims = {COLLECTIONS_CLAIM: list(grant.collections), ROOTS_CLAIM: [str(Path(r)) for r in grant.roots]}
    else:
        claims = {COLLECTIONS_CLAIM: list(grant), ROOTS_CLAIM: []}
    return AuthenticatedUser(AccessToken(token=label, client_id=label, scopes=[], claims=claims))


class ForwardedGrant:
    """The owner's socket app: requests come from the same user's front ends (the socket is 0600),
    each naming in GRANT_HEADER the grant of the client it forwards (a token's limits, the bridge's
    roots), which the tools then apply as if that client had called them directly. A request
    without the header is the local user with the owner's own roots; a malformed header is 400."""

    def __init__(self, app) -> None:
        self.app = AuthContextMiddleware(app)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            raw = next((v for k, v in scope.get("headers", ()) if k == GRANT_HEADER.encode()), None)
            if raw is not None:
                try:
                    user = forwarded_user(raw)
                except (ValueError, TypeError) as exc:
                    await _json_response(400, {"error": "bad_grant", "message": f"{GRANT_HEADER}: {exc}"})(send)
                    return
                scope = {**scope, "user": user}
        await self.app(scope, receive, send)


def forwarded_user(raw: bytes) -> AuthenticatedUser:
    """The user a forwarded grant (claims.py forwarded_grant, as bytes) stands for: the tools apply
    its claims (access.py). ValueError or TypeError, saying what is wrong, for a malformed one."""
    claims = _grant_claims(json.loads(raw))
    label = "front-" + hashlib.sha256(raw).hexdigest()[:12]
    return AuthenticatedUser(AccessToken(token=label, client_id=label, scopes=[], claims=claims))


class OwnerToken:
    """A loopback owner's gate (owner/endpoint.py): any local process can connect to 127.0.0.1, so
    every request must bear `Authorization: Bearer <token>` with the token the owner wrote to its
    private endpoint file; 401 otherwise, the token compared in constant time. It only admits:
    whose request it is, is said by the grant header behind it (ForwardedGrant), as on the Unix
    socket, so it sets no user of its own (a full-access one would stand in for a limited grant)."""

    def __init__(self, app, token: str) -> None:
        if not token:
            raise ValueError("an empty owner token would let any local process in")
        self.app = app
        self._digest = hashlib.sha256(token.encode()).digest()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})  # the owner serves none
            return
        if scope["type"] == "http" and not self._admits(scope):
            await _json_response(
                401,
                {"error": "unauthorized", "message": "this is a groundmcp owner's private endpoint: send "
                 "'Authorization: Bearer <token>' with the token in owner.endpoint in its data dir"},
                [(b"www-authenticate", b'Bearer realm="groundmcp-owner"')],
            )(send)
            return
        await self.app(scope, receive, send)

    def _admits(self, scope) -> bool:
        given = next((v for k, v in scope.get("headers", ()) if k == b"authorization"), b"")
        scheme, _, token = given.partition(b" ")
        digest = hashlib.sha256(token.strip()).digest()  # compared even when the scheme is wrong
        return hmac.compare_digest(digest, self._digest) and scheme.lower() == b"bearer"


def _grant_claims(data) -> dict:
    if not isinstance(data, dict):
        raise TypeError("expected a JSON object")
    claims = {}
    for key in (COLLECTIONS_CLAIM, ROOTS_CLAIM, FRONT_ROOTS_CLAIM):
        value = data.get(key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise TypeError(f"{key} must be null or a list of strings")
        if value is not None and key != COLLECTIONS_CLAIM and not all(Path(v).is_absolute() for v in value):
            raise ValueError(f"{key} must hold absolute paths")
        claims[key] = value
    if claims[FRONT_ROOTS_CLAIM] is None:
        del claims[FRONT_ROOTS_CLAIM]
    return claims


class BodyLimit:
    """413 for a request whose Content-Length is over `max_bytes`, with a JSON-RPC error that says
    what to do. Bodies sent without a length (chunked) are capped by the MCP SDK at the same size."""

    def __init__(self, app, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            for name, value in scope.get("headers", ()):
                if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                    message = (f"the request body is {int(value)} bytes; this server accepts at most "
                               f"{self.max_bytes} (GROUNDMCP_HTTP_MAX_BODY_BYTES). Send fewer or shorter "
                               "texts per call, or ingest files by path")
                    # A JSON-RPC error (id null: the body was not read), which an MCP client shows as
                    # the answer to its request; the SDK's shows any other 413 body as "Server
                    # returned an error response". "message" too, for a plain HTTP reader.
                    await _json_response(413, {"jsonrpc": "2.0", "id": None, "error": {
                        "code": -32600, "message": message, "data": {"reason": "request_too_large"}},
                        "message": message})(send)
                    return
        await self.app(scope, receive, send)
