"""Which definition a reference names, where the syntax alone can tell; best-effort, and saying so.

A call `f()` or `obj.f()` is recorded by name. Most names can be followed further with rules that
hold for any code base, without running it or inferring types:

- a bare name: a definition of it in an enclosing scope of the same file (innermost first; in
  Python and JavaScript a class body is not an enclosing scope of its methods, in Java and C++ it
  is, with the members the class inherits), else the import that binds it, followed to the file
  it names and to the definition there (through re-exports and star imports or includes, a few
  hops);
- `self.f()` / `cls.f()` / `this.f()`: `f` looked up in the enclosing class and then its bases,
  in order (each base a name resolved as above), so the nearest definition wins;
- `super().f()` (`super.f()` in JavaScript): the same lookup starting at the bases;
- `X.f()` where `X` resolves to a class (its bases too) or to an imported module (`a.b.f()` after
  `import a.b` too): `f` in there;
- `p.f()` where `p` is a parameter of the enclosing function: its annotation's class, when the
  signature names one (`p: Foo`, `Foo | None`, `Optional["Foo"]`); a parameter shadows any outer
  definition of its name;
- a name, or a qualifier's first name, bound by an import from outside the index (the standard
  library, a dependency): none of the indexed definitions; so is a called Python name that no
  enclosing scope defines and no import binds (a builtin, a parameter, a local), in a file with
  no star import.

What comes back is the definition found, OUTSIDE, or None when no rule applies (`obj.f()` on a
local or an attribute, a JavaScript global, a Go or Rust import): then every definition of the
name stays a candidate, ranked by how the calling file reaches it (`lookup.rank`). Not done: types
of locals, of attributes (`self.client.get()`) and of call results, assignments (`f = g`),
decorators that replace a function, dynamic dispatch to a subclass's override (`self.f()` names
the nearest definition only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..store.base import Store
from .model import Definition, Reference
from .record import DEFS, REFS

OUTSIDE: Final = "outside"  # the reference names something that is not indexed
MAX_HOPS = 4  # re-exports followed, and base classes deep
_SELF = ("self", "cls", "this")
_MEMBERS_IN_SCOPE = ("java", "cpp")  # a method sees its class's members by their bare names
_SKIP_TARGETS = ("", "*", "default")


@dataclass(frozen=True, slots=True)
class Found:
    """A definition a reference resolves to, and the file that holds it."""

    root: str
    path: str
    definition: Definition

    @property
    def key(self) -> tuple[str, str, str, int]:
        return self.root, self.path, self.definition.qualified, self.definition.start_line

    @property
    def symbol(self) -> tuple[str, str, str]:
        """What a call names: overloads and conditional definitions of one qualified name in one
        file are one symbol."""
        return self.root, self.path, self.definition.qualified


class Resolver:
    """Resolves references against the published symbols records of one collection, reading each
    file's record once (a `neighbours` call makes one)."""

    def __init__(self, store: Store, collection: str) -> None:
        self.store, self.collection = store, collection
        self._files: dict[tuple[str, str], object] = {}
        self._paths: dict[str, set[str]] = {}

    # -- reading ----------------------------------------------------------------------------

    def file(self, root: str, path: str):
        """The FileRecord of `path` under `root` (definitions and references), or None."""
        from .lookup import records

        key = (root, path)
        if key not in self._files:
            found = records(self.store, self.collection, paths=[path], roots=[root], fields=(DEFS, REFS))
            self._files[key] = found[0] if found else None
        return self._files[key]

    def remember(self, f) -> None:
        """A record already read whole (definitions and references), so it is not read again."""
        self._files.setdefault((f.root, f.path), f)

    def paths(self, root: str) -> set[str]:
        from .lookup import _paths_of

        if root not in self._paths:
            self._paths[root] = _paths_of(self.store, self.collection, root)
        return self._paths[root]

    # -- rules ------------------------------------------------------------------------------

    def resolve(self, f, r: Reference) -> Found | str | None:
        """What the reference `r` in the file `f` names: a definition, OUTSIDE, or None (unknown)."""
        q = r.qualifier
        if not q:
            bound = self.bind(f, r.name, r.scope)
            return None if isinstance(bound, _Module) else bound
        if q in _SELF:
            cls = self.enclosing_class(f, r.scope)
            if cls is not None:
                return self.member(cls, r.name)[0]  # not found: a mixin's call, or an attribute; unknown
            if "." in r.scope:  # a prototype method or object literal member: `this.g()` next to it
                owner = r.scope.rsplit(".", 1)[0]
                d = _defined(f, f"{owner}.{r.name}")
                return Found(f.root, f.path, d) if d is not None else None
            return None
        if q == "super" or q.startswith("super("):
            cls = self.enclosing_class(f, r.scope)
            if cls is None:
                return None
            bases, complete = self.bases(cls)
            for base in bases:
                found, known = self.member(base, r.name)
                if found is not None:
                    return found
                complete &= known
            return OUTSIDE if complete and f.language == "python" else None
        head = q.split(".", 1)[0]
        if not head.isidentifier():
            return None
        if head == q:
            is_parameter, annotation = _parameter(f, r.scope, head)
            if is_parameter:  # it shadows any outer name; its annotation, if any, says its class
                return self.annotated(f, annotation, r.scope, r.name) if annotation else None
        bound = self.bind(f, head, r.scope, bare=False)
        if bound == OUTSIDE:
            return OUTSIDE
        if "." in q:  # `a.b.f()` after `import a.b`: f in a/b
            for imp in f.imports():
                if imp.target == "" and imp.qualifier == q and imp.name == head:
                    module = self.follow(f, imp)
                    return self.in_module(module.root, module.path, r.name, 0) if isinstance(module, _Module) else module
            return None
        if isinstance(bound, Found) and bound.definition.kind in ("class", "interface", "struct", "trait"):
            return self.member(bound, r.name)[0]
        if isinstance(bound, _Module):
            return self.in_module(bound.root, bound.path, r.name, 0)
        return None

    def annotated(self, f, annotation: str, scope: str, name: str) -> Found | str | None:
        """`name` on a value annotated `annotation` (`Foo`, `Foo | None`, `Optional[Foo]`, `m.Foo`):
        the class's member; OUTSIDE when the class is not indexed (`bytes`, `dict`); None when the
        annotation says nothing (`Any`, a union of several, a type variable)."""
        cls = _one_class(annotation)
        if cls is None:
            return None
        head, _, rest = cls.partition(".")
        bound = self.bind(f, head, scope)
        if rest and isinstance(bound, _Module) and "." not in rest:
            bound = self.in_module(bound.root, bound.path, rest, 0)
        elif rest and bound != OUTSIDE:
            return None
        if bound == OUTSIDE:
            return OUTSIDE
        if isinstance(bound, Found) and bound.definition.kind in ("class", "interface", "struct", "trait"):
            return self.member(bound, name)[0]
        return None

    def bind(self, f, name: str, scope: str, hops: int = 0, *, bare: bool = True) -> Found | _Module | str | None:
        """What a name means in `f` at `scope`: a definition in an enclosing scope, else what the
        import binding it names. A called Python name bound by neither (`bare`) is a builtin, a
        parameter or a local: OUTSIDE; the object a method is called on may hold anything: None."""
        parts = scope.split(".") if scope else []
        for i in range(len(parts), -1, -1):
            prefix = ".".join(parts[:i])
            owner = _defined(f, prefix) if prefix else None
            if owner is not None and owner.kind == "class" and i != len(parts) and f.language not in _MEMBERS_IN_SCOPE:
                continue  # a Python or JavaScript method does not see its class body's names
            d = _defined(f, f"{prefix}.{name}" if prefix else name)
            if d is not None:
                return Found(f.root, f.path, d)
        if f.language in _MEMBERS_IN_SCOPE:  # Java, C++: a member inherited from a base, unqualified
            cls = self.enclosing_class(f, scope)
            found = self.member(cls, name)[0] if cls is not None else None
            if found is not None:
                return found
        for imp in f.imports():
            if imp.name == name:
                return self.follow(f, imp, hops)
        for imp in f.imports():  # `from m import *`, `#include "m.h"`, `export * from './m'`
            if imp.name == "*" and hops < MAX_HOPS:
                module = self.follow(f, imp, hops)
                if isinstance(module, _Module):
                    found = self.in_module(module.root, module.path, name, hops + 1)
                    if isinstance(found, Found):
                        return found
        if bare and f.language == "python" and not any(imp.name == "*" for imp in f.imports()):
            return OUTSIDE  # neither defined nor imported: a builtin, a parameter or a local
        return None

    def follow(self, f, imp: Reference, hops: int = 0) -> Found | _Module | str | None:
        """The file an import names and, for `from m import x`, the definition x there."""
        from .lookup import CLOSED, module_paths

        paths = self.paths(f.root)
        files = list(dict.fromkeys(p for c in module_paths(imp, f.path) for p in _existing(c, paths)))
        if not files:
            # nothing indexed answers to it: outside the index where imports map to files (not a
            # relative import whose file is missing); a system header too; unknown otherwise
            closed = f.language in CLOSED and imp.qualifier and not imp.qualifier.startswith(".")
            return OUTSIDE if closed or imp.qualifier.startswith("<") else None
        if imp.target in _SKIP_TARGETS:
            return _Module(f.root, files[0]) if imp.target in ("", "*") else None
        if f.language == "python":
            for p in files:  # `from pkg import mod`: the module itself
                if p.rsplit("/", 1)[-1].split(".", 1)[0] == imp.target and not p.endswith("__init__.py"):
                    return _Module(f.root, p)
        return self.in_module(f.root, files[0], imp.target, hops)

    def in_module(self, root: str, path: str, name: str, hops: int) -> Found | _Module | str | None:
        """The module-level definition `name` in the file, or where the file's import of it leads."""
        g = self.file(root, path)
        if g is None:
            return None
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        d = _defined(g, name) or (_defined(g, f"{stem}.{name}") if g.language == "java" else None)
        if d is not None:  # a Java file's members are its class's (`import static a.b.C.m`)
            return Found(root, path, d)
        if hops >= MAX_HOPS:
            return None
        for imp in g.imports():
            if imp.name == name and not imp.scope:
                return self.follow(g, imp, hops + 1)
        return None

    def enclosing_class(self, f, scope: str) -> Found | None:
        parts = scope.split(".") if scope else []
        for i in range(len(parts), 0, -1):
            d = _defined(f, ".".join(parts[:i]))
            if d is not None and d.kind == "class":
                return Found(f.root, f.path, d)
        return None

    def bases(self, cls: Found) -> tuple[list[Found], bool]:
        """The classes `cls` names as bases that resolve to an indexed class, in order; and whether
        every base resolved (to one of those, or to something outside the index)."""
        f = self.file(cls.root, cls.path)
        if f is None:
            return [], False
        d = cls.definition
        outer = d.qualified.rsplit(".", 1)[0] if "." in d.qualified else ""
        out, complete = [], True
        for r in f.references:
            if r.kind == "inherit" and r.scope == outer and d.start_line <= r.line <= d.end_line:
                found = self.resolve(f, r)
                if isinstance(found, Found) and found.definition.kind in ("class", "interface", "struct", "trait"):
                    out.append(found)
                else:
                    complete &= found == OUTSIDE
        return out, complete

    def member(self, cls: Found, name: str) -> tuple[Found | None, bool]:
        """`name` defined in `cls` or, nearest first, in its bases (depth-first, left to right); and,
        when not found, whether every base was known (so the name is not an indexed definition)."""
        seen: set[tuple[str, str, str, int]] = set()
        stack = [(cls, 0)]
        complete = True
        while stack:
            c, depth = stack.pop(0)
            if c.key in seen:
                continue
            seen.add(c.key)
            f = self.file(c.root, c.path)
            if f is None:
                complete = False
                continue
            d = _defined(f, f"{c.definition.qualified}.{name}")
            if d is not None:
                return Found(c.root, c.path, d), True
            bases, known = self.bases(c)
            complete &= known and depth < MAX_HOPS
            if depth < MAX_HOPS:
                stack[:0] = [(b, depth + 1) for b in bases]
        return None, complete


@dataclass(frozen=True, slots=True)
class _Module:
    root: str
    path: str


def _defined(f, qualified: str) -> Definition | None:
    """The definition in `f` with this qualified name (the last one, as a later `def` replaces an
    earlier one)."""
    found = None
    for d in f.definitions:
        if d.qualified == qualified:
            found = d
    return found


_WRAPPERS = re.compile(r"^(?:[\w.]*\.)?(?:Optional|Final|ClassVar|Annotated)\[(.*)\]$")
_ANY = ("Any", "object", "Self", "None", "")


def _parameter(f, scope: str, name: str) -> tuple[bool, str]:
    """Whether `name` is a parameter of the innermost function around `scope` that has it, and its
    annotation as written ("" without one), from the function's signature (Python, TypeScript).
    A signature cut at its length limit may have lost the parameter: then it is not seen."""
    parts = scope.split(".") if scope else []
    pattern = re.compile(r"[(,]\s*(?:\*{1,2}|\.\.\.)?" + re.escape(name) + r"\??\s*(?::\s*([^=]+?))?\s*(?:=[^,)]*)?\s*(?=[,)])")
    for i in range(len(parts), 0, -1):
        d = _defined(f, ".".join(parts[:i]))
        if d is None or d.kind not in ("function", "method"):
            continue
        params = d.signature[d.signature.find("("):] if "(" in d.signature else ""
        m = pattern.search(_flatten(params))
        if m:
            return True, (m.group(1) or "").strip().strip("'\"")
    return False, ""


def _flatten(params: str) -> str:
    """Commas inside brackets masked (`dict[str, int]` -> `dict[str; int]`), so a parameter ends at
    the next top-level comma or the closing parenthesis."""
    out, depth = [], 0
    for i, ch in enumerate(params):
        if ch in "[{<" or (ch == "(" and i):
            depth += 1
        elif ch in "]})>" and depth > 0:
            depth -= 1
        out.append(";" if ch == "," and depth > 0 else ch)
    return "".join(out)


def _one_class(annotation: str) -> str | None:
    """The one class an annotation names, or None: `Foo | None` -> Foo, `t.Optional[Foo]` -> Foo,
    `"Foo"` -> Foo; `Any`, `A | B` and subscripted generics other than those wrappers -> None."""
    a = annotation.strip().strip("'\"")
    while m := _WRAPPERS.match(a):
        a = m.group(1).split(";")[0].strip().strip("'\"")
    parts = [p.strip() for p in a.split("|") if p.strip() not in ("None", "null", "undefined")]
    if len(parts) != 1 or parts[0] in _ANY or not all(x.isidentifier() for x in parts[0].split(".")):
        return None
    return parts[0]


def _existing(candidate: str, paths: set[str]) -> list[str]:
    if candidate in paths:
        return [candidate]
    return sorted((p for p in paths if p.endswith("/" + candidate)), key=lambda p: (len(p), p))[:1]
