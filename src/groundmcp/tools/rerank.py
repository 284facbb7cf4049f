"""The `rerank` tool: order given candidates (texts or chunk ids) by relevance to a query."""

from __future__ import annotations

from typing import Annotated

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from .common import COLLECTION_DESCRIPTION, MAX_NAME, clean_doc, run, state, use_collection

MAX_CANDIDATES = 100
MAX_CHARS = 8000


class Ranked(BaseModel):
    index: int = Field(description="Position of the candidate in the input list (0-based).")
    score: float = Field(description="Reranker score: higher is better; comparable within one call.")
    id: str | None = Field(None, description="The chunk id, when chunk ids were given.")
    citation: str | None = Field(None, description="path:start-end, when chunk ids were given.")


class RerankResult(BaseModel):
    reranker: str
    query: str
    results: list[Ranked]


def register(mcp: MCPServer) -> None:
    @mcp.tool(
        title="Rerank candidates",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    @clean_doc
    async def rerank(
        query: Annotated[str, Field(min_length=1, max_length=2000, description="The question or need.")],
        ctx: Context,
        documents: Annotated[
            list[Annotated[str, Field(max_length=MAX_CHARS)]] | None,
            Field(max_length=MAX_CANDIDATES, description="Candidate texts, best first if already ranked."),
        ] = None,
        chunk_ids: Annotated[
            list[Annotated[str, Field(max_length=64)]] | None,
            Field(max_length=MAX_CANDIDATES, description="Chunk ids from search results, instead of texts."),
        ] = None,
        collection: Annotated[str | None, Field(max_length=MAX_NAME, description=COLLECTION_DESCRIPTION)] = None,
        top_k: Annotated[int, Field(ge=1, le=MAX_CANDIDATES, description="How many to return.")] = 10,
    ) -> RerankResult:
        """Score candidates against a query with the server's reranker and return them best
        first. Give either `documents` (texts) or `chunk_ids` (from `search`). The default
        offline reranker fuses late-interaction scores with the order the candidates arrive in,
        so pass them in first-stage order; chunks that are mostly prose are ordered by the
        late-interaction scores alone. `search(rerank=true)` does this in one call."""
        if (documents is None) == (chunk_ids is None) or not (documents or chunk_ids):
            raise ToolError("give a non-empty list in exactly one of `documents` or `chunk_ids`")
        app = state(ctx)
        name = await use_collection(ctx, collection) if chunk_ids is not None else None
        reranker = await run(lambda: app.engine.reranker)
        if reranker is None:
            raise ToolError("the reranker is 'none' on this server; set GROUNDMCP_RERANKER to enable rerank")
        hits = None
        if chunk_ids is not None:
            hits = await run(app.engine.chunks, name, chunk_ids)
            texts = [h.embed_text for h in hits]
        else:
            texts = list(documents or [])
        order = await run(reranker.rerank, query, texts, top_k, [h.kind for h in hits] if hits else None)
        results = [
            Ranked(
                index=i,
                score=round(float(score), 6),
                id=hits[i].id if hits else None,
                citation=hits[i].citation if hits else None,
            )
            for i, score in order
        ]
        return RerankResult(reranker=reranker.name, query=query, results=results)
