"""langchain-mcp-adapters with groundmcp, each in its own virtualenv.

langchain-mcp-adapters requires mcp<2 and groundmcp requires mcp>=2, so the two cannot share a
virtualenv. They need not: the adapter starts `groundmcp serve` as a subprocess over stdio (or
connects to a running `groundmcp serve --http`), and MCP is the same protocol on both sides.
This file runs in the adapter's environment and imports nothing from groundmcp (its name must not
be `langchain_mcp_adapters.py`, which would shadow the package).

    python -m venv .venv-adapters
    .venv-adapters/bin/pip install -r examples/requirements-adapters.txt
    .venv-adapters/bin/python examples/langchain_adapters_client.py \\
        --server .venv/bin/groundmcp --collection groundmcp "How are failed requests retried?"

    # or against one running `groundmcp serve --http`:
    .venv-adapters/bin/python examples/langchain_adapters_client.py \\
        --url http://127.0.0.1:8765/mcp --token "$GROUNDMCP_HTTP_TOKEN" "How are failed requests retried?"

The tools it loads are ordinary LangChain tools: hand them to any agent
(`langchain.agents.create_agent(model, tools)`, LangGraph's `create_react_agent`, ...).
"""

from __future__ import annotations

import argparse
import asyncio
import os

from langchain_mcp_adapters.client import MultiServerMCPClient


def connection(server: str, root: str | None, url: str | None, token: str | None) -> dict:
    if url:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return {"transport": "streamable_http", "url": url, "headers": headers}
    env = {k: v for k, v in os.environ.items() if k.startswith("GROUNDMCP_")}
    args = ["serve"] + (["--root", root] if root else [])
    return {"transport": "stdio", "command": server, "args": args, "env": env}


def text_of(content) -> str:
    """A tool result's text, whether the adapter returns a string or content blocks."""
    if isinstance(content, str):
        return content
    return "\n".join(block.get("text", "") if isinstance(block, dict) else str(block) for block in content)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("question")
    parser.add_argument("--server", default="groundmcp", help="the groundmcp executable (in groundmcp's venv)")
    parser.add_argument("--root", help="folder the server's ingest tool may index")
    parser.add_argument("--url", help="a running `groundmcp serve --http` instead of a subprocess")
    parser.add_argument("--token", default=os.environ.get("GROUNDMCP_HTTP_TOKEN"), help="its bearer token")
    parser.add_argument("--collection", help="collection to search (default: the server's default)")
    opts = parser.parse_args()

    client = MultiServerMCPClient({"groundmcp": connection(opts.server, opts.root, opts.url, opts.token)})
    tools = await client.get_tools()
    print("tools:", ", ".join(sorted(t.name for t in tools)))
    search = next(t for t in tools if t.name == "search")
    arguments = {"query": opts.question, "top_k": 3} | ({"collection": opts.collection} if opts.collection else {})
    print(text_of(await search.ainvoke(arguments)))


if __name__ == "__main__":
    asyncio.run(main())
