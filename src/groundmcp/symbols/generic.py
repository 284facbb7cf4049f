"""Go, Rust, Java, C and C++: the definitions the chunker's tables know (`chunking.code_specs`),
with their nesting (`Type.method`, `ns.Class.method`, a Go method under its receiver type), calls
by the name they end with, and imports with the name each binds (`model.Reference`: `name` the
name bound, `qualifier` the module as written, `target` the name in it, "*" for all of them):

- Go `import f "os/exec"`: f (the last path element when unaliased), from "os/exec"; a dot import
  binds "*"; a blank one nothing.
- Rust `use a::b::{c, d as e}`: c and e (target d) from "a::b"; `use a::b::*`: "*"; `self` in a
  list binds the list's module; `extern crate foo`: foo.
- Java `import a.b.C`: C from "a.b"; `import static a.b.C.m`: m from "a.b.C"; `.*`: "*".
- C and C++ `#include "x.h"` / `<x.h>`: "*" from the header as written; C++ `using namespace n`:
  "*" from n, `using n::x`: x from n, `namespace f = a::b`: f, the namespace a::b.

Which file an import names is resolved for Java (the class's path under any source root) and for
C/C++ quoted includes (next to the including file, else a path ending so); Go packages and Rust
modules are not mapped to files, so references through them rank by file and folder only.
"""

from __future__ import annotations

from tree_sitter import Node

from ..chunking.code_specs import LangSpec, field_name
from .walk import Out, Scope, text

_KINDS = {
    "function_definition": "function",
    "function_declaration": "function",
    "function_item": "function",
    "function_signature_item": "function",
    "method_declaration": "method",
    "constructor_declaration": "method",
    "compact_constructor_declaration": "method",
    "class_declaration": "class",
    "class_specifier": "class",
    "record_declaration": "class",
    "annotation_type_declaration": "interface",
    "interface_declaration": "interface",
    "trait_item": "trait",
    "struct_item": "struct",
    "struct_specifier": "struct",
    "union_item": "struct",
    "union_specifier": "struct",
    "enum_item": "enum",
    "enum_specifier": "enum",
    "enum_declaration": "enum",
    "type_item": "type",
    "type_definition": "type",
    "type_declaration": "type",
    "alias_declaration": "type",
    "concept_definition": "type",
    "macro_definition": "macro",
    "mod_item": "module",
    "namespace_definition": "module",
}
_NOT_DEFINITIONS = frozenset({"impl_item"})  # a scope only: its members are the type's methods
_CALLS = {  # node type -> the field holding what is called
    "call_expression": "function",
    "method_invocation": "name",
    "object_creation_expression": "type",
    "macro_invocation": "macro",
}
_NAME_NODES = frozenset(
    {"identifier", "field_identifier", "type_identifier", "property_identifier", "scoped_identifier",
     "qualified_identifier", "selector_expression", "field_expression", "generic_type", "scoped_type_identifier"}
)


def visitor(spec: LangSpec):
    def visit(node: Node, scope: Scope, out: Out):
        kind = node.type
        if kind in spec.leaves or kind in spec.containers:
            name = spec.names.get(kind, field_name)(node)
            if name:
                parts = name.split(".")
                qualified = scope.qualify(name)
                body = node.child_by_field_name("body")
                if kind not in _NOT_DEFINITIONS:
                    def_kind = _KINDS.get(kind, "function")
                    if def_kind == "function" and (scope.kind == "class" or len(parts) > 1):
                        def_kind = "method"
                    start = node.parent if node.parent is not None and node.parent.type in spec.wrappers else node
                    out.define(def_kind, parts[-1], qualified, node, start=start, body=body)
                inner_kind = "class" if kind in spec.containers else "function"
                yield from [(c, scope.enter(name, inner_kind)) for c in node.named_children]
                return
        if kind in _IMPORTS:
            _IMPORTS[kind](node, scope, out)
            return
        if kind in _CALLS:
            callee = node.child_by_field_name(_CALLS[kind])
            qualifier, name = _last_name(callee)
            if kind == "method_invocation" and node.child_by_field_name("object") is not None:
                qualifier = text(node.child_by_field_name("object"))  # `a.b.m()`: m reached through a.b
            out.refer(name, "new" if kind == "object_creation_expression" else "call", node, scope, qualifier)
            if kind == "method_invocation":
                obj = node.child_by_field_name("object")
                if obj is not None:
                    yield (obj, scope)
            elif callee is not None and callee.type not in _NAME_NODES:
                yield (callee, scope)
            for child in node.named_children:
                if child.type in ("argument_list", "arguments", "token_tree"):
                    yield (child, scope)
            return
        yield from [(c, scope) for c in node.named_children]

    return visit


def _last_name(node: Node | None) -> tuple[str, str]:
    """(qualifier, name) of a callee: `f` -> ("", f); `a.b.f`, `a::f`, `a->f` -> ("a.b", f)."""
    if node is None or node.type not in _NAME_NODES:
        return "", ""
    if node.type == "generic_type":
        inner = node.named_children[0] if node.named_children else None
        return _last_name(inner)
    whole = text(node)
    for sep in ("::", "->", "."):
        whole = whole.replace(sep, ".")
    head, _, last = whole.rpartition(".")
    return head, last.split("<", 1)[0].strip()


def _go_import(node: Node, scope: Scope, out: Out) -> None:
    for spec in _descendants(node, "import_spec"):
        path = text(spec.child_by_field_name("path")).strip('"`')
        name = spec.child_by_field_name("name")
        if name is not None and name.type == "blank_identifier":
            continue
        if name is not None and name.type == "dot":
            out.refer("*", "import", spec, scope, qualifier=path, target="*")
        else:
            out.refer(text(name) if name is not None else path.rsplit("/", 1)[-1], "import", spec, scope,
                      qualifier=path)


def _rust_use(node: Node, scope: Scope, out: Out) -> None:
    if node.type == "extern_crate_declaration":
        name, alias = node.child_by_field_name("name"), node.child_by_field_name("alias")
        out.refer(text(alias or name), "import", node, scope, qualifier=text(name))
        return
    _rust_tree(node.child_by_field_name("argument"), "", node, scope, out)


def _rust_tree(arg: Node | None, prefix: str, at: Node, scope: Scope, out: Out) -> None:
    """One `use` tree under the path `prefix` ("a::b")."""
    if arg is None:
        return
    def join(part: str) -> str:
        return f"{prefix}::{part}" if prefix and part else prefix or part

    kind = arg.type
    if kind in ("identifier", "scoped_identifier", "crate", "super", "self"):
        whole = join(text(arg))
        module, _, name = whole.rpartition("::")
        if name == "self":  # `use a::b::{self}`: b
            module, _, name = module.rpartition("::")
        out.refer(name, "import", at, scope, qualifier=module, target=name)
    elif kind == "use_as_clause":
        whole = join(text(arg.child_by_field_name("path")))
        module, _, name = whole.rpartition("::")
        out.refer(text(arg.child_by_field_name("alias")), "import", at, scope, qualifier=module, target=name)
    elif kind == "use_wildcard":
        inner = arg.named_children[0] if arg.named_children else None
        out.refer("*", "import", at, scope, qualifier=join(text(inner)), target="*")
    elif kind == "scoped_use_list":
        path = arg.child_by_field_name("path")
        _rust_tree(arg.child_by_field_name("list"), join(text(path)) if path is not None else prefix, at, scope, out)
    elif kind == "use_list":
        for child in arg.named_children:
            _rust_tree(child, prefix, at, scope, out)


def _java_import(node: Node, scope: Scope, out: Out) -> None:
    name = next((c for c in node.named_children if c.type in ("scoped_identifier", "identifier")), None)
    whole = text(name)
    if any(c.type == "asterisk" for c in node.named_children):
        out.refer("*", "import", node, scope, qualifier=whole, target="*")
        return
    module, _, last = whole.rpartition(".")
    out.refer(last, "import", node, scope, qualifier=module, target=last)


def _include(node: Node, scope: Scope, out: Out) -> None:
    path = node.child_by_field_name("path")
    if path is not None:
        written = text(path).strip('"') if path.type == "string_literal" else text(path)
        out.refer("*", "import", node, scope, qualifier=written, target="*")


def _cpp_using(node: Node, scope: Scope, out: Out) -> None:
    if node.type == "namespace_alias_definition":
        target = next((c for c in node.named_children if c.type in ("nested_namespace_specifier", "namespace_identifier")
                       and c != node.child_by_field_name("name")), None)
        out.refer(text(node.child_by_field_name("name")), "import", node, scope, qualifier=text(target))
        return
    named = node.named_children[0] if node.named_children else None
    if named is None:
        return
    if any(c.type == "namespace" for c in node.children):  # `using namespace std;`
        out.refer("*", "import", node, scope, qualifier=text(named), target="*")
        return
    module, _, name = text(named).rpartition("::")
    out.refer(name, "import", node, scope, qualifier=module, target=name)


def _descendants(node: Node, kind: str) -> list[Node]:
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if n.type == kind:
            out.append(n)
        else:
            stack.extend(reversed(n.named_children))
    return out


_IMPORTS = {
    "import_declaration": lambda n, s, o: (_go_import if n.child_by_field_name("path") is None
                                           and any(c.type in ("import_spec", "import_spec_list") for c in n.named_children)
                                           else _java_import)(n, s, o),
    "use_declaration": _rust_use,
    "extern_crate_declaration": _rust_use,
    "preproc_include": _include,
    "using_declaration": _cpp_using,
    "namespace_alias_definition": _cpp_using,
}
