"""LangChain: a native retriever and tools over the engine, in-process (no MCP server needed).

    pip install 'groundmcp[langchain]'

    from groundmcp.integrations.langchain import GroundRetriever, groundmcp_tools
    retriever = GroundRetriever.from_settings(collection="groundmcp", top_k=5)  # the CLI's index
    docs = retriever.invoke("how are retries backed off?")   # Documents; metadata["citation"] = path:start-end
    tools = groundmcp_tools(retriever)  # search, list_collections, collection_stats, find_symbol, symbol_neighbours

Every Document and every tool result carries the citation (`path:start-end`), the symbol or heading,
the score and the chunk id, so an answer built from them can cite its sources. The retriever and the
tools call the same Engine as the CLI and the MCP tools; errors keep their actionable messages.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.tools import BaseTool, StructuredTool, ToolException
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        "groundmcp.integrations.langchain needs langchain-core, which the base install leaves out: "
        "pip install 'groundmcp[langchain]'",
        name=exc.name,
    ) from exc

from pydantic import BaseModel, Field

from ..engine import Engine
from ..errors import GroundError, StoreLocked
from ..search.budget import DEFAULT_MAX_TOKENS, HARD_CAP_TOKENS, MIN_MAX_TOKENS, fit
from ..search.multi import CollectionSpec, MultiHits, is_glob, search_many, select
from ..search.query import MAX_TOP_K, SearchHit, SearchRequest, disk_state
from ..settings import Settings

log = logging.getLogger(__name__)

__all__ = ["GroundRetriever", "groundmcp_tools", "hit_to_document", "format_documents"]



def hit_to_document(hit: SearchHit, *, collection: str | None = None, text: str | None = None,
                    lines: tuple[int, int] | None = None) -> Document:
    """A search hit as a Document: the chunk text, and its citation and provenance as metadata
    (`disk_state` from a stat of its file now). `collection`: the hit's own when None.
    `text`/`lines` override the hit's when only part of the chunk is kept."""
    start, end = lines or (hit.start_line, hit.end_line)
    metadata: dict[str, Any] = {
        "citation": f"{hit.path}:{start}-{end}",
        "path": hit.path,
        "start_line": start,
        "end_line": end,
        "symbol": hit.symbol,
        "language": hit.language,
        "kind": hit.kind,
        "score": hit.score,
        "id": hit.id,
        "root": hit.root,
        "collection": hit.collection if collection is None else collection,
        "indexed_at": hit.indexed_at,
        "disk_state": disk_state(hit),
    }
    if hit.header:
        metadata["header"] = hit.header
    if hit.page is not None:
        metadata["page"] = hit.page
    return Document(page_content=hit.text if text is None else text, metadata=metadata, id=hit.id)


def format_documents(docs: Sequence[Document]) -> str:
    """Documents as prompt context: a `[citation] symbol` line, then the text, per document."""
    parts = []
    for doc in docs:
        meta = doc.metadata
        label = f"  {meta['symbol']}" if meta.get("symbol") else ""
        parts.append(f"[{meta.get('citation', '?')}]{label}\n{doc.page_content}")
    return "\n\n".join(parts)


class GroundRetriever(BaseRetriever):
    """Hybrid search over a groundmcp collection, as a LangChain retriever.

    Each Document's `page_content` is the chunk text; `metadata` holds `citation` (path:start-end),
    `path`, `start_line`, `end_line`, `symbol`, `language`, `kind`, `score`, `id`, `root`,
    `collection`, `indexed_at` and `disk_state` (whether the file changed on disk since: unchanged,
    changed, deleted or unknown). `collection` may name several collections (a list, or a glob such
    as 'proj-*'): their hits come back as one ranked list (search/multi.py). The engine is not
    closed by the retriever: call `retriever.engine.close()` (or close the Engine you passed in)
    when done.
    """

    engine: Engine
    collection: str | list[str] | None = Field(
        None, description="Collection to search: a name, a glob ('proj-*') or a list; None for the default."
    )
    top_k: int = Field(8, ge=1, le=MAX_TOP_K)
    mode: Literal["hybrid", "dense", "sparse"] = "hybrid"
    path: str | None = Field(None, description="Only files matching this glob, e.g. 'src/**/*.py'.")
    languages: list[str] = Field(default_factory=list)
    kind: Literal["code", "doc"] | None = None
    rerank: bool = False

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> GroundRetriever:
        """A retriever over a new Engine (from GROUNDMCP_* variables when `settings` is None).
        A `collection` given here is also the Engine's default, so tools built on
        `retriever.engine` search the same collection."""
        settings = settings or Settings()
        if isinstance(kwargs.get("collection"), str) and not is_glob(kwargs["collection"]):
            settings = settings.model_copy(update={"collection": kwargs["collection"]})
        return cls(engine=_open_engine(settings), **kwargs)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        request = SearchRequest(
            query=query,
            top_k=self.top_k,
            mode=self.mode,
            path_glob=self.path,
            languages=tuple(self.languages),
            kinds=(self.kind,) if self.kind else (),
            rerank=self.rerank,
        )
        return [hit_to_document(h) for h in _search(self.engine, request, self.collection).hits]


def _search(engine: Engine, request: SearchRequest, spec: CollectionSpec) -> MultiHits:
    """Search the collections `spec` names (every collection is this process's to use)."""
    targets = select(spec, default=lambda: engine.settings.collection, name=lambda n: n, listed=engine.collection_names)
    return search_many(engine, request, targets)


class SearchArgs(BaseModel):
    query: str = Field(min_length=1, max_length=2000, description="What to find: a question, keywords, "
                       "or an exact identifier (e.g. 'how are retries backed off' or 'parse_headers').")
    top_k: int = Field(8, ge=1, le=50, description="How many hits to return.")
    mode: Literal["hybrid", "dense", "sparse"] = Field(
        "hybrid", description="hybrid: meaning + exact words; dense: meaning only; sparse: exact words (BM25).")
    path: str | None = Field(None, description="Only files matching this glob: 'src/**/*.py', '*.md', 'docs/'.")
    languages: list[str] | None = Field(None, description="Only these languages, e.g. ['python'].")
    kind: Literal["code", "doc"] | None = Field(None, description="Only source code, or only documents.")
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=MIN_MAX_TOKENS, le=HARD_CAP_TOKENS,
                            description="Budget for the result; long hits are trimmed to their best lines.")


class StatsArgs(BaseModel):
    collection: str | None = Field(None, description="Collection; omit for the default.")


class FindSymbolArgs(BaseModel):
    name: str = Field(min_length=1, max_length=500, description="A name or a qualified tail: 'parse', 'Console.size'.")
    kind: str | None = Field(None, description="Only this kind: function, method, class, interface, type, ...")
    limit: int = Field(20, ge=1, le=100, description="How many matches to return.")


class NeighboursArgs(BaseModel):
    symbol: str = Field(min_length=1, max_length=500,
                        description="A symbol ('Console.size', 'parse') or a chunk id from search.")
    path: str | None = Field(None, description="Prefer the definition in this file or folder.")
    max_tokens: int = Field(DEFAULT_MAX_TOKENS, ge=MIN_MAX_TOKENS, le=HARD_CAP_TOKENS,
                            description="Budget for the result.")


class IngestArgs(BaseModel):
    path: str = Field(min_length=1, description="Folder or file to index, inside the allowed roots.")


def groundmcp_tools(
    source: Engine | GroundRetriever,
    *,
    collection: str | list[str] | None = None,
    ingest_roots: Sequence[str | Path] = (),
) -> list[BaseTool]:
    """The MCP server's read-only tools as LangChain tools: `search`, `list_collections`,
    `collection_stats`, `find_symbol` and `symbol_neighbours`, plus `ingest` when `ingest_roots`
    names the folders it may index (the same rule as the server's --root). The destructive tools are left out on purpose.

    `source` is an Engine, or a GroundRetriever whose engine and collection the tools use. The
    tools' collection is `collection`, else the retriever's, else the Engine's default.

    `search` returns its hits as text with a `[path:start-end]` line per hit (what the model reads)
    and as Documents in the tool message's `artifact`. Expected failures (an unknown collection, a
    path outside the roots) come back to the model as an error message it can act on."""
    spec: CollectionSpec
    if isinstance(source, GroundRetriever):
        engine, spec = source.engine, collection or source.collection
    else:
        engine, spec = source, collection
    spec = spec or engine.settings.collection
    # The collection the stats tool and the listing's default name: the one named, else the Engine's.
    name = spec if isinstance(spec, str) and not is_glob(spec) else engine.settings.collection
    where = name if spec == name else ", ".join([spec] if isinstance(spec, str) else spec)

    def search(query: str, top_k: int = 8, mode: str = "hybrid", path: str | None = None,
               languages: list[str] | None = None, kind: str | None = None,
               max_tokens: int = DEFAULT_MAX_TOKENS) -> tuple[str, list[Document]]:
        request = SearchRequest(query=query, top_k=top_k, mode=mode, path_glob=path,  # type: ignore[arg-type]
                                languages=tuple(languages or ()), kinds=(kind,) if kind else ())
        with _tool_errors():
            hits = _search(engine, request, spec).hits
        fitted = fit(hits, query, max_tokens)
        docs = [hit_to_document(f.hit, text=f.text, lines=(f.start_line, f.end_line)) for f in fitted.hits]
        if not hits:
            return f"No hits for {query!r} in collection {where!r}.", []
        text = format_documents(docs)
        if fitted.omitted:
            text += (f"\n\n({len(fitted.omitted)} {'more ' if docs else ''}hit(s) left out to stay within "
                     f"max_tokens={fitted.max_tokens}; raise it, or narrow the search with path/languages.)")
        return text.strip(), docs

    def list_collections() -> str:
        with _tool_errors():
            rows = engine.collections()
        return json.dumps({"default": name, "collections": [asdict(r) for r in rows]})

    def collection_stats(collection: str | None = None) -> str:
        with _tool_errors():
            return json.dumps(asdict(engine.stats(collection or name)))

    def find_symbol(name: str, kind: str | None = None, limit: int = 20) -> str:
        from ..tools.symbols import find_result  # the MCP tool's result, one definition of it

        with _tool_errors():
            found = engine.find_symbol(name, kind=kind, collection=symbols_in, limit=limit)
        return find_result(name, symbols_in, found).model_dump_json()

    def symbol_neighbours(symbol: str, path: str | None = None,
                          max_tokens: int = DEFAULT_MAX_TOKENS) -> tuple[str, dict]:
        from ..tools.symbols import neighbours_result, render

        with _tool_errors():
            n = engine.symbol_neighbours(symbol, collection=symbols_in, path=path)
        result = neighbours_result(symbols_in, n, max_tokens)
        return render(result), result.model_dump(mode="json")

    # The symbol tools look in one collection: the one named, else the Engine's default.
    symbols_in = name
    tools = [
        _tool(search, SearchArgs, "Search ingested code and documents. Returns ranked chunks, each "
              "under a [path:start-end] citation line. Cite that citation for every claim you make from "
              "a hit; if no hit answers the question, say the index has no answer.", artifact=True),
        _tool(list_collections, None, "List the collections in the index with their model, vector "
              "dimension and size."),
        _tool(collection_stats, StatsArgs, "Files, chunks, ingested roots, and chunks per language "
              "and kind of one collection."),
        _tool(find_symbol, FindSymbolArgs, "Where a function, method, class or other name is defined in "
              "ingested code: exact and qualified matches first, then ones ignoring case, then close "
              "spellings; each with its signature and a path:start-end citation (JSON)."),
        _tool(symbol_neighbours, NeighboursArgs, "A definition and its neighbours: who calls it, what it "
              "calls (each with the definitions the name may mean, ranked), what its file imports and "
              "which files import it, as path:line citations. Names are resolved from the syntax alone, "
              "best-effort: each caller is resolved (the syntax names this definition) or a ranked "
              "candidate (it may mean another definition of the name); calls resolved to other "
              "definitions are counted (elsewhere), not listed. The structured result is the artifact.",
              artifact=True),
    ]
    if ingest_roots:
        from ..access import AppState  # the same root rule as the server's, with this API's remedy

        state = AppState(settings=engine.settings, engine=engine,
                         roots=tuple(Path(r).expanduser().resolve() for r in ingest_roots),
                         remedy="add its folder to ingest_roots")

        def ingest(path: str) -> str:
            with _tool_errors():
                target = state.allowed_path(path)
                report = engine.ingest(str(target), collection=name)
            r = report.to_dict()
            keep = ("collection", "root", "files_seen", "unchanged", "chunks", "chunks_removed")
            summary = {k: r[k] for k in keep} | {k: len(r[k]) for k in ("added", "changed", "removed", "skipped")}
            return json.dumps(summary)

        tools.append(_tool(ingest, IngestArgs, "Index a folder or file (incrementally) so `search` can "
                           "find it. Only paths inside the allowed roots."))
    return tools


@contextmanager
def _tool_errors() -> Iterator[None]:
    """GroundError -> ToolException, which LangChain hands to the model as the tool's answer."""
    try:
        yield
    except GroundError as exc:
        raise ToolException(str(exc)) from exc


def _tool(fn, schema: type[BaseModel] | None, description: str, *, artifact: bool = False) -> BaseTool:
    async def run_async(**kwargs: Any) -> Any:  # engine calls block: keep them off the event loop
        return await asyncio.to_thread(fn, **kwargs)

    return StructuredTool.from_function(
        func=fn,
        coroutine=run_async,
        name=fn.__name__,
        description=description,
        args_schema=schema,
        response_format="content_and_artifact" if artifact else "content",
        handle_tool_error=True,
    )


def _open_engine(settings: Settings) -> Engine:
    """An Engine in this process. The embedded store belongs to one process: when the data dir's
    owner (the process CLI commands and servers share) holds it, the owner is asked to stop, as an
    in-process CLI command does, and the next command or server starts another when it needs one."""
    try:
        return Engine(settings)
    except StoreLocked:
        if settings.qdrant_url or settings.qdrant_local_path:
            raise
        from ..owner.daemon import stop_owner

        pid = stop_owner(settings.data_dir)
        if pid is None:
            raise
        log.warning("stopped the data dir's owner (pid %d) to open the store in this process", pid)
        return Engine(settings)
