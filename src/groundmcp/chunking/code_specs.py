"""Per-language tables of tree-sitter node types: what is a definition, what holds members, what wraps.

A *leaf* definition (function, method, struct, interface, enum) is chunked whole. A *container* (class,
impl, trait, namespace, module) gets a chunk for its head and one per member definition. A *wrapper*
(decorators, `export`, `template<...>`) extends the definition it holds to its own first line. The
children of a *transparent* node (`#ifdef` blocks, `extern "C" {}`) are scanned as if they were at the
level of the node itself. *Attached* nodes (comments, decorators, attributes) directly above a definition,
with no blank line between, belong to it. A *scope* (namespace, module, impl block) is a container whose
head is no chunk when it is only its opening line: the members' headers name it already.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tree_sitter import Node

NameOf = Callable[[Node], str | None]


@dataclass(frozen=True, slots=True)
class LangSpec:
    leaves: frozenset[str]
    containers: frozenset[str] = frozenset()
    wrappers: frozenset[str] = frozenset()
    transparent: frozenset[str] = frozenset()
    attached: frozenset[str] = frozenset({"comment"})
    scopes: frozenset[str] = frozenset()  # containers that define nothing themselves: no one-line head chunk
    names: dict[str, NameOf] = field(default_factory=dict)  # node type -> name, default: the `name` field


def text_of(node: Node | None) -> str | None:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else None


def field_name(node: Node) -> str | None:
    return text_of(node.child_by_field_name("name"))


def _strip_generics(name: str | None) -> str | None:
    return name.split("<", 1)[0].strip() if name else name


def _declarator_name(node: Node) -> str | None:
    """The name inside a C/C++ declarator chain: `*f(int)` -> f, `ns::Foo::bar(...)` -> ns.Foo.bar."""
    current: Node | None = node.child_by_field_name("declarator")
    while current is not None:
        if current.type in (
            "identifier",
            "field_identifier",
            "type_identifier",
            "operator_name",
            "destructor_name",
            "qualified_identifier",
            "primitive_type",
        ):
            name = text_of(current) or ""
            return "".join(name.split()).replace("::", ".")
        inner = current.child_by_field_name("declarator")
        if inner is None:
            inner = next((c for c in current.named_children if "declarator" in c.type or "identifier" in c.type), None)
        current = inner
    return None


def _c_record_name(node: Node) -> str | None:
    """struct/union/enum/class with a body; a forward declaration is not a definition."""
    if node.child_by_field_name("body") is None:
        return None
    return text_of(node.child_by_field_name("name"))


def _c_typedef_name(node: Node) -> str | None:
    kind = node.child_by_field_name("type")
    if kind is None or kind.child_by_field_name("body") is None:
        return None
    return text_of(node.child_by_field_name("declarator"))


def _namespace_name(node: Node) -> str | None:
    return field_name(node) or "(anonymous)"


def _go_method_name(node: Node) -> str | None:
    name = field_name(node)
    receiver = node.child_by_field_name("receiver")
    stack = [receiver] if receiver is not None else []
    while stack:
        current = stack.pop(0)
        if current.type == "type_identifier":
            return f"{text_of(current)}.{name}"
        stack.extend(current.named_children)
    return name


def _go_type_name(node: Node) -> str | None:
    specs = [c for c in node.named_children if c.type in ("type_spec", "type_alias")]
    return field_name(specs[0]) if len(specs) == 1 else None


def _rust_impl_name(node: Node) -> str | None:
    return _strip_generics(text_of(node.child_by_field_name("type")))


_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function", "class", "class_expression"}
)


def js_function_value(node: Node) -> Node | None:
    """The function a JavaScript definition binds, else None: `const f = () => ...` (one declarator
    only); a function wrapped in a call, `var f = baseRest(function(a, b) {...})` or `const g =
    memoize((x) => ...)`; the right side of `module.exports.f = function`, `exports.f = () =>`
    or `Foo.prototype.f = function`."""
    if node.type == "assignment_expression":
        return _function_in(node.child_by_field_name("right"))
    declarators = [c for c in node.named_children if c.type == "variable_declarator"]
    if len(declarators) != 1:
        return None
    return _function_in(declarators[0].child_by_field_name("value"))


def _function_in(value: Node | None) -> Node | None:
    """`value` if it is a function or class; for a call (`wrap(function () {})`, curried
    `wrap(a)(function () {})`), the first function among its arguments."""
    if value is None:
        return None
    if value.type in _FUNCTION_VALUES:
        return value
    if value.type == "call_expression":
        args = value.child_by_field_name("arguments")
        for arg in args.named_children if args is not None else ():
            if arg.type in _FUNCTION_VALUES:
                return arg
        return _function_in(value.child_by_field_name("function")) if args is not None else None
    return None


def _js_assignment_name(node: Node) -> str | None:
    """`module.exports.f = function` -> f, `exports.f = () =>` -> f, `Foo.prototype.f = function` ->
    Foo.f; None for anything else (`a.b = 1`, `this.x = function`, a computed target), and for
    `module.exports = function`: that function is the module itself, which has no name of its own,
    so its lines are the module's code (no symbol), as the symbols index walks its body (a symbol
    `module.exports` would name no definition, and `find_symbol` could not go from the hit to one)."""
    left = node.child_by_field_name("left")
    if left is None or left.type != "member_expression" or _function_in(node.child_by_field_name("right")) is None:
        return None
    prop, owner = text_of(left.child_by_field_name("property")), text_of(left.child_by_field_name("object"))
    if not prop or not owner or "(" in owner or owner == "this" or "[" in owner or f"{owner}.{prop}" == "module.exports":
        return None
    owner = owner.removesuffix(".prototype")
    return prop if owner in ("module.exports", "exports") else f"{owner}.{prop}"


def _js_variable_name(node: Node) -> str | None:
    if js_function_value(node) is None:
        return None
    return text_of(node.named_children[0].child_by_field_name("name")) if node.named_children else None


_PYTHON = LangSpec(
    leaves=frozenset({"function_definition"}),
    containers=frozenset({"class_definition"}),
    wrappers=frozenset({"decorated_definition"}),
)

_JS_NAMES: dict[str, NameOf] = {
    "lexical_declaration": _js_variable_name,
    "variable_declaration": _js_variable_name,
    "assignment_expression": _js_assignment_name,
}
_JAVASCRIPT = LangSpec(
    leaves=frozenset(
        {
            "function_declaration",
            "generator_function_declaration",
            "method_definition",
            "lexical_declaration",
            "variable_declaration",
            "assignment_expression",
        }
    ),
    containers=frozenset({"class_declaration", "class"}),
    wrappers=frozenset({"export_statement", "expression_statement"}),
    attached=frozenset({"comment", "decorator"}),
    names=_JS_NAMES,
)
_TYPESCRIPT = LangSpec(
    leaves=_JAVASCRIPT.leaves
    | {
        "function_signature",
        "abstract_method_signature",
        "interface_declaration",
        "enum_declaration",
        "type_alias_declaration",
    },
    containers=_JAVASCRIPT.containers | {"abstract_class_declaration", "internal_module", "module"},
    wrappers=_JAVASCRIPT.wrappers | {"ambient_declaration"},
    attached=_JAVASCRIPT.attached,
    scopes=frozenset({"internal_module", "module"}),
    names={**_JS_NAMES, "internal_module": _namespace_name, "module": _namespace_name},
)

_GO = LangSpec(
    leaves=frozenset({"function_declaration", "method_declaration", "type_declaration"}),
    names={"method_declaration": _go_method_name, "type_declaration": _go_type_name},
)

_RUST = LangSpec(
    leaves=frozenset(
        {
            "function_item",
            "function_signature_item",
            "struct_item",
            "enum_item",
            "union_item",
            "macro_definition",
            "type_item",
        }
    ),
    containers=frozenset({"impl_item", "trait_item", "mod_item"}),
    attached=frozenset({"line_comment", "block_comment", "attribute_item"}),
    scopes=frozenset({"impl_item", "mod_item"}),
    names={"impl_item": _rust_impl_name},
)

_JAVA = LangSpec(
    leaves=frozenset({"method_declaration", "constructor_declaration", "compact_constructor_declaration"}),
    containers=frozenset(
        {
            "class_declaration",
            "interface_declaration",
            "enum_declaration",
            "record_declaration",
            "annotation_type_declaration",
        }
    ),
    transparent=frozenset({"enum_body_declarations"}),
    attached=frozenset({"line_comment", "block_comment"}),
)

_C_PREPROC = frozenset(
    {
        "preproc_if",
        "preproc_ifdef",
        "preproc_else",
        "preproc_elif",
        "preproc_elifdef",
        "linkage_specification",
        "declaration_list",
    }
)
_C_NAMES: dict[str, NameOf] = {
    "function_definition": _declarator_name,
    "struct_specifier": _c_record_name,
    "union_specifier": _c_record_name,
    "enum_specifier": _c_record_name,
    "type_definition": _c_typedef_name,
}
_C = LangSpec(
    leaves=frozenset(
        {"function_definition", "struct_specifier", "union_specifier", "enum_specifier", "type_definition"}
    ),
    transparent=_C_PREPROC,
    names=_C_NAMES,
)
_CPP = LangSpec(
    leaves=frozenset(
        {
            "function_definition",
            "enum_specifier",
            "union_specifier",
            "type_definition",
            "alias_declaration",
            "concept_definition",
        }
    ),
    containers=frozenset({"class_specifier", "struct_specifier", "namespace_definition"}),
    wrappers=frozenset({"template_declaration"}),
    transparent=_C_PREPROC,
    scopes=frozenset({"namespace_definition"}),
    names={**_C_NAMES, "class_specifier": _c_record_name, "namespace_definition": _namespace_name},
)

SPECS: dict[str, LangSpec] = {
    "python": _PYTHON,
    "javascript": _JAVASCRIPT,
    "typescript": _TYPESCRIPT,
    "tsx": _TYPESCRIPT,
    "go": _GO,
    "rust": _RUST,
    "java": _JAVA,
    "c": _C,
    "cpp": _CPP,
}
