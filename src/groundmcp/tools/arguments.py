"""Argument mistakes told in one plain sentence, for every tool at once.

The SDK checks a call's arguments against the tool's signature before the tool runs, and reports a
failure as pydantic's text: a model name, "Input should be ...", the rejected input and a link to
errors.pydantic.dev. A model (or a person reading the client's log) acts better on a sentence that
names the argument, what it takes, and what to send instead. So each failure's structured errors
(`type`, `loc`, `ctx`) are read together with the argument's JSON schema (the one clients are shown
in tools/list: bounds, allowed values, default) and written as such a sentence. Nothing here knows
any one tool: the schema says what each argument takes.
"""

from __future__ import annotations

from typing import Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.mcpserver.tools import Tool, ToolManager
from pydantic import ValidationError

MAX_REPORTED = 3  # errors spelled out in one message; the rest are counted
MAX_SHOWN = 40  # characters of a rejected value quoted back


class ExplainedTool(Tool):
    """A tool whose argument errors read as a sentence (tool errors of its own pass unchanged)."""

    async def run(self, arguments: dict[str, Any], context: Context, convert_result: bool = False) -> Any:
        try:
            return await super().run(arguments, context, convert_result=convert_result)
        except ToolError as exc:
            cause = exc.__cause__
            # The SDK raises argument failures as a ToolError caused by the ValidationError; the
            # tool's own ToolErrors and crashes (UnexpectedToolError) have other causes.
            if isinstance(exc, UnexpectedToolError) or not isinstance(cause, ValidationError):
                raise
            # `from cause` keeps the SDK's log line, which names the rejected fields from it.
            raise ToolError(f"Error executing tool {self.name}: {explain(cause, self.parameters)}") from cause


def register(mcp: MCPServer) -> None:
    """Make every tool registered so far explain its argument errors: call after the tools'
    own `register`. MCPServer has no public way to reach its Tool objects or choose their class,
    so its tool manager is rebuilt (through ToolManager's public constructor) from copies of them."""
    old: ToolManager = mcp._tool_manager
    tools = [t if isinstance(t, ExplainedTool) else ExplainedTool(**dict(t)) for t in old.list_tools()]
    mcp._tool_manager = ToolManager(tools=tools, warn_on_duplicate_tools=old.warn_on_duplicate_tools)


def explain(exc: ValidationError, schema: dict[str, Any]) -> str:
    """`exc`'s errors as one sentence, each naming the argument, what it takes and what to send."""
    errors = exc.errors(include_url=False)
    parts = [_one(e, schema) for e in errors[:MAX_REPORTED]]
    if len(errors) > MAX_REPORTED:
        parts.append(f"and {len(errors) - MAX_REPORTED} more argument error(s) like these")
    return ("invalid argument: " if len(errors) == 1 else "invalid arguments: ") + "; ".join(parts) + "."


def _one(error: dict[str, Any], root: dict[str, Any]) -> str:
    loc, schema = _at(root, list(error["loc"]))
    name = _name(loc)
    allowed = describe(schema, root)
    kind, ctx, value = error["type"], error.get("ctx") or {}, error.get("input")
    if kind == "missing":
        return f"`{name}` is required: send {allowed}"
    fix = _fix(kind, ctx, schema, root, name)
    return f"`{name}` was {_shown(value)}, but it takes {allowed}: {fix}"


def _fix(kind: str, ctx: dict[str, Any], schema: dict[str, Any], root: dict[str, Any], name: str) -> str:
    """What to send instead, for one kind of error."""
    if kind in ("less_than_equal", "less_than"):
        bound = ctx.get("le", ctx.get("lt"))
        return f"send {bound}{' or less' if kind == 'less_than_equal' else ' less'} (e.g. {name}={_below(kind, bound)})"
    if kind in ("greater_than_equal", "greater_than"):
        bound = ctx.get("ge", ctx.get("gt"))
        return f"send {bound}{' or more' if kind == 'greater_than_equal' else ' more'} (e.g. {name}={_above(kind, bound)})"
    if kind == "string_too_short":
        n = ctx.get("min_length", 1)
        return "send a non-empty string" if n == 1 else f"send at least {n} characters"
    if kind == "string_too_long":
        return f"shorten it to {ctx.get('max_length')} characters or fewer"
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return f"send at least {n} item{'s' if n != 1 else ''}"
    if kind == "too_long":
        return f"send at most {ctx.get('max_length')} per call and the rest in further calls"
    if kind in ("literal_error", "enum"):
        values = _values(_resolved(schema, root)) or []
        optional = " or leave it out" if _nullable(schema, root) else ""
        return f"send one of {_listed(values, 'or')}{optional}"
    return _send(_resolved(schema, root), schema.get("default"), name)


def _send(s: dict[str, Any], default: Any, name: str) -> str:
    """'send a whole number, e.g. top_k=8' for a value of the wrong type."""
    noun = {"integer": "a whole number", "number": "a number", "string": "a string", "boolean": "true or false",
            "array": "a list", "object": "an object"}.get(s.get("type"), "a value of the type above")
    example = default if default is not None else s.get("minimum", (_values(s) or [None])[0])
    return f"send {noun}" + (f", e.g. {name}={_json(example)}" if example is not None else "")


def describe(schema: dict[str, Any], root: dict[str, Any]) -> str:
    """What a JSON schema accepts, in words: 'a whole number from 1 to 50 (default 8)'."""
    if not schema:
        return "a valid value"
    text = _kind(_resolved(schema, root), root)
    if _nullable(schema, root):
        text += " (or leave it out)" if "default" not in schema or schema["default"] is None else ""
    if schema.get("default") is not None:
        text += f" (default {_json(schema['default'])})"
    return text


def _kind(s: dict[str, Any], root: dict[str, Any]) -> str:
    values = _values(s)
    if values is not None:
        return f"one of {_listed(values, 'or')}"
    t = s.get("type")
    if t == "integer" or t == "number":
        noun = "a whole number" if t == "integer" else "a number"
        lo, hi = s.get("minimum", s.get("exclusiveMinimum")), s.get("maximum", s.get("exclusiveMaximum"))
        if lo is not None and hi is not None:
            return f"{noun} from {lo} to {hi}"
        if lo is not None:
            return f"{noun} of at least {lo}"
        return f"{noun} of at most {hi}" if hi is not None else noun
    if t == "string":
        return "a string" + _size(s.get("minLength"), s.get("maxLength"), "character")
    if t == "boolean":
        return "true or false"
    if t == "array":
        items = _plural(_kind(_resolved(s["items"], root), root)) if s.get("items") else "values"
        lo, hi = s.get("minItems"), s.get("maxItems")
        count = f"{lo} to {hi} " if lo and hi else f"up to {hi} " if hi else f"at least {lo} " if lo else ""
        return f"a list of {count}{items}"
    if t == "object":
        fields = list(s.get("properties") or {})
        required = set(s.get("required") or ())
        named = ", ".join(f"`{f}`" + ("" if f in required else " (optional)") for f in fields)
        return f"an object with {named}" if named else "an object"
    return "a valid value"


def _size(lo: int | None, hi: int | None, unit: str) -> str:
    if lo and hi:
        return f" of {lo} to {hi} {unit}s"
    if hi is not None:
        return f" of at most {hi} {unit}s"
    if lo:
        return f" of at least {lo} {unit}{'s' if lo != 1 else ''}"
    return ""


def _plural(kind: str) -> str:
    """'a string of at most 50 characters' -> 'strings of at most 50 characters' (list items)."""
    for one, many in (("a string", "strings"), ("a whole number", "whole numbers"), ("a number", "numbers"),
                      ("an object", "objects"), ("a list", "lists")):
        if kind.startswith(one):
            return many + kind[len(one):]
    return kind


def _resolved(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """`schema` with its `$ref` followed and `null` dropped from an anyOf of one other type."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        schema = (root.get("$defs") or {}).get(ref.removeprefix("#/$defs/"), {})
    options = [o for o in schema.get("anyOf", ()) if o.get("type") != "null"]
    if len(options) == 1:
        return _resolved(options[0], root)
    return schema


def _nullable(schema: dict[str, Any], root: dict[str, Any]) -> bool:
    return any(o.get("type") == "null" for o in schema.get("anyOf", ()))


def _at(root: dict[str, Any], loc: list[int | str]) -> tuple[list[int | str], dict[str, Any]]:
    """The path to the argument (or item of one) at `loc`, and its schema. Parts the schema does not
    name are the tags pydantic adds for a union's members: they are left out of the path."""
    path: list[int | str] = []
    schema = root
    for part in loc:
        schema_here = _resolved(schema, root)
        if isinstance(part, int) and "items" in schema_here:
            schema = schema_here["items"]
        elif isinstance(part, str) and part in (schema_here.get("properties") or {}):
            schema = schema_here["properties"][part]
        else:
            continue
        path.append(part)
    return path, schema


def _values(s: dict[str, Any]) -> list[Any] | None:
    if "enum" in s:
        return list(s["enum"])
    if "const" in s:
        return [s["const"]]
    return None


def _name(loc: list[int | str]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "arguments"


def _listed(values: list[Any], word: str) -> str:
    shown = [_json(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} {word} {shown[-1]}"


def _json(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _shown(value: Any) -> str:
    """The rejected value, briefly: the caller's data, quoted with control characters escaped."""
    if isinstance(value, str):
        if len(value) > MAX_SHOWN:
            return f"a string of {len(value)} characters"
        return "an empty string" if not value else repr(value)
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} item{'s' if len(value) != 1 else ''}"
    if isinstance(value, dict):
        return "an object"
    if value is None:
        return "null"
    return _json(value)[:MAX_SHOWN]


def _below(kind: str, bound: Any) -> Any:
    return bound if kind == "less_than_equal" else bound - 1


def _above(kind: str, bound: Any) -> Any:
    return bound if kind == "greater_than_equal" else bound + 1
