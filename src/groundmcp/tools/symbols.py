"""The `find_symbol` and `symbol_neighbours` tools: definitions by name, and who calls what, from
the syntax index ingest keeps next to the chunks. Every place is a citation and a `resource_link`
to its lines (groundmcp://file/...), not inline text, so an answer costs a few hundred tokens."""

from __future__ import annotations

import json
from typing import Annotated, Literal
from urllib.parse import quote

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult, ResourceLink, TextContent, ToolAnnotations
from pydantic import BaseModel, Field

from ..search.budget import DEFAULT_MAX_TOKENS, HARD_CAP_TOKENS, MIN_MAX_TOKENS, estimate_tokens
from ..symbols import Located, Neighbours, Site
from .common import COLLECTION_DESCRIPTION, MAX_NAME, MAX_PATH, clean_doc, run, state, use_collection
from .results import inline

Kind = Literal["function", "method", "class", "variable", "property", "interface", "type", "enum", "struct", "trait",
               "module", "macro"]
_LISTS = ("others", "importers", "imports", "callees", "callers")  # trimmed in this order to fit the budget


def file_uri(collection: str, path: str, start: int, end: int) -> str:
    """The groundmcp://file resource for lines start..end of `path` (server/resources.py reads it)."""
    return f"groundmcp://file/{quote(collection, safe='')}/{start}/{end}/{quote(path, safe='/')}"


class Symbol(BaseModel):
    name: str
    qualified: str = Field(description="Class.method, outer.inner, or the name at the top level.")
    kind: str
    signature: str
    path: str
    start_line: int
    end_line: int
    citation: str = Field(description="path:start-end, the form to cite.")
    uri: str = Field(description="groundmcp://file resource with these lines.")
    language: str
    match: str = Field(description="exact, qualified (a dotted tail), case-insensitive, or fuzzy.")
    score: float
    chunk_ids: list[str] = Field(description="Chunks holding it: read groundmcp://chunk/{collection}/{id}.")

    @classmethod
    def of(cls, x: Located, collection: str) -> Symbol:
        d = x.definition
        return cls(name=d.name, qualified=d.qualified, kind=d.kind, signature=d.signature, path=x.path,
                   start_line=d.start_line, end_line=d.end_line, citation=f"{x.path}:{d.start_line}-{d.end_line}",
                   uri=file_uri(collection, x.path, d.start_line, d.end_line), language=x.language, match=x.match,
                   score=x.score, chunk_ids=list(d.chunks))


class FindSymbolResult(BaseModel):
    query: str
    collection: str
    matches: list[Symbol]
    note: str = Field(description="How names are matched; empty when there were exact matches.")


class Place(BaseModel):
    """A reference: a call site, a base class, an import."""

    path: str
    line: int
    citation: str
    uri: str
    name: str
    kind: str = Field(description="call, new, decorator, inherit or import.")
    scope: str = Field(description="The definition it sits in (qualified), '' at the top level.")
    qualifier: str = Field(description="What the name was reached through (self, os.path); for an import, the module.")
    rank: str = Field(description="How its file reaches the definition: same file, imported, same package, elsewhere.")
    resolution: Literal["resolved", "candidate"] = Field(
        description="resolved: the syntax names this definition (a scope, an import, self/super, a class or "
        "module qualifier, an annotated parameter); candidate: it calls the name through something the syntax "
        "cannot settle (a local, an attribute, a call's result), so it may mean another definition of the name.")
    top: bool = Field(description="Resolved, or a candidate that no other definition of the name outranks for it.")

    @classmethod
    def of(cls, s: Site, collection: str) -> Place:
        r = s.reference
        return cls(path=s.path, line=r.line, citation=f"{s.path}:{r.line}", uri=file_uri(collection, s.path, r.line, r.line),
                   name=r.name, kind=r.kind, scope=r.scope, qualifier=r.qualifier, rank=s.rank,
                   resolution="resolved" if s.resolution == "resolved" else "candidate", top=s.top)


class Candidate(BaseModel):
    qualified: str
    kind: str
    citation: str
    uri: str
    rank: str


class Call(BaseModel):
    name: str
    line: int
    kind: str
    qualifier: str
    candidates: list[Candidate] = Field(description="Definitions it may name, best first (at most 3).")
    total: int = Field(description="Definitions of that name found in all; 0: outside the index (a library).")
    resolution: Literal["resolved", "outside", "candidate"] = Field(
        description="resolved: the syntax names the first candidate; outside: it names something not indexed "
        "(a builtin, a library), and candidates only share its name; candidate: ranked by name alone.")


class Import(BaseModel):
    name: str = Field(description="The name it binds.")
    module: str
    target: str = Field(description="The name in that module ('*': all of it; '': the module itself).")
    line: int
    resolved: str | None = Field(description="The indexed file it names, if found.")


class NeighboursResult(BaseModel):
    collection: str
    definition: Symbol
    callers: list[Place]
    callees: list[Call]
    imports: list[Import]
    importers: list[Place]
    others: list[Symbol] = Field(description="Other definitions of the same name: the name may mean them.")
    elsewhere: int = Field(
        description="Calls of this name that the syntax resolved to another definition (one of `others`) or to "
        "something outside the index: not callers of this one, so not listed.")
    omitted: int = Field(description="Entries left out: to stay within max_tokens, or past a list's limit (50).")
    estimated_tokens: int
    note: str


def register(mcp: MCPServer) -> None:
    @mcp.tool(
        title="Find where a symbol is defined",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    @clean_doc
    async def find_symbol(
        name: Annotated[str, Field(min_length=1, max_length=500,
                                   description="A name or a qualified tail: 'parse', 'Console.size'.")],
        ctx: Context,
        kind: Annotated[Kind | None, Field(description="Only definitions of this kind.")] = None,
        collection: Annotated[str | None, Field(max_length=MAX_NAME, description=COLLECTION_DESCRIPTION)] = None,
        limit: Annotated[int, Field(ge=1, le=100, description="How many matches to return.")] = 20,
    ) -> FindSymbolResult:
        """Where a function, method, class or other name is defined in ingested code: exact and
        qualified matches first, then ones ignoring case, then close spellings. Each match has its
        signature, a citation, a groundmcp://file link to its lines and the ids of its chunks."""
        target = await use_collection(ctx, collection)
        found = await run(state(ctx).engine.find_symbol, name, kind=kind, collection=target, limit=limit)
        return find_result(name, target, found)

    @mcp.tool(
        title="Callers, callees and imports of a symbol",
        annotations=ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False),
    )
    @clean_doc
    async def symbol_neighbours(
        symbol: Annotated[str, Field(min_length=1, max_length=500,
                                     description="A symbol ('Console.size', 'parse') or a chunk id from search.")],
        ctx: Context,
        collection: Annotated[str | None, Field(max_length=MAX_NAME, description=COLLECTION_DESCRIPTION)] = None,
        path: Annotated[str | None, Field(max_length=MAX_PATH,
                                          description="Prefer the definition in this file or folder.")] = None,
        max_tokens: Annotated[int, Field(ge=MIN_MAX_TOKENS, le=HARD_CAP_TOKENS,
                                         description="Budget for the whole response.")] = DEFAULT_MAX_TOKENS,
    ) -> Annotated[CallToolResult, NeighboursResult]:
        """A definition and its neighbours: who calls it (callers), what it calls (callees, each
        with the definitions the name may mean), what its file imports and which files import it.
        Names are resolved from the syntax alone, best-effort, and each caller says how: resolved
        (the syntax names this definition) or candidate (it may mean another definition of the
        name; ranked same file, imported, same package, elsewhere; `top` when none outranks this
        one). Calls the syntax resolves to another definition or outside the index are left out
        and counted (`elsewhere`); each callee says resolved, outside or candidate. Places are
        citations with groundmcp://file links; read a link for the lines."""
        target = await use_collection(ctx, collection)
        found = await run(state(ctx).engine.symbol_neighbours, symbol, collection=target, path=path)
        return respond(target, found, max_tokens)


def find_result(name: str, collection: str, found: list[Located]) -> FindSymbolResult:
    """find_symbol's result (also the LangChain tool's)."""
    fuzzy = bool(found) and all(x.match == "fuzzy" for x in found)
    note = (f"no definition is named {name!r}; these are close spellings" if fuzzy
            else "" if found else f"no definition named {name!r} or spelled like it")
    return FindSymbolResult(query=name, collection=collection, matches=[Symbol.of(x, collection) for x in found],
                            note=note)


def respond(collection: str, n: Neighbours, max_tokens: int) -> CallToolResult:
    result = neighbours_result(collection, n, max_tokens)
    links = [result.definition.uri, *(p.uri for p in result.callers), *(p.uri for p in result.importers)]
    content = [TextContent(type="text", text=render(result))] + [
        ResourceLink(type="resource_link", name=uri.rsplit("/", 1)[-1], uri=uri, mime_type="text/plain")
        for uri in dict.fromkeys(links)
    ]
    return CallToolResult(content=content, structured_content=result.model_dump(mode="json"))


def neighbours_result(collection: str, n: Neighbours, max_tokens: int | None) -> NeighboursResult:
    """symbol_neighbours' result within `max_tokens` (None: all of it; also the LangChain tool's
    and, through `refs_data`, the CLI's)."""
    result = NeighboursResult(
        collection=collection,
        definition=Symbol.of(n.definition, collection),
        callers=[Place.of(s, collection) for s in n.callers],
        callees=[
            Call(name=c.reference.name, line=c.reference.line, kind=c.reference.kind, qualifier=c.reference.qualifier,
                 total=c.total, resolution=c.resolution,
                 candidates=[Candidate(qualified=x.definition.qualified, kind=x.definition.kind,
                                       citation=f"{x.path}:{x.definition.start_line}-{x.definition.end_line}",
                                       uri=file_uri(collection, x.path, x.definition.start_line, x.definition.end_line),
                                       rank=rank) for x, rank in c.candidates])
            for c in n.callees
        ],
        imports=[Import(name=r.name, module=r.qualifier, target=r.target, line=r.line, resolved=path)
                 for r, path in n.imports],
        importers=[Place.of(s, collection) for s in n.importers],
        others=[Symbol.of(x, collection) for x in n.others],
        elsewhere=len(n.elsewhere), omitted=0, estimated_tokens=0, note="",
    )
    omitted = _fit(result, max_tokens) if max_tokens is not None else 0
    result.omitted = omitted + n.beyond
    notes = []
    if omitted:
        notes.append(f"{omitted} entries left out to fit max_tokens={max_tokens}; raise it (max {HARD_CAP_TOKENS}) "
                     "for the rest")
    if n.beyond:
        notes.append(f"{n.beyond} entries past a list's limit (50) left out; ask about a narrower symbol "
                     "(Class.method, or with its path) to see the rest")
    result.note = "; ".join(notes)
    result.estimated_tokens = _tokens(result)
    return result


def _tokens(result: NeighboursResult) -> int:
    # The structured result, and about as much again for the text and the links made from it.
    data = json.dumps(result.model_dump(mode="json"))
    return estimate_tokens(data) + estimate_tokens(render(result))


def _fit(result: NeighboursResult, max_tokens: int) -> int:
    """Drop entries from the ends of the lists (others first, callers last) until the response fits."""
    omitted = 0
    while _tokens(result) > max_tokens:
        longest = next((name for name in _LISTS if getattr(result, name)), None)
        if longest is None:
            break
        items = getattr(result, longest)
        cut = max(1, len(items) // 4)
        del items[-cut:]
        omitted += cut
    return omitted


def render(result: NeighboursResult) -> str:
    d = result.definition
    out = [f"{d.kind} {inline(d.qualified)}: {inline(d.signature)}  at {inline(d.citation)}"]
    if result.callers:
        out.append(f"callers ({len(result.callers)}):")
        out += [f"  {inline(p.citation)} in {inline(p.scope or '<module>')} ({p.kind}, {_how(p.resolution, p.top, p.rank)})"
                for p in result.callers]
    if result.elsewhere:
        out.append(f"calls of the name resolved to other definitions or outside the index, not listed: {result.elsewhere}")
    if result.callees:
        out.append(f"callees ({len(result.callees)}):")
        for c in result.callees:
            best = c.candidates[0] if c.candidates else None
            of = f", 1 of {c.total}" if c.total > 1 else ""
            where = f" -> {inline(best.citation)} ({c.resolution}, {best.rank}{of})" if best else f" ({c.resolution})"
            out.append(f"  line {c.line}: {inline(c.name)}{where}")
    if result.imports:
        out.append("imports: " + ", ".join(inline(f"{i.module}:{i.target or i.name}") for i in result.imports))
    if result.importers:
        out.append("imported by: " + ", ".join(dict.fromkeys(inline(p.citation) for p in result.importers)))
    if result.others:
        out.append("other definitions of the name: " + ", ".join(inline(o.citation) for o in result.others))
    if result.note:
        out.append(f"Note: {result.note}")
    return "\n".join(out)


def _how(resolution: str, top: bool, rank: str) -> str:
    """How a caller names the definition, as `render` and `groundmcp refs` print it."""
    return f"resolved, {rank}" if resolution == "resolved" else f"candidate{', top' if top else ''}, {rank}"


def refs_data(result: NeighboursResult) -> dict:
    """symbol_neighbours' result as `groundmcp refs` prints it, whether the CLI asked its engine or
    an owner's tool (owner/calls.py): one definition of the fields, so both print the same."""
    d = result.definition
    return {
        "definition": d.citation, "qualified": d.qualified, "kind": d.kind,
        "callers": [{"citation": p.citation, "scope": p.scope, "rank": p.rank, "resolution": p.resolution,
                     "top": p.top} for p in result.callers],
        "elsewhere": result.elsewhere,
        "callees": [{"line": c.line, "name": c.name, "total": c.total, "resolution": c.resolution,
                     "best": c.candidates[0].citation if c.candidates else None,
                     "rank": c.candidates[0].rank if c.candidates else None} for c in result.callees],
        "importers": list(dict.fromkeys(p.citation for p in result.importers)),  # one per import line
        "omitted": result.omitted,
    }
