"""Scripted models for the client-SDK examples: no network, no API key.

Each plays a model's two turns through the SDK's own HTTP transport hook (`httpx2.MockTransport`,
what `http_client=` accepts), or as a local HTTP server for an SDK pointed at it by its base-URL
variable. First it calls `search`, then it answers citing the first `path:start-end` it finds
in the tool result it was sent. It records every request, so a test can
check what reached the model. Only the model is scripted: the SDKs, their MCP helpers, the MCP
transport and groundmcp are all real.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx2
from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult

CITATION = re.compile(r"[\w./-]+\.\w+:\d+-\d+")


def first_citation(text: str) -> str:
    found = CITATION.search(text)
    assert found, f"no path:start-end citation reached the model in: {text[:500]!r}"
    return found.group(0)


def answer_for(citation: str) -> str:
    return f"Failed calls are retried with exponential backoff [{citation}]."


class ScriptedModel:
    """One scripted conversation over one wire format ('anthropic', 'chat' or 'responses')."""

    def __init__(self, api: str, query: str) -> None:
        self.api = api
        self.query = query
        self.requests: list[dict[str, Any]] = []
        self.tool_results: list[str] = []  # the tool output text each later turn was sent
        self.answer: str | None = None

    def http_client(self) -> httpx2.AsyncClient:
        return httpx2.AsyncClient(transport=httpx2.MockTransport(self._handle))

    @property
    def offered_tools(self) -> dict[str, dict]:
        """Tool name -> its input schema, as the first request offered them to the model."""
        tools = self.requests[0]["tools"]
        if self.api == "anthropic":
            return {t["name"]: t["input_schema"] for t in tools}
        if self.api == "chat":
            return {t["function"]["name"]: t["function"]["parameters"] for t in tools}
        return {t["name"]: t["parameters"] for t in tools if t.get("type") == "function"}

    @contextmanager
    def serve(self) -> Iterator[str]:
        """The same script as a local HTTP server, for code that only takes a base URL (an example's
        main(), which builds its own client from ANTHROPIC_BASE_URL / OPENAI_BASE_URL). Yields
        the root URL: Anthropic's base URL; OpenAI's is it plus /v1."""
        model = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                data = json.dumps(model._respond(body)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
            thread.join()

    def _handle(self, request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=self._respond(json.loads(request.content)))

    def _respond(self, body: dict) -> dict:
        self.requests.append(body)
        result = self._tool_result(body)
        if result is None:
            return self._call_search(body)
        self.tool_results.append(result)
        self.answer = answer_for(first_citation(result))
        return self._final(body)

    def _tool_result(self, body: dict) -> str | None:
        if self.api == "anthropic":
            blocks = [b for m in body["messages"] if isinstance(m["content"], list) for b in m["content"]
                      if b.get("type") == "tool_result"]
            return json.dumps(blocks[-1]["content"]) if blocks else None
        if self.api == "chat":
            tools = [m for m in body["messages"] if m["role"] == "tool"]
            return tools[-1]["content"] if tools else None
        items = [i for i in body["input"] if isinstance(i, dict) and i.get("type") == "function_call_output"] \
            if isinstance(body["input"], list) else []
        return json.dumps(items[-1]["output"]) if items else None

    def _call_search(self, body: dict) -> dict:
        args = {"query": self.query, "top_k": 3}
        if self.api == "anthropic":
            use = {"type": "tool_use", "id": "toolu_1", "name": "search", "input": args}
            return _anthropic(body, [use], "tool_use")
        if self.api == "chat":
            call = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": json.dumps(args)}}
            return _chat(body, {"role": "assistant", "content": None, "tool_calls": [call]}, "tool_calls")
        item = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "search",
                "arguments": json.dumps(args), "status": "completed"}
        return _responses(body, [item])

    def _final(self, body: dict) -> dict:
        if self.api == "anthropic":
            return _anthropic(body, [{"type": "text", "text": self.answer}], "end_turn")
        if self.api == "chat":
            return _chat(body, {"role": "assistant", "content": self.answer}, "stop")
        item = {"type": "message", "id": "msg_2", "role": "assistant", "status": "completed",
                "content": [{"type": "output_text", "text": self.answer, "annotations": []}]}
        return _responses(body, [item])


def _anthropic(body: dict, content: list, stop: str) -> dict:
    return {"id": f"msg_{stop}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 10}}


def _chat(body: dict, message: dict, finish: str) -> dict:
    return {"id": f"chatcmpl-{finish}", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "finish_reason": finish, "message": message}]}


def _responses(body: dict, output: list) -> dict:
    return {"id": f"resp_{output[0]['id']}", "object": "response", "created_at": 0, "model": body["model"],
            "status": "completed", "output": output, "parallel_tool_calls": True, "tool_choice": "auto",
            "tools": [], "usage": {"input_tokens": 10, "output_tokens": 10, "total_tokens": 20,
                                   "input_tokens_details": {"cached_tokens": 0},
                                   "output_tokens_details": {"reasoning_tokens": 0}}}


class ScriptedChatModel(BaseChatModel):
    """A LangChain chat model that plays the same script: with tools bound and no tool result yet,
    it calls `search`; otherwise it answers citing the first citation in the last tool result (or,
    in a retrieval chain, in the prompt's sources). Every prompt it was sent is kept."""

    query: str
    prompts: list[list[BaseMessage]] = []
    bound_tools: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def bind_tools(self, tools, **kwargs):
        self.bound_tools = [t.name for t in tools]
        return self.bind(tools=self.bound_tools)

    def _generate(self, messages: list[BaseMessage], stop=None,
                  run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any) -> ChatResult:
        self.prompts.append(list(messages))
        results = [m for m in messages if isinstance(m, ToolMessage)]
        if kwargs.get("tools") and not results:
            call = {"name": "search", "args": {"query": self.query, "top_k": 3}, "id": "call_1", "type": "tool_call"}
            reply = AIMessage(content="", tool_calls=[call])
        else:
            source = results[-1].content if results else messages[-1].content
            reply = AIMessage(content=answer_for(first_citation(str(source))))
        return ChatResult(generations=[ChatGeneration(message=reply)])
