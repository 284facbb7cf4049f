"""`POST /v1/embeddings`: this server's encoder behind the OpenAI embeddings API, so one machine
(with a GPU, say) encodes for a team: another groundmcp sets GROUNDMCP_MODEL=openai:<this model>
and GROUNDMCP_OPENAI_BASE_URL=http://this-host:port/v1 (encoders/openai_compat.py).

Body: {"input": str | list[str], "model": str, "encoding_format": "float" | "base64"}; answer:
{"object": "list", "data": [{"object": "embedding", "index": i, "embedding": [...]}], "model",
"usage": {"prompt_tokens", "total_tokens"}}. `model` must name the model this server runs (any
name it answers to), so a collection built through it never mixes models. Errors are OpenAI's
shape, {"error": {"message", "type", "param", "code"}}: 400 for a bad request (at most
MAX_INPUTS inputs, each at most MAX_INPUT_CHARS characters), 404 for another model.

The route sits behind whatever gates the app: the bearer token over HTTP (any token: it reads
no collection), the socket or the owner's token on the owner; an HTTP bridge forwards it to its
owner (owner/bridge.py). Encoding runs on a worker thread, never on the event loop.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import anyio
import numpy as np
from mcp.server.mcpserver import MCPServer
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..access import AppState
from ..errors import GroundError

EMBEDDINGS_PATH = "/v1/embeddings"
MAX_INPUTS = 2048
MAX_INPUT_CHARS = 32_000


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None, status: int = 400, code: str | None = None) -> None:
        super().__init__(message)
        self.param, self.status, self.code = param, status, code


def error_response(message: str, status: int, *, param: str | None = None, code: str | None = None) -> Response:
    kind = "invalid_request_error" if status < 500 else "server_error"
    return JSONResponse({"error": {"message": message, "type": kind, "param": param, "code": code}}, status)


def served_names(model: str) -> set[str]:
    """The names a request may give for the model `model` configures."""
    from ..encoders.sentence_transformers import BUNDLED_ALIASES, canonical_name

    name = canonical_name(model)
    return {model, name} | (set(BUNDLED_ALIASES) if name in BUNDLED_ALIASES else set())


def parse(body: Any, model: str) -> tuple[list[str], str]:
    """The texts and encoding format of a request body; BadRequest says what is wrong."""
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object: {\"input\": [...], \"model\": ...}")
    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts:
        raise BadRequest("'input' must be a string or a non-empty list of strings", "input")
    if not all(isinstance(t, str) for t in texts):
        raise BadRequest("'input' must hold strings: token-id arrays are not supported here", "input")
    if len(texts) > MAX_INPUTS:
        raise BadRequest(f"'input' holds {len(texts)} texts; send at most {MAX_INPUTS} per request", "input")
    longest = max(range(len(texts)), key=lambda i: len(texts[i]))
    if len(texts[longest]) > MAX_INPUT_CHARS:
        raise BadRequest(f"input {longest} has {len(texts[longest])} characters; at most {MAX_INPUT_CHARS} "
                         "per input: split it", "input")
    asked = body.get("model")
    if asked is not None and asked not in served_names(model):
        raise BadRequest(f"this server encodes with {model!r}, not {asked!r}: ask for {model!r} "
                         f"(GROUNDMCP_MODEL=openai:{model} on the client)", "model", 404, "model_not_found")
    fmt = body.get("encoding_format") or "float"
    if fmt not in ("float", "base64"):
        raise BadRequest("'encoding_format' must be 'float' or 'base64'", "encoding_format")
    if body.get("dimensions") is not None:
        raise BadRequest("'dimensions' is not supported: this model's vectors have one size", "dimensions")
    return texts, fmt


def answer(vectors: np.ndarray, fmt: str, model: str, tokens: int) -> dict[str, Any]:
    def encoded(v: np.ndarray):
        return base64.b64encode(v.astype("<f4").tobytes()).decode() if fmt == "base64" else v.tolist()

    return {
        "object": "list",
        "data": [{"object": "embedding", "index": i, "embedding": encoded(v)} for i, v in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def register(mcp: MCPServer, current: Callable[[], AppState | None]) -> None:
    """Serve POST /v1/embeddings on `mcp`'s HTTP app with the engine of `current()`, the AppState
    while the server runs (None before its lifespan has opened the engine)."""

    @mcp.custom_route(EMBEDDINGS_PATH, methods=["POST"], include_in_schema=False)
    async def embeddings(request: Request) -> Response:
        state = current()
        if state is None:
            return error_response("the server is starting; try again", 503)
        model = state.settings.model
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error_response("the body is not JSON", 400)
        try:
            texts, fmt = parse(body, model)
        except BadRequest as exc:
            return error_response(str(exc), exc.status, param=exc.param, code=exc.code)

        def encode() -> tuple[np.ndarray, int, str]:
            encoder = state.engine.encoder
            vectors = encoder.encode_documents(texts)
            return vectors, sum(encoder.count_tokens(t) for t in texts), encoder.name

        try:
            vectors, tokens, name = await anyio.to_thread.run_sync(encode)
        except GroundError as exc:
            return error_response(f"the encoder failed: {exc}", 500)
        return JSONResponse(answer(vectors, fmt, name, tokens))
