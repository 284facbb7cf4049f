"""Python: functions, methods, classes (nested ones too) and module or class level names assigned;
calls (bare and through an attribute), base classes, decorators, and imports with what they bind.

Not resolved: what a name holds at run time (an attribute call `obj.run()` is recorded as a
reference to `run` reached through `obj`, whatever `obj` is), names made by `globals()`, `setattr`
or metaclasses, and plain reads of a name that is not called.
"""

from __future__ import annotations

from tree_sitter import Node

from .walk import Out, Scope, text


def visit(node: Node, scope: Scope, out: Out):
    kind = node.type
    if kind == "decorated_definition":
        inner = node.child_by_field_name("definition")
        for dec in node.named_children:
            if dec.type == "decorator" and dec.named_children:
                expr = dec.named_children[0]
                target = expr.child_by_field_name("function") if expr.type == "call" else expr
                _refer_expr(out, target, "decorator", dec, scope)
                args = expr.child_by_field_name("arguments") if expr.type == "call" else None
                if args is not None:
                    yield (args, scope)
        if inner is not None:
            yield from _definition(inner, scope, out, start=node)
        return
    if kind in ("function_definition", "class_definition"):
        yield from _definition(node, scope, out)
        return
    if kind == "call":
        fn = node.child_by_field_name("function")
        _refer_expr(out, fn, "call", node, scope)
        if fn is not None and fn.type == "attribute":
            yield (fn.child_by_field_name("object"), scope)  # `a.b().c()`: the inner call
        elif fn is not None and fn.type != "identifier":
            yield (fn, scope)  # `f()()`, `(lambda: g())()`
        args = node.child_by_field_name("arguments")
        if args is not None:
            yield (args, scope)
        return
    if kind == "import_statement":
        for item in node.named_children:
            module = item.child_by_field_name("name") if item.type == "aliased_import" else item
            alias = item.child_by_field_name("alias") if item.type == "aliased_import" else None
            dotted = text(module)
            bound = text(alias) if alias is not None else dotted.split(".")[0]
            out.refer(bound, "import", node, scope, qualifier=dotted)
        return
    if kind == "import_from_statement":
        module_node = node.child_by_field_name("module_name")
        module = text(module_node)
        for item in node.named_children:
            if module_node is not None and item.start_byte == module_node.start_byte:
                continue
            if item.type == "wildcard_import":
                out.refer("*", "import", node, scope, qualifier=module, target="*")
            elif item.type == "aliased_import":
                name = text(item.child_by_field_name("name"))
                out.refer(text(item.child_by_field_name("alias")), "import", node, scope, qualifier=module, target=name)
            elif item.type == "dotted_name":
                out.refer(text(item), "import", node, scope, qualifier=module, target=text(item))
        return
    if kind == "expression_statement" and scope.kind != "function":
        _assignment(node, scope, out)
    yield from [(c, scope) for c in node.named_children]


def _definition(node: Node, scope: Scope, out: Out, *, start: Node | None = None):
    name = text(node.child_by_field_name("name"))
    body = node.child_by_field_name("body")
    if node.type == "class_definition":
        out.define("class", name, scope.qualify(name), node, start=start, body=body)
        supers = node.child_by_field_name("superclasses")
        for base in supers.named_children if supers is not None else ():
            if base.type in ("identifier", "attribute"):
                _refer_expr(out, base, "inherit", base, scope)
            else:  # `metaclass=M`, `Generic[T]`: walked for the calls in them
                yield (base, scope)
        inner = scope.enter(name, "class")
    else:
        out.define("method" if scope.kind == "class" else "function", name, scope.qualify(name), node, start=start,
                   body=body)
        inner = scope.enter(name, "function")
        # Defaults and annotations run in the enclosing scope.
        for part in ("parameters", "return_type"):
            child = node.child_by_field_name(part)
            if child is not None:
                yield (child, scope)
    if body is not None:
        yield (body, inner)


def _assignment(node: Node, scope: Scope, out: Out) -> None:
    """`NAME = ...` or `NAME: T = ...` at module or class level defines NAME."""
    for expr in node.named_children:
        if expr.type != "assignment":
            continue
        left = expr.child_by_field_name("left")
        targets = [left] if left is not None and left.type == "identifier" else []
        if left is not None and left.type in ("pattern_list", "tuple_pattern"):
            targets = [c for c in left.named_children if c.type == "identifier"]
        for target in targets:
            name = text(target)
            out.define("variable", name, scope.qualify(name), expr, body=expr.child_by_field_name("right"))


def _refer_expr(out: Out, expr: Node | None, kind: str, at: Node, scope: Scope) -> None:
    """A reference to the name `expr` ends with: `f` -> f; `a.b.f` -> f reached through `a.b`."""
    if expr is None:
        return
    if expr.type == "identifier":
        out.refer(text(expr), kind, at, scope)
    elif expr.type == "attribute":
        out.refer(text(expr.child_by_field_name("attribute")), kind, at, scope,
                  qualifier=text(expr.child_by_field_name("object")))
