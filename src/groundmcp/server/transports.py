"""Running the server: stdio (the default), or Streamable HTTP with a bearer token."""

from __future__ import annotations

import ipaddress
import logging

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings

from ..errors import InputError
from .auth import BearerAuth

log = logging.getLogger(__name__)

MCP_PATH = "/mcp"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_http_binding(host: str, token: str | None) -> None:
    if not is_loopback(host) and not token:
        raise InputError(
            f"refusing to serve HTTP on {host} without a token: anyone who can reach it could read "
            "the index. Set GROUNDMCP_HTTP_TOKEN (or --token), or bind to 127.0.0.1"
        )


def http_app(mcp: MCPServer, *, host: str, token: str | None, allowed_hosts: list[str] = ()):
    """The Starlette app behind auth. DNS-rebinding protection stays on: loopback hosts always,
    plus the bind address and any `allowed_hosts` (host:port or host:*)."""
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*"]
    if not is_loopback(host) and host not in ("0.0.0.0", "::"):
        hosts.append(f"{host}:*")
    hosts.extend(allowed_hosts)
    security = TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{h}" for h in hosts] + [f"https://{h}" for h in hosts],
    )
    app = mcp.streamable_http_app(streamable_http_path=MCP_PATH, transport_security=security, host=host)
    return BearerAuth(app, token) if token else app


def serve_http(mcp: MCPServer, *, host: str, port: int, token: str | None, allowed_hosts: list[str] = ()) -> None:
    import uvicorn

    check_http_binding(host, token)
    app = http_app(mcp, host=host, token=token, allowed_hosts=list(allowed_hosts))
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
    log.warning("groundmcp serving Streamable HTTP on http://%s:%d%s%s", host, port, MCP_PATH,
                " (bearer token required)" if token else "")
    anyio.run(uvicorn.Server(config).serve)


def serve_stdio(mcp: MCPServer) -> None:
    mcp.run("stdio")
