"""The LangChain tools find_symbol and symbol_neighbours over a real index: the MCP tools' results,
citations the model can quote, and errors it can act on."""

from __future__ import annotations

import json
import shutil

import pytest

pytest.importorskip("langchain_core")

from langchain_core.messages import ToolMessage  # noqa: E402

from groundmcp.engine import Engine  # noqa: E402
from groundmcp.integrations.langchain import groundmcp_tools  # noqa: E402
from groundmcp.settings import Settings  # noqa: E402

from .conftest import STDLIB_JSON  # noqa: E402

pytestmark = pytest.mark.anyio


@pytest.fixture
def tools(tmp_path, hashing_encoder):
    root = tmp_path / "proj"
    shutil.copytree(STDLIB_JSON, root / "json", ignore=shutil.ignore_patterns("__pycache__"))
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    engine.ingest(str(root))
    yield {t.name: t for t in groundmcp_tools(engine)}
    engine.close()


async def test_find_symbol_then_its_neighbours(tools):
    found = json.loads(tools["find_symbol"].invoke({"name": "JSONDecoder.raw_decode"}))
    [match] = found["matches"]
    assert match["kind"] == "method" and match["citation"].startswith("json/decoder.py:")
    assert match["signature"].startswith("def raw_decode(self, s")
    close = json.loads(tools["find_symbol"].invoke({"name": "raw_decod"}))
    assert close["matches"] and "close spellings" in close["note"]

    call = {"type": "tool_call", "id": "n1", "name": "symbol_neighbours", "args": {"symbol": "JSONDecoder.raw_decode"}}
    message = await tools["symbol_neighbours"].ainvoke(call)
    assert isinstance(message, ToolMessage) and message.status == "success"
    data = message.artifact
    assert data["definition"]["citation"] == match["citation"]
    caller = next(c for c in data["callers"] if c["scope"] == "JSONDecoder.decode")
    assert caller["rank"] == "same file" and caller["citation"] in message.content  # what the model reads
    small = tools["symbol_neighbours"].invoke({"symbol": "JSONDecoder", "max_tokens": 200})
    assert len(small) // 4 <= 200 or "left out to fit" in small


async def test_misses_come_back_to_the_model_as_errors(tools):
    message = await tools["symbol_neighbours"].ainvoke(
        {"type": "tool_call", "id": "n2", "name": "symbol_neighbours", "args": {"symbol": "no_such_name_anywhere"}})
    assert message.status == "error" and "no definition named" in message.content and "find_symbol" in message.content
    empty = json.loads(tools["find_symbol"].invoke({"name": "zzzzqqqq"}))
    assert empty["matches"] == [] and "no definition named" in empty["note"]
