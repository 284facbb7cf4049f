"""Go, Rust, Java, C and C++: the definitions the chunker's tables know (`chunking.code_specs`),
with their nesting (`Type.method`, `ns.Class.method`, a Go method under its receiver type), and
calls by the name they end with. Imports (`#include`, `use`, Go and Java `import`) are not
recorded yet, so references in these languages rank by file and folder only.
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
        if kind in _CALLS:
            callee = node.child_by_field_name(_CALLS[kind])
            qualifier, name = _last_name(callee)
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
