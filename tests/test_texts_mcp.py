"""ingest(texts=...) through the MCP client: a text's path or language reaches the chunker, code
sent without either is recognised, and a bad path is a tool error that says what to give."""

from __future__ import annotations

import pytest
from mcp import Client

pytestmark = pytest.mark.anyio

CODE = "def retry_with_backoff(call, attempts=5):\n    for n in range(attempts):\n        call()\n"


async def test_texts_carry_a_path_or_language_and_code_is_recognised(hashing_server):
    texts = [
        {"id": "a", "text": CODE, "path": "lib/retry.py"},
        {"id": "b", "text": CODE, "language": "python"},
        {"id": "c", "text": CODE},
        {"id": "d", "text": "Parcels ship from Rotterdam every Tuesday."},
    ]
    async with Client(hashing_server) as client:
        done = await client.call_tool("ingest", {"texts": texts, "collection": "notes"})
        assert not done.is_error and done.structured_content["added"] == 4
        found = await client.call_tool("search", {"query": "retry_with_backoff", "collection": "notes", "top_k": 10})
        bad = await client.call_tool("ingest", {"texts": [{"id": "x", "text": "y", "path": "../up.py"}]})
    hits = found.structured_content["hits"]
    assert {h["path"] for h in hits if h["kind"] == "code"} == {"lib/retry.py", "b.py", "c.py"}
    assert all(h["symbol"] == "retry_with_backoff" for h in hits if h["kind"] == "code")
    assert bad.is_error and "not a relative file name" in bad.content[0].text
