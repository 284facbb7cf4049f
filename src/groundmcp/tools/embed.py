"""The `embed` tool: vectors from the server's encoder, for clients that compare texts themselves."""

from __future__ import annotations

from typing import Annotated, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field

from .common import clean_doc, run, state

MAX_TEXTS = 16  # 16 x 384 floats is already ~15k tokens of JSON
MAX_CHARS = 8000


class Embeddings(BaseModel):
    model: str
    dim: int
    kind: str
    vectors: list[list[float]] = Field(description="One unit-length vector per text, in order.")


def register(mcp: MCPServer) -> None:
    @mcp.tool(
        title="Embed texts",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    @clean_doc
    async def embed(
        texts: Annotated[
            list[Annotated[str, Field(max_length=MAX_CHARS)]],
            Field(min_length=1, max_length=MAX_TEXTS, description=f"1 to {MAX_TEXTS} texts to encode."),
        ],
        ctx: Context,
        kind: Annotated[
            Literal["query", "document"],
            Field(description="query for questions/search strings, document for passages."),
        ] = "query",
    ) -> Embeddings:
        """Encode texts with the same model the index uses (cosine similarity = dot product).
        Most tasks need `search`, not this."""
        encoder = await run(lambda: state(ctx).engine.encoder)
        fn = encoder.encode_queries if kind == "query" else encoder.encode_documents
        vectors = await run(fn, texts)
        return Embeddings(
            model=encoder.name,
            dim=encoder.dim,
            kind=kind,
            vectors=[[round(float(x), 6) for x in row] for row in vectors],
        )
