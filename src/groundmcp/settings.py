"""All configuration in one place: `GROUNDMCP_*` environment variables, overridable by CLI flags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .defaults import DEFAULT_COLLECTION, DEFAULT_MODEL, default_data_dir

DEFAULT_HTTP_MAX_BODY_BYTES = 4 * 1024 * 1024
"""The MCP SDK's own default: room for an `ingest(texts=...)` call holding a file at the default
file-size limit (2 MB) as JSON, little enough that a few requests cannot exhaust memory."""

class TokenGrant(BaseModel):
    """What one collection-limited bearer token may touch: its collections (names or globs), and the
    folders under which it may ingest by path and read files (none: no path ingest, no file reads).
    A root must also lie under the server's own roots to be usable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collections: list[str]
    roots: list[Path] = Field(default_factory=list)

    @field_validator("roots")
    @classmethod
    def _absolute(cls, roots: list[Path]) -> list[Path]:
        out = [Path(os.path.expanduser(r)) for r in roots]
        for r in out:
            if not r.is_absolute():
                raise ValueError(
                    f"token root {str(r)!r} is relative: give each root in GROUNDMCP_HTTP_TOKENS as an "
                    "absolute folder path"
                )
        return out


class Settings(BaseSettings):
    """groundmcp settings. Every field is also an environment variable `GROUNDMCP_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="GROUNDMCP_", extra="ignore")

    # Where things live
    data_dir: Path = Field(default_factory=default_data_dir, description="Index and state directory.")
    collection: str = Field(DEFAULT_COLLECTION, description="Collection used when none is named.")
    qdrant_url: str | None = Field(None, description="Qdrant server or cluster URL; unset = embedded.")
    qdrant_api_key: str | None = Field(None, repr=False, description="API key for the Qdrant server.")
    qdrant_local_path: Path | None = Field(
        None, description="Use qdrant-client's local mode at this path (testing the server code path)."
    )

    # Encoder
    model: str = Field(DEFAULT_MODEL, description="Hugging Face model name or local path.")
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    precision: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    batch_size: int = Field(32, ge=1, le=4096)
    release_memory: bool = Field(
        True,
        description="Give memory back to the OS after each batch encode (glibc: a fixed mmap "
        "threshold and malloc_trim). Off keeps the allocator's defaults: no faster, and about "
        "0.8 GB more resident after an ingest of 4,741 passages (docs/benchmarks.md).",
    )
    encoder_backend: Literal["auto", "sentence-transformers"] = Field(
        "auto",
        description="auto: a local BERT sentence-transformers model on the CPU (the bundled one) runs "
        "in plain torch (encoders/bert.py), without importing sentence-transformers (about 190 MB "
        "less resident, same vectors); other models and devices use sentence-transformers.",
    )
    single_text_runtime: Literal["auto", "torch"] = Field(
        "auto",
        description="auto: where the model runs in plain torch on the CPU, a lone text (a query, a "
        "note ingested alone) runs on ONNX Runtime over the same weights (encoders/onnx_single.py; "
        "in float32, also for a bfloat16 model): its GEMM uses every core for a text this short, "
        "about half torch's time, for some 80 MB more resident (a bf16 model: 120 MB, with the "
        "float32 copy of its layers); torch: keep single texts on torch's traced graph.",
    )
    # An OpenAI-compatible embeddings endpoint, for GROUNDMCP_MODEL=openai:<model> (encoders/openai_compat.py)
    openai_base_url: str | None = Field(
        None, description="OpenAI-compatible API base, ending in /v1 (Ollama, vLLM, TEI, LM Studio, Azure, "
        "a groundmcp server); unset = https://api.openai.com/v1.",
    )
    openai_api_key: SecretStr | None = Field(None, description="Key for that endpoint; never printed or logged.")
    openai_batch_size: int = Field(96, ge=1, le=2048, description="Texts per embeddings request.")
    openai_timeout_s: float = Field(60.0, gt=0, description="Seconds to wait for one request's answer.")
    openai_max_retries: int = Field(
        4, ge=0, le=20, description="Retries of a request answered 429 (its Retry-After honoured) or 5xx, or timed out."
    )
    openai_max_input_tokens: int = Field(
        8191, ge=16, description="The endpoint's token limit per input; longer inputs are cut to 2 characters "
        "a token of it.",
    )

    # Chunking and ingest
    chunk_tokens: int = Field(256, ge=32, le=8192, description="Chunk size in encoder tokens.")
    chunk_overlap: int = Field(32, ge=0, description="Overlap between split chunks, in tokens.")
    max_file_bytes: int = Field(2_000_000, ge=1, description="Larger files are skipped.")
    token_signatures: bool = Field(
        True,
        description="Keep each prose chunk's token signature (one bit a dimension a token, about 9 KB a "
        "chunk: encoders/token_signs.py), which orders prose hits by late interaction on every search "
        "(docs nDCG@10 0.5719 -> 0.6016); false: prose takes about a third of the disk, searches keep "
        "the fused order. A change re-encodes prose files on their next ingest.",
    )
    ignore: list[str] = Field(default_factory=list, description="Extra gitignore-style patterns.")

    # Search (top_k and the mode are per request: the tools' and the CLI's arguments)
    reranker: str = Field(
        "late-interaction",
        description="late-interaction (offline, the default), cross-encoder[:NAME-OR-PATH] or none.",
    )
    lift_definitions: bool = Field(
        True, description="A search whose query names an identifier (parse_header, Console.size, getUser()) "
        "puts that identifier's definition first (search/lift.py).",
    )
    query_cache_entries: int = Field(
        4096, ge=0, description="Query vectors the process remembers (search/query_cache.py), shared by "
        "every client; 0 turns the cache off. 4,096 MiniLM vectors take about 7 MB.",
    )
    query_cache_bytes: int = Field(32_000_000, ge=0, description="The query-vector cache's size bound in bytes.")

    # Server
    roots: list[Path] = Field(
        default_factory=list,
        description="Folders the MCP ingest tool and file resources may touch (default: the "
        "current directory at start-up).",
    )
    http_host: str = Field("127.0.0.1", description="Streamable HTTP bind address.")
    http_port: int = Field(8765, ge=1, le=65535)
    http_token: str | None = Field(
        None, repr=False, description="Bearer token required over HTTP; mandatory when binding beyond "
        "loopback (or http_tokens). It may use every collection."
    )
    http_tokens: dict[str, TokenGrant] = Field(
        default_factory=dict,
        repr=False,
        description="More bearer tokens, each limited to some collections and folders: JSON {token: "
        "{\"collections\": [name or glob, ...], \"roots\": [folder, ...]}}, or {token: [name or glob, "
        "...]} for a token with no folders. Tools refuse other collections, list_collections shows "
        "only these, and ingest by path and file reads are limited to the token's roots (a token "
        "without roots may do neither).",
    )
    http_max_body_bytes: int = Field(
        DEFAULT_HTTP_MAX_BODY_BYTES, ge=1024, description="Larger HTTP request bodies get 413."
    )
    http_header_timeout_s: float = Field(
        10.0, gt=0, le=3600, description="An HTTP request's head must arrive within this many seconds of "
        "the connection opening (or of the previous response); slower clients are disconnected."
    )
    http_body_timeout_s: float = Field(
        60.0, gt=0, le=3600, description="An HTTP request's body must arrive within this many seconds of "
        "its head. Responses are never timed: SSE streams and long tool calls stay open."
    )
    http_max_connections: int = Field(
        1000, ge=1, description="Open HTTP connections at most; past it the one waiting longest for "
        "its request head is closed, or the new one if all are serving requests."
    )
    watch: bool = Field(
        True, description="While a server runs, re-ingest each collection's folders when files under "
        "them change (saves, checkouts, .gitignore edits); false turns watching off."
    )
    watch_exclude: list[str] = Field(
        default_factory=list, description="Collections (names or globs, JSON list) the server does not "
        "watch, e.g. [\"scratch-*\"]."
    )
    owner: bool = Field(
        True, description="CLI searches and listings of the embedded store go through the data dir's "
        "resident owner process (started on first use; the model loads once); false runs them in "
        "the CLI's own process, as --no-owner does."
    )
    owner_idle_s: float = Field(
        300.0, gt=0, description="The owner exits, with the store closed, after this many seconds "
        "without a request."
    )
    owner_transport: Literal["auto", "unix", "loopback"] = Field(
        "auto", description="How clients reach the owner (owner/endpoint.py). auto: its Unix socket "
        "(0600, in the data dir) where the system has them and the path fits, else loopback; loopback: "
        "127.0.0.1 on a free port, each request bearing the token from <data dir>/owner.endpoint "
        "(0600), the only transport on Windows. Clients follow whichever the running owner serves."
    )

    @field_validator("http_tokens", mode="before")
    @classmethod
    def _grants(cls, value: object) -> object:
        """The list form ({token: [collections]}) is a grant with no roots."""
        if isinstance(value, dict):
            return {t: {"collections": g} if isinstance(g, (list, tuple)) else g for t, g in value.items()}
        return value

    @model_validator(mode="after")
    def _reject_contradictions(self) -> Settings:
        if self.qdrant_url and self.qdrant_local_path:
            raise ValueError(
                "both qdrant_url and qdrant_local_path are set: drop GROUNDMCP_QDRANT_LOCAL_PATH to "
                "use the server, or drop GROUNDMCP_QDRANT_URL to use local mode"
            )
        if self.qdrant_api_key and not self.qdrant_url:
            raise ValueError(
                "qdrant_api_key is set without qdrant_url: the embedded store takes no key; "
                "set GROUNDMCP_QDRANT_URL or drop GROUNDMCP_QDRANT_API_KEY"
            )
        if self.precision == "float16" and self.device in ("cpu", "mps"):
            raise ValueError(
                f"precision float16 is for CUDA, but device is {self.device}: drop "
                "GROUNDMCP_PRECISION (auto picks bfloat16 on CPUs that support it) or set device=cuda"
            )
        for token, grant in self.http_tokens.items():
            collections = grant.collections
            if not token.strip() or token != token.strip() or " " in token:
                raise ValueError(
                    "GROUNDMCP_HTTP_TOKENS has an empty token or one with spaces: give each token as "
                    "one word"
                )
            if token == self.http_token:
                raise ValueError(
                    "a token is both GROUNDMCP_HTTP_TOKEN (every collection) and in "
                    "GROUNDMCP_HTTP_TOKENS (some collections): drop it from one of them"
                )
            if not collections or not all(c.strip() for c in collections):
                raise ValueError(
                    "each token in GROUNDMCP_HTTP_TOKENS needs a non-empty list of collection names or "
                    "globs (e.g. [\"team-a\", \"team-a-*\"]); drop a token that should see nothing"
                )
        if self.chunk_overlap >= self.chunk_tokens // 2:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be under half of chunk_tokens "
                f"({self.chunk_tokens}): lower GROUNDMCP_CHUNK_OVERLAP or raise GROUNDMCP_CHUNK_TOKENS"
            )
        return self
