"""The status page: `GET /` on the HTTP server (in process, or a bridge to the owner), for a person.

One static page and its script (server/static/, no build step) that speak MCP to this same server:
`POST /mcp` JSON-RPC over Streamable HTTP from `fetch`, with the bearer token a login form keeps in
the tab's sessionStorage (initialize, then `resources/read groundmcp://stats` every few seconds, the
`list_collections` and `collection_stats` tools, and the `search` tool). So the page shows exactly
what the tools return, under exactly the token's rights, and there is no second API to keep in step.

The page and its assets are served WITHOUT the token: they hold no data (every figure and hit comes
from a request that bears the token), and a login form must load before anyone has typed one. So
this gate sits outside the bearer-token check and answers only the fixed files below, GET or HEAD;
any other path goes on to the token check. What comes from the corpus is put in the page as text
(DOM textContent), never parsed as HTML; the Content-Security-Policy allows only this server's own
script and style and connections to this origin, so even a slip there would run nothing. The MCP
SDK's Host and Origin checks (server/transports.py) admit the page's same-origin requests and
still refuse a foreign Origin.
"""

from __future__ import annotations

from importlib import resources

PAGE_PATH = "/"
ASSETS = {  # path -> (file in server/static, content type)
    PAGE_PATH: ("index.html", "text/html; charset=utf-8"),
    "/static/status.js": ("status.js", "text/javascript; charset=utf-8"),
    "/static/status.css": ("status.css", "text/css; charset=utf-8"),
}
SECURITY_HEADERS = (
    (b"content-security-policy", b"default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
     b"img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-cache"),
)


def _load() -> dict[str, tuple[bytes, bytes]]:
    static = resources.files(__package__).joinpath("static")
    return {path: (static.joinpath(name).read_bytes(), kind.encode()) for path, (name, kind) in ASSETS.items()}


class StatusPage:
    """ASGI: the page's fixed files for GET/HEAD, everything else to `app` (the token gate)."""

    def __init__(self, app) -> None:
        self.app = app
        self._files = _load()  # read once: a few KB, and a missing file fails at start-up, not at a request

    async def __call__(self, scope, receive, send) -> None:
        found = self._files.get(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        body, kind = found
        headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()), *SECURITY_HEADERS]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body if scope["method"] == "GET" else b""})
