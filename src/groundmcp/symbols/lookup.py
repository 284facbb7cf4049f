"""Finding definitions by name, and what a definition calls and is called by, from the symbols records.

Resolution is by name and is best-effort, and says so: a call `f()` or `obj.f()` may name any
definition called `f`. Where the syntax settles it (`resolve.py`: an enclosing scope's definition,
an import followed to its file, `self.f()` and `super().f()` through the class and its bases, a
class or module qualifier) a caller is `resolved` to one definition; a call that resolves to
another definition, or to something outside the index (or made in another language), is not listed
among this one's callers but kept apart (`Neighbours.elsewhere`). Every other call of the name stays a `candidate`, ranked by how
the calling file reaches the definition (`RANKS`): the same file; a module the file imports the
name (or the object it is reached through) from; the same folder (package); elsewhere. A caller is
`top` when no other definition of the name ranks above this one for it.
"""

from __future__ import annotations

import difflib
import posixpath
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..record import SYMBOLS_KIND, P
from ..store.base import Filters, Store
from .model import CALL_KINDS, Definition, Reference
from .record import DEFS, REFS, SYMBOL_KEYS, definitions_of, file_stems, references_of
from .resolve import OUTSIDE, Found, Resolver

RANKS = ("same file", "imported", "same package", "elsewhere")
MATCHES = ("exact", "qualified", "case-insensitive", "fuzzy")
PRIMARY_KINDS = ("class", "function", "method", "interface", "type", "enum", "struct", "trait", "module", "macro")
_PY_EXT = (".py", ".pyi")
_JS_EXT = (".js", ".mjs", ".cjs", ".jsx", ".ts", ".mts", ".cts", ".tsx", ".d.ts")
_C_EXT = (".c", ".h", ".cc", ".cpp", ".cxx", ".c++", ".hh", ".hpp", ".hxx", ".h++", ".inc", ".ipp", ".tcc")
CLOSED = ("python", "javascript", "typescript", "tsx", "java")  # an import no indexed file answers is outside
_HEAD = (P.ROOT, P.PATH, P.LANGUAGE, P.INDEXED_AT)
MAX_KEYS = 512  # names per keyed scroll


@dataclass(frozen=True, slots=True)
class Located:
    """A definition and the file that holds it; `match` says how it matched the name asked for."""

    root: str
    path: str
    language: str
    definition: Definition
    match: str = "exact"
    score: float = 1.0

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.root, self.path, self.definition.qualified, self.definition.start_line


@dataclass(frozen=True, slots=True)
class Site:
    """A reference in a file: a call site, a base class, an import. `rank`: how that file reaches the
    definition asked about (one of RANKS). `resolution`: "resolved" (the syntax names this
    definition), "candidate" (it may), or "elsewhere" (it names another definition, or something
    not indexed). `top`: resolved, or a candidate that no other definition of the name outranks."""

    root: str
    path: str
    reference: Reference
    rank: str = "elsewhere"
    resolution: str = "candidate"
    top: bool = True


@dataclass(frozen=True, slots=True)
class Callee:
    """A call made by a definition, with the definitions it may name, best first. `resolution`:
    "resolved" (the syntax names the first candidate), "outside" (it names something not indexed:
    a builtin, a library; any candidates only share its name) or "candidate" (ranked by name)."""

    reference: Reference
    candidates: list[tuple[Located, str]]  # (definition, rank)
    total: int  # candidates found in all, listed or not
    resolution: str = "candidate"


@dataclass(slots=True)
class FileRecord:
    root: str
    path: str
    language: str
    definitions: list[Definition]
    references: list[Reference]

    def imports(self) -> list[Reference]:
        return [r for r in self.references if r.kind == "import"]


@dataclass(slots=True)
class Neighbours:
    definition: Located
    callers: list[Site] = field(default_factory=list)
    callees: list[Callee] = field(default_factory=list)
    imports: list[tuple[Reference, str | None]] = field(default_factory=list)  # (import, file it resolves to)
    importers: list[Site] = field(default_factory=list)  # resolved: each import names the definition's file
    others: list[Located] = field(default_factory=list)  # other definitions of the same name
    # Calls of the name resolved to another definition or outside the index: not callers, all of them.
    elsewhere: list[Site] = field(default_factory=list)
    beyond: int = 0  # entries past the limit of each list above (left out, and counted)


def records(store: Store, collection: str, keys: Iterable[str] = (), *, paths: Iterable[str] = (),
            roots: Iterable[str] = (), fields: Iterable[str] = (DEFS, REFS)) -> list[FileRecord]:
    """The published symbols records holding any of `keys` (or of `paths` under `roots`)."""
    keys, paths = sorted(set(keys)), sorted(set(paths))
    out: list[FileRecord] = []
    wanted = [*_HEAD, *fields]
    batches = [keys[i : i + MAX_KEYS] for i in range(0, len(keys), MAX_KEYS)] if keys else [[]]
    seen: set[tuple[str, str]] = set()
    for batch in batches:
        where = Filters(kinds=[SYMBOLS_KIND], visible=True, symbol_keys=batch, paths=paths, roots=list(roots))
        for _, p in store.scroll(collection, where, wanted):
            at = (p.get(P.ROOT, ""), p[P.PATH])
            if at in seen:
                continue
            seen.add(at)
            out.append(FileRecord(at[0], at[1], p.get(P.LANGUAGE, ""), definitions_of(p), references_of(p)))
    return out


def find(store: Store, collection: str, name: str, kind: str | None = None, limit: int = 20) -> list[Located]:
    """Definitions named `name` (a name or a dotted tail of a qualified one, `Class.method`): exact
    first, then ignoring case, then (only when neither matched) close spellings."""
    query = name.strip()
    if not query:
        return []
    found = _matches(records(store, collection, ["d:" + query.lower()], fields=(DEFS,)), query, kind)
    if not found:
        found = _matches(records(store, collection, _fuzzy_keys(store, collection, query), fields=(DEFS,)), query,
                         kind, fuzzy=True)
    found.sort(key=_order)
    return found[:limit]


def exact(store: Store, collection: str, name: str, limit: int = 20) -> list[Located]:
    """Definitions named `name` as written, or ending with it as a dotted tail: `find`'s first two
    grades without its case-insensitive and fuzzy fall-backs, so it costs one keyed read (search's
    lift calls it on every query that holds an identifier)."""
    query = name.strip()
    if not query:
        return []
    found = [x for x in _matches(records(store, collection, ["d:" + query.lower()], fields=(DEFS,)), query, None)
             if x.match in ("exact", "qualified")]
    found.sort(key=_order)
    return found[:limit]


def _matches(files: list[FileRecord], query: str, kind: str | None, *, fuzzy: bool = False) -> list[Located]:
    lower = query.lower()
    out = []
    for f in files:
        for d in f.definitions:
            if kind and d.kind != kind:
                continue
            match = _match(d, query, lower)
            if match is None and fuzzy:
                ratio = max(difflib.SequenceMatcher(None, lower, d.name.lower()).ratio(),
                            difflib.SequenceMatcher(None, lower, d.qualified.lower()).ratio())
                if ratio >= 0.6 or lower in d.qualified.lower():
                    match = ("fuzzy", round(0.5 * ratio, 4))
            if match is not None:
                out.append(Located(f.root, f.path, f.language, d, *match))
    return out


def _match(d: Definition, query: str, lower: str) -> tuple[str, float] | None:
    if query in (d.qualified, d.name):
        return ("exact", 1.0 if query == d.qualified else 0.95)
    if d.qualified.endswith("." + query):
        return ("qualified", 0.9)
    q = d.qualified.lower()
    if lower in (q, d.name.lower()) or q.endswith("." + lower):
        return ("case-insensitive", 0.8)
    return None


def _order(x: Located):
    d = x.definition
    primary = 0 if d.kind in PRIMARY_KINDS else 1
    return (-x.score, primary, d.qualified.count("."), len(d.qualified), x.path, d.start_line)


def _fuzzy_keys(store: Store, collection: str, query: str, n: int = 12) -> list[str]:
    """Definition keys spelled like `query`: close matches, and keys that contain it (a scan of every
    record's keys, done only when nothing matched exactly)."""
    lower = query.lower()
    names: set[str] = set()
    for _, p in store.scroll(collection, Filters(kinds=[SYMBOLS_KIND], visible=True), [SYMBOL_KEYS]):
        names.update(k[2:] for k in p.get(SYMBOL_KEYS) or () if k.startswith("d:"))
    close = difflib.get_close_matches(lower, names, n=n, cutoff=0.6)
    containing = sorted((k for k in names if lower in k), key=len)[:n]
    return ["d:" + k for k in dict.fromkeys([*close, *containing])]


def neighbours(store: Store, collection: str, target: Located, *, limit: int = 50) -> Neighbours:
    """The definition's callers, callees, its file's imports and importers, and the other
    definitions of its name."""
    d = target.definition
    out = Neighbours(target)
    same_name = records(store, collection, ["d:" + d.name.lower()], fields=(DEFS,))
    named = [Located(f.root, f.path, f.language, o) for f in same_name for o in f.definitions if o.name == d.name]
    others = [o for o in named if o.key != target.key]
    resolver = Resolver(store, collection)
    mine = records(store, collection, paths=[target.path], roots=[target.root])
    home = mine[0] if mine else FileRecord(target.root, target.path, target.language, [], [])
    callers, out.elsewhere = _callers(store, collection, target, named, resolver)
    callees, calls = _callees(store, collection, target, home, resolver, limit)
    paths = resolver.paths(target.root)
    imports = [(r, _resolve_module(r, home.path, paths)) for r in home.imports()]
    importers = _importers(store, collection, target, paths)
    out.others, out.callers, out.callees = others[:limit], callers[:limit], callees
    out.imports, out.importers = imports[:limit], importers[:limit]
    out.beyond = sum(max(0, n - limit) for n in (len(others), len(callers), calls, len(imports), len(importers)))
    return out


def _callers(store: Store, collection: str, target: Located, named: list[Located],
             resolver: Resolver) -> tuple[list[Site], list[Site]]:
    """(the calls that name or may name `target`, best first; those resolved to something else)."""
    d = target.definition
    kinds = (*CALL_KINDS, "inherit") if d.kind in ("class", "interface", "struct", "trait") else CALL_KINDS
    sites, elsewhere = [], []
    for f in records(store, collection, ["r:" + d.name.lower()], fields=(DEFS, REFS)):
        resolver.remember(f)
        # `from m import f as g`: calls of g are calls of f when m is the definition's file
        names = {d.name} | {i.name for i in f.imports() if i.target == d.name and f.root == target.root
                            and reaches(i, f.path, target.path)}
        best: dict[tuple[str, str], int] = {}  # (qualifier, name) -> the best rank of any definition of the name
        for r in f.references:
            if r.name not in names or r.kind not in kinds or (f.path == target.path and r.scope == d.qualified):
                continue
            found = resolver.resolve(f, r) if family(f.language) == family(target.language) else OUTSIDE
            site_rank = rank(f, r, target.root, target.path)
            if isinstance(found, Found) and found.symbol == (target.root, target.path, d.qualified):
                sites.append(Site(f.root, f.path, r, site_rank, "resolved", True))
            elif isinstance(found, Found) or found == OUTSIDE or _not_a_method_call(f, r, d):
                elsewhere.append(Site(f.root, f.path, r, site_rank, "elsewhere", False))
            else:
                key = (r.qualifier, r.name)
                if key not in best:
                    best[key] = min((RANKS.index(rank(f, r, c.root, c.path)) for c in named
                                     if family(c.language) == family(f.language)), default=0)
                sites.append(Site(f.root, f.path, r, site_rank, "candidate", RANKS.index(site_rank) <= best[key]))
    order = {"resolved": 0, "candidate": 1, "elsewhere": 2}
    sites.sort(key=lambda s: (order[s.resolution], not s.top, RANKS.index(s.rank), s.path, s.reference.line))
    elsewhere.sort(key=lambda s: (s.path, s.reference.line))
    return sites, elsewhere


def _not_a_method_call(f: FileRecord, r: Reference, d: Definition) -> bool:
    """A Python call through an object that is not a module or class the syntax resolved
    (`obj.f()`, `self.f()`) runs a method or an attribute, never a module-level function."""
    return f.language == "python" and bool(r.qualifier) and d.kind == "function" and "." not in d.qualified


def family(language: str) -> str:
    """Languages whose code can call each other's definitions by name: a Python call never names
    a JavaScript function."""
    return {"typescript": "javascript", "tsx": "javascript", "cpp": "c"}.get(language, language)


def _callees(store: Store, collection: str, target: Located, home: FileRecord, resolver: Resolver,
             limit: int) -> tuple[list[Callee], int]:
    """The first `limit` calls the definition makes, with what each may mean; and how many it makes."""
    d = target.definition
    calls, seen = [], set()
    for r in home.references:  # one entry per name, qualifier and line: `new A(x).f(new A(y))` calls A once there
        key = (r.line, r.qualifier, r.name, r.kind)
        if key not in seen and r.kind in (*CALL_KINDS, "inherit") and (
                r.scope == d.qualified or r.scope.startswith(d.qualified + ".")):
            seen.add(key)
            calls.append(r)
    aliases = {i.name: i.target for i in home.imports() if i.target not in ("", "*", "default", i.name)}
    names = sorted({r.name.lower() for r in calls} | {aliases[r.name].lower() for r in calls if r.name in aliases})
    defs: dict[str, list[Located]] = {}
    for f in records(store, collection, ["d:" + n for n in names], fields=(DEFS,)):
        for o in f.definitions:
            defs.setdefault(o.name, []).append(Located(f.root, f.path, f.language, o))
    resolver.remember(home)
    out = []
    for r in calls[:limit]:
        meant = [c for c in defs.get(r.name, []) + (defs.get(aliases[r.name], []) if r.name in aliases else [])
                 if family(c.language) == family(home.language)]
        found = resolver.resolve(home, r)
        resolved = found.symbol if isinstance(found, Found) else None
        ranked = sorted(
            ((c, rank(home, r, c.root, c.path)) for c in meant),
            key=lambda cr: (cr[0].key[:3] != resolved, RANKS.index(cr[1]), _self_penalty(r, cr[0], target), cr[0].path,
                            cr[0].definition.start_line),
        )
        resolution = ("resolved" if ranked and resolved is not None and ranked[0][0].key[:3] == resolved
                      else "outside" if found == OUTSIDE else "candidate")
        out.append(Callee(r, ranked[:3], len(ranked), resolution))
    return out, len(calls)


def _self_penalty(r: Reference, cand: Located, target: Located) -> int:
    """`self.f()` in a method of class A: A.f before other definitions named f in the same file."""
    owner = target.definition.qualified.rsplit(".", 1)[0] if "." in target.definition.qualified else ""
    if r.qualifier in ("self", "this", "cls") and owner:
        return 0 if cand.definition.qualified == f"{owner}.{r.name}" else 1
    return 0


def _importers(store: Store, collection: str, target: Located, paths: set[str]) -> list[Site]:
    keys = ["m:" + s for s in file_stems(target.path)] + ["r:" + target.definition.name.lower()]
    sites = []
    for f in records(store, collection, keys, roots=[target.root], fields=(REFS,)):
        for r in f.imports():
            if _resolve_module(r, f.path, paths) == target.path:
                sites.append(Site(f.root, f.path, r, "imported", "resolved"))
    sites.sort(key=lambda s: (s.path, s.reference.line))
    return sites


def _paths_of(store: Store, collection: str, root: str) -> set[str]:
    """Every file of `root` that has a symbols record (one row per code file)."""
    return {p[P.PATH] for _, p in store.scroll(collection, Filters(roots=[root], kinds=[SYMBOLS_KIND], visible=True),
                                               [P.PATH])}


def rank(f: FileRecord, r: Reference, root: str, path: str) -> str:
    """How the file `f`, making reference `r`, reaches a definition in `path` (one of RANKS)."""
    if f.root == root and f.path == path:
        return "same file"
    binding = r.qualifier.split(".")[0] if r.qualifier else r.name
    if f.root == root and any(imp.name in (binding, "*") and reaches(imp, f.path, path) for imp in f.imports()):
        return "imported"
    if f.root == root and posixpath.dirname(f.path) == posixpath.dirname(path):
        return "same package"
    return "elsewhere"


def reaches(imp: Reference, from_path: str, path: str) -> bool:
    """Whether the import `imp` in `from_path` may name the file `path` (both under one root)."""
    return any(path == c or path.endswith("/" + c) for c in module_paths(imp, from_path))


def _resolve_module(imp: Reference, from_path: str, paths: set[str]) -> str | None:
    """The indexed file an import names, if any: an exact path first, then the shortest path
    ending with the module's own (an absolute Python import names a path tail)."""
    candidates = module_paths(imp, from_path)
    for c in candidates:
        if c in paths:
            return c
    found = sorted((p for p in paths for c in candidates if p.endswith("/" + c)), key=lambda p: (len(p), p))
    return found[0] if found else None


def module_paths(imp: Reference, from_path: str) -> list[str]:
    """Files the import `imp` in `from_path` may name: relative imports give paths relative to the
    root; absolute Python imports give path tails (`a/b.py`) that the end of a path must match, as
    do Java imports (`a/b/C.java`) and C/C++ quoted includes; a JS/TS package name or a system
    header gives none (it is not in the tree), and Go and Rust imports give none (not mapped)."""
    module = imp.qualifier
    if from_path.endswith(_PY_EXT):
        return _python_paths(module, imp.target, from_path)
    if from_path.endswith(".java"):  # `import a.b.C` -> a/b/C.java; `import static a.b.C.m` -> a/b/C.java
        parts = [p for p in module.split(".") if p]
        if imp.target in ("", "*"):
            return ["/".join(parts) + ".java"] if imp.target == "" and parts else []
        return ["/".join([*parts, imp.target]) + ".java", *(["/".join(parts) + ".java"] if parts else [])]
    if from_path.endswith(_C_EXT):  # `#include "x/y.h"`: next to the including file, else any path ending so
        if not module or module.startswith("<"):
            return []
        near = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), module))
        return [near] + ([module] if near != module and not module.startswith(".") else [])
    if module.startswith("."):
        base = posixpath.normpath(posixpath.join(posixpath.dirname(from_path), module))
        if base.startswith(".."):
            return []
        if base.endswith(_JS_EXT):
            return [base]
        return [base + e for e in _JS_EXT] + [f"{base}/index{e}" for e in _JS_EXT]
    return []


def _python_paths(module: str, target: str, from_path: str) -> list[str]:
    """`from .a import b` in pkg/m.py: pkg/a.py, pkg/a/__init__.py, and pkg/a/b.py (b may be a
    module); `import a.b`: the tails a/b.py, a/b/__init__.py."""
    dots = len(module) - len(module.lstrip("."))
    parts = [p for p in module.lstrip(".").split(".") if p]
    named = [parts, parts + [target]] if target not in ("", "*") else [parts]
    prefix: list[str] = []
    if dots:
        base = posixpath.dirname(from_path)
        for _ in range(dots - 1):
            base = posixpath.dirname(base)
        prefix = [base] if base else []
    out = []
    for ps in named:
        if ps:
            out += [posixpath.join(*prefix, *ps) + tail for tail in (".py", "/__init__.py", ".pyi")]
        elif dots:
            out.append(posixpath.join(*prefix, "__init__.py"))
    return out


def resolve(store: Store, collection: str, target: str, *, path: str | None = None,
            chunk: tuple[str, str, int, int, str] | None = None) -> tuple[Located, list[Located]]:
    """The definition `target` names, and the other definitions it could name. `chunk`: (root,
    path, start, end, id) of a chunk, when `target` was a chunk id: the innermost definition that
    covers it. `path`: prefer a definition in this file (or under this folder)."""
    if chunk is not None:
        root, cpath, start, end, cid = chunk
        files = records(store, collection, paths=[cpath], roots=[root], fields=(DEFS,))
        defs = files[0].definitions if files else []
        covering = [d for d in defs if cid in d.chunks] or [d for d in defs if d.start_line <= start and d.end_line >= end]
        if not covering:
            raise LookupError(f"chunk {cid} ({cpath}:{start}-{end}) lies outside every definition of its file "
                              "(module-level code); ask for a symbol by name instead")
        best = min(covering, key=lambda d: d.end_line - d.start_line)
        return Located(root, cpath, files[0].language, best), []
    found = find(store, collection, target, limit=200)
    if path:
        wanted = path.strip("/")
        mine = [x for x in found if x.path == wanted or x.path.startswith(wanted + "/")]
        found = mine + [x for x in found if x not in mine]
    if not found:
        raise LookupError(f"no definition named {target!r}; try find_symbol for close spellings, or ingest "
                          "the code that defines it")
    return found[0], found[1:]
