"""JavaScript and TypeScript (and TSX): function, generator and class declarations, methods and
fields of classes and of object literals bound to a name, `const f = (...) =>` and
`const f = function`, a function or class wrapped in a call and bound to a name (`var f =
baseRest(function…)`, `const g = curry(2)((a, b) => …)`: the first function among the call's
arguments, as the chunker takes it), CommonJS `module.exports.f = ...` / `exports.f = ...` and
`Foo.prototype.f = ...` / `Foo.f = ...` (a function, or one wrapped so), top-level
`const`/`let`/`var` names; in TypeScript also interfaces, type
aliases, enums, namespaces and the method signatures of interfaces and abstract classes. References:
calls and `new` (bare or through a member), `extends`/`implements`, decorators, and imports
(`import`, `export ... from`, `require`) with what they bind.

Not resolved: what a value holds at run time (`obj.run()` is a reference to `run` reached through
`obj`), computed member names (`Foo[name] = function`), `this.f = function` (an instance's field,
not a definition), `module.exports = function` (it names the module, which has no name of its own:
its body is walked as the module's code), and dynamic `import()` or `require` of a computed path.
"""

from __future__ import annotations

from tree_sitter import Node

from .walk import Out, Scope, text

_FUNCTIONS = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_CLASSES = frozenset({"class", "class_expression"})
_DECLARED = {
    "function_declaration": "function",
    "generator_function_declaration": "function",
    "function_signature": "function",
    "interface_declaration": "interface",
    "type_alias_declaration": "type",
    "enum_declaration": "enum",
}
_CLASS_DECLS = frozenset({"class_declaration", "abstract_class_declaration", "class"})
_MEMBER_SIGNATURES = frozenset({"method_signature", "abstract_method_signature"})
_FIELDS = frozenset({"field_definition", "public_field_definition"})
_EXPORTS_OBJECTS = frozenset({"module.exports", "exports"})


def function_in(value: Node | None) -> Node | None:
    """The function or class a value binds: the value itself, or for a call (`wrap(function…)`,
    curried `wrap(a)(function…)`) the first function among its arguments, else in its callee when
    that is a call too. The chunker's rule (`js_function_value`), so a chunk's symbol is a definition
    here, except that an immediately invoked `var x = function () {…}()` binds its result."""
    if value is None:
        return None
    if value.type in _FUNCTIONS or value.type in _CLASSES:
        return value
    if value.type == "call_expression":
        args = value.child_by_field_name("arguments")
        if args is None:  # a tagged template
            return None
        for arg in args.named_children:
            if arg.type in _FUNCTIONS or arg.type in _CLASSES:
                return arg
        # curried `wrap(a)(function…)`; but `(function () {…})()` binds the function's result
        callee = value.child_by_field_name("function")
        return function_in(callee) if callee is not None and callee.type == "call_expression" else None
    return None


def visit(node: Node, scope: Scope, out: Out):
    kind = node.type
    start = _outer(node)
    if kind in _DECLARED:
        name = text(node.child_by_field_name("name"))
        body = node.child_by_field_name("body")
        def_kind = _DECLARED[kind]
        if def_kind == "function" and scope.kind == "class":
            def_kind = "method"
        out.define(def_kind, name, scope.qualify(name), node, start=start, body=body)
        if kind == "interface_declaration":
            yield from _heritage(node, scope, out)
            if body is not None:
                yield (body, scope.enter(name, "interface"))
            return
        if kind in ("function_declaration", "generator_function_declaration"):
            yield from _function_parts(node, scope, scope.enter(name, "function"))
            return
        return
    if kind in _CLASS_DECLS and node.child_by_field_name("name") is not None:
        name = text(node.child_by_field_name("name"))
        out.define("class", name, scope.qualify(name), node, start=start, body=node.child_by_field_name("body"))
        yield from _class_parts(node, scope, scope.enter(name, "class"), out)
        return
    if kind in ("internal_module", "module") and node.child_by_field_name("body") is not None:
        name = text(node.child_by_field_name("name")).strip("'\"")
        out.define("module", name, scope.qualify(name), node, start=start, body=node.child_by_field_name("body"))
        yield (node.child_by_field_name("body"), scope.enter(name, "module"))
        return
    if (kind == "method_definition" or kind in _MEMBER_SIGNATURES) and scope.kind != "anonymous":
        name = _member_name(node.child_by_field_name("name"))
        if not name:  # `[Symbol.iterator]() {…}`: its calls belong to the class
            yield from _function_parts(node, scope, Scope(scope.names, "function"))
            return
        out.define("method", name, scope.qualify(name), node, body=node.child_by_field_name("body"))
        yield from _function_parts(node, scope, scope.enter(name, "function"))
        return
    if kind in _FIELDS and scope.kind == "class":
        yield from _field(node, scope, out)
        return
    if kind == "pair" and scope.kind == "object":
        key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        name = _member_name(key)
        if name and value is not None and value.type in _FUNCTIONS:
            out.define("method", name, scope.qualify(name), node, body=value.child_by_field_name("body"))
            yield from _function_parts(value, scope, scope.enter(name, "function"))
            return
        if name and value is not None and value.type == "object":
            yield (value, scope.enter(name, "object"))
            return
    if kind in ("lexical_declaration", "variable_declaration"):
        yield from _declarators(node, scope, out, start)
        return
    if kind == "assignment_expression":
        yield from _assignment(node, scope, out)
        return
    if kind in ("call_expression", "new_expression"):
        yield from _call(node, scope, out)
        return
    if kind == "decorator" and node.named_children:
        expr = node.named_children[0]
        target = expr.child_by_field_name("function") if expr.type == "call_expression" else expr
        _refer_expr(out, target, "decorator", node, scope)
        args = expr.child_by_field_name("arguments") if expr.type == "call_expression" else None
        if args is not None:
            yield (args, scope)
        return
    if kind in ("import_statement", "export_statement") and node.child_by_field_name("source") is not None:
        _imports(node, scope, out)
        return
    if kind in ("object", "arrow_function", "function_expression", "function", "generator_function"):
        # Anonymous: its calls belong to the enclosing definition; an object literal's methods are
        # recorded only when the object is bound to a name (see `_declarators`).
        inner = Scope(scope.names, "anonymous") if kind == "object" and scope.kind != "object" else scope
        yield from [(c, inner) for c in node.named_children]
        return
    yield from [(c, scope) for c in node.named_children]


def _member_name(node: Node | None) -> str:
    """A member's name as written (quotes dropped); "" for a computed one (`[Symbol.iterator]`)."""
    if node is None or node.type == "computed_property_name":
        return ""
    return text(node).strip("'\"")


def _outer(node: Node) -> Node:
    """The `export` (or `declare`) statement around a declaration, which its lines take in."""
    parent = node.parent
    if parent is not None and parent.type in ("export_statement", "ambient_declaration"):
        return parent
    return node


def _function_parts(node: Node, outer: Scope, inner: Scope):
    for child in node.named_children:
        if child.type in ("statement_block", "class_body") or child == node.child_by_field_name("body"):
            yield (child, inner)
        elif child.type not in ("identifier", "property_identifier", "private_property_identifier", "type_identifier"):
            yield (child, outer)  # parameters' defaults, decorators, types


def _class_parts(node: Node, outer: Scope, inner: Scope, out: Out):
    yield from _heritage(node, outer, out)
    for child in node.named_children:
        if child.type == "class_body":
            yield (child, inner)
        elif child.type == "decorator":
            yield (child, outer)


def _heritage(node: Node, scope: Scope, out: Out):
    """`extends B`, `implements C`: a reference to each base; other expressions are walked."""
    clauses = [c for c in node.named_children if c.type in ("class_heritage", "extends_type_clause")]
    for clause in clauses:
        parts = clause.named_children if clause.type == "class_heritage" else [clause]
        for part in parts:
            bases = part.named_children if part.type.endswith("_clause") else [part]
            for base in bases:
                if base.type in ("identifier", "type_identifier", "member_expression", "nested_type_identifier"):
                    _refer_expr(out, base, "inherit", base, scope)
                elif base.type == "generic_type":
                    _refer_expr(out, base.child_by_field_name("name") or base.named_children[0], "inherit", base, scope)
                else:
                    yield (base, scope)


def _field(node: Node, scope: Scope, out: Out):
    name = _member_name(node.child_by_field_name("name") or node.child_by_field_name("property"))
    value = node.child_by_field_name("value")
    if not name:  # a computed name
        if value is not None:
            yield (value, scope)
        return
    if value is not None and value.type in _FUNCTIONS:
        out.define("method", name, scope.qualify(name), node, body=value.child_by_field_name("body"))
        yield from _function_parts(value, scope, scope.enter(name, "function"))
        return
    out.define("property", name, scope.qualify(name), node, body=value)
    if value is not None:
        yield (value, scope)


def _declarators(node: Node, scope: Scope, out: Out, start: Node):
    for decl in node.named_children:
        if decl.type != "variable_declarator":
            continue
        name_node, value = decl.child_by_field_name("name"), decl.child_by_field_name("value")
        if value is not None and _is_require(value):
            _require(name_node, value, scope, out)
            continue
        if name_node is None or name_node.type != "identifier":
            if value is not None:
                yield (value, scope)
            continue
        name = text(name_node)
        one = len([d for d in node.named_children if d.type == "variable_declarator"]) == 1
        span = node if one else decl
        first = start if one else None
        fn = function_in(value)
        if fn is not None and fn.type in _FUNCTIONS:
            kind = "method" if scope.kind == "class" else "function"
            out.define(kind, name, scope.qualify(name), span, start=first, body=fn.child_by_field_name("body"))
            yield from _around(value, fn, scope, scope.enter(name, "function"), out)
        elif fn is not None:
            out.define("class", name, scope.qualify(name), span, start=first, body=fn.child_by_field_name("body"))
            yield from _around(value, fn, scope, scope.enter(name, "class"), out)
        elif scope.kind in ("module", "object"):
            out.define("variable", name, scope.qualify(name), span, start=first, body=value)
            if value is not None:
                yield (value, scope.enter(name, "object") if value.type == "object" else scope)
        elif value is not None:
            yield (value, scope)


def _assignment(node: Node, scope: Scope, out: Out):
    """`module.exports.f = function`, `exports.f = () =>`, `Foo.prototype.f = function`, `Foo.f = ...`,
    and each of these with the function wrapped in a call (`exports.f = wrap(function…)`)."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    fn = function_in(right)
    if left is not None and left.type == "member_expression" and fn is not None and fn.type in _FUNCTIONS:
        name = text(left.child_by_field_name("property"))
        owner = text(left.child_by_field_name("object")).removesuffix(".prototype")
        qualified = name if owner in _EXPORTS_OBJECTS else f"{owner}.{name}"
        if owner and not any(c in owner for c in "([") and owner != "this" and qualified != "module.exports":
            statement = node.parent if node.parent is not None and node.parent.type == "expression_statement" else node
            kind = "function" if owner in _EXPORTS_OBJECTS else "method"
            out.define(kind, name, qualified, statement, body=fn.child_by_field_name("body"))
            yield from _around(right, fn, scope, Scope(tuple(qualified.split(".")), "function"), out)
            return
    yield from [(c, scope) for c in node.named_children]


def _around(value: Node, fn: Node, outer: Scope, inner: Scope, out: Out):
    """Walk a bound value: the function or class `fn` in `inner`; the calls that wrap it
    (`wrap(a)(function…)`) and their other arguments in `outer`, where they run."""
    if value == fn:
        if fn.type in _CLASSES:
            yield from _class_parts(fn, outer, inner, out)
        else:
            yield from _function_parts(fn, outer, inner)
        return
    callee, args = value.child_by_field_name("function"), value.child_by_field_name("arguments")
    _refer_expr(out, callee, "call", value, outer)
    if callee is not None and callee.type == "call_expression":
        yield from _around(callee, fn, outer, inner, out)
    elif callee is not None and callee.type != "identifier":
        yield (callee, outer)
    for arg in args.named_children if args is not None else ():
        if arg == fn:
            yield from _around(arg, fn, outer, inner, out)
        else:
            yield (arg, outer)


def _call(node: Node, scope: Scope, out: Out):
    kind = "new" if node.type == "new_expression" else "call"
    fn = node.child_by_field_name("constructor" if kind == "new" else "function")
    if fn is not None and fn.type == "import":
        return
    _refer_expr(out, fn, kind, node, scope)
    if fn is not None and fn.type == "member_expression":
        yield (fn.child_by_field_name("object"), scope)
    elif fn is not None and fn.type not in ("identifier", "super", "this"):
        yield (fn, scope)
    for child in node.named_children:
        if child.type == "arguments" or child.type == "template_string":
            yield (child, scope)


def _refer_expr(out: Out, expr: Node | None, kind: str, at: Node, scope: Scope) -> None:
    if expr is None:
        return
    if expr.type in ("identifier", "type_identifier"):
        out.refer(text(expr), kind, at, scope)
    elif expr.type == "member_expression":
        out.refer(text(expr.child_by_field_name("property")), kind, at, scope,
                  qualifier=text(expr.child_by_field_name("object")))
    elif expr.type == "nested_type_identifier":
        out.refer(text(expr.child_by_field_name("name")), kind, at, scope,
                  qualifier=text(expr.child_by_field_name("module")))


def _imports(node: Node, scope: Scope, out: Out) -> None:
    source = text(node.child_by_field_name("source")).strip("'\"`")
    found = False
    for child in node.named_children:
        if child.type == "import_clause":
            for part in child.named_children:
                if part.type == "identifier":
                    out.refer(text(part), "import", node, scope, qualifier=source, target="default")
                    found = True
                elif part.type == "namespace_import":
                    ident = next((c for c in part.named_children if c.type == "identifier"), None)
                    out.refer(text(ident), "import", node, scope, qualifier=source, target="*")
                    found = True
                elif part.type == "named_imports":
                    found |= _specifiers(part, "import_specifier", node, scope, out, source)
        elif child.type == "export_clause":
            found |= _specifiers(child, "export_specifier", node, scope, out, source)
        elif child.type == "namespace_export":
            out.refer(text(child.named_children[0]) if child.named_children else "*", "import", node, scope,
                      qualifier=source, target="*")
            found = True
    if not found:  # `import './side-effect'`, `export * from './all'`
        out.refer("*", "import", node, scope, qualifier=source, target="*")


def _specifiers(parent: Node, kind: str, at: Node, scope: Scope, out: Out, source: str) -> bool:
    found = False
    for spec in parent.named_children:
        if spec.type != kind:
            continue
        name = text(spec.child_by_field_name("name"))
        alias = spec.child_by_field_name("alias")
        out.refer(text(alias) if alias is not None else name, "import", at, scope, qualifier=source, target=name)
        found = True
    return found


def _is_require(value: Node) -> bool:
    if value.type != "call_expression":
        return False
    fn, args = value.child_by_field_name("function"), value.child_by_field_name("arguments")
    return (
        fn is not None and text(fn) == "require" and args is not None
        and len(args.named_children) == 1 and args.named_children[0].type == "string"
    )


def _require(name_node: Node | None, value: Node, scope: Scope, out: Out) -> None:
    """`const m = require('m')`, `const {a, b: c} = require('m')`."""
    args = value.child_by_field_name("arguments")
    source = text(args.named_children[0]).strip("'\"`") if args is not None else ""
    if name_node is None:
        return
    if name_node.type == "identifier":
        out.refer(text(name_node), "import", value, scope, qualifier=source, target="")
    elif name_node.type == "object_pattern":
        for part in name_node.named_children:
            if part.type == "shorthand_property_identifier_pattern":
                out.refer(text(part), "import", value, scope, qualifier=source, target=text(part))
            elif part.type == "pair_pattern":
                key, alias = part.child_by_field_name("key"), part.child_by_field_name("value")
                out.refer(text(alias), "import", value, scope, qualifier=source, target=text(key))
