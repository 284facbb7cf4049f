"""Symbol extraction from real tree-sitter parses: real package code checked against Python's own
`ast`, and small samples for the forms that are easy to get wrong."""

from __future__ import annotations

import ast
import email
import json
from pathlib import Path

import pytest

from groundmcp.chunking import chunk_file
from groundmcp.symbols import extract, file_symbols
from groundmcp.symbols.lookup import module_paths
from groundmcp.symbols.model import Reference
from groundmcp.symbols.record import keys


def _ast_definitions(source: str) -> set[tuple[str, int]]:
    """(qualified name, line of `def`/`class`) of every function and class, nested ones too."""
    out: set[tuple[str, int]] = set()

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                out.add((".".join([*scope, child.name]), child.lineno))
                visit(child, [*scope, child.name])
            else:
                visit(child, scope)

    visit(ast.parse(source), [])
    return out


@pytest.mark.parametrize("package", [json, email], ids=["json", "email"])
def test_python_definitions_match_ast_on_real_packages(package):
    files = sorted(Path(package.__file__).parent.glob("*.py"))
    assert len(files) >= 5
    for f in files:
        source = f.read_text(encoding="utf-8")
        got = extract(source, "python")
        assert got is not None
        ours = set()
        for d in got.definitions:
            if d.kind in ("function", "method", "class"):
                # our start line takes in decorators; ast's lineno is the `def` line: match by the
                # signature's line, which is the first line of the definition proper.
                line = next(i for i in range(d.start_line, d.end_line + 1)
                            if source.split("\n")[i - 1].lstrip().startswith(("def ", "async def ", "class ")))
                ours.add((d.qualified, line))
        assert ours == _ast_definitions(source), f.name


def test_python_edge_cases():
    src = (
        "import os.path as osp, sys\n"
        "from .models import Row as R, Col\n"
        "from .. import util\n"
        "\n"
        "@register('x')\n"
        "@functools.cache\n"
        "class Table(Base, mixins.Sized, metaclass=Meta):\n"
        "    LIMIT: int = 10\n"
        "\n"
        "    class Cell:\n"
        "        def width(self):\n"
        "            return len(self.text)\n"
        "\n"
        "    @property\n"
        "    def size(self, n=default_size()):\n"
        "        def inner():\n"
        "            return helper()\n"
        "        return self.rows().count(osp.join('a'))\n"
        "\n"
        "async def load(path):\n"
        "    return await R(path).read()\n"
    )
    s = extract(src, "python")
    defs = {d.qualified: d for d in s.definitions}
    assert {q: d.kind for q, d in defs.items()} == {
        "Table": "class", "Table.LIMIT": "variable", "Table.Cell": "class", "Table.Cell.width": "method",
        "Table.size": "method", "Table.size.inner": "function", "load": "function",
    }
    assert (defs["Table"].start_line, defs["Table"].end_line) == (5, 18)  # decorators included
    assert defs["Table"].signature == "class Table(Base, mixins.Sized, metaclass=Meta)"
    assert defs["Table.size"].signature == "def size(self, n=default_size())"
    assert defs["load"].signature == "async def load(path)"
    refs = {(r.name, r.kind, r.scope, r.qualifier, r.target) for r in s.references}
    assert {
        ("osp", "import", "", "os.path", ""),
        ("sys", "import", "", "sys", ""),
        ("R", "import", "", ".models", "Row"),
        ("Col", "import", "", ".models", "Col"),
        ("util", "import", "", "..", "util"),
        ("register", "decorator", "", "", ""),
        ("cache", "decorator", "", "functools", ""),
        ("Base", "inherit", "", "", ""),
        ("Sized", "inherit", "", "mixins", ""),
        ("property", "decorator", "Table", "", ""),
        ("default_size", "call", "Table", "", ""),  # a default runs in the enclosing scope
        ("helper", "call", "Table.size.inner", "", ""),
        ("count", "call", "Table.size", "self.rows()", ""),
        ("rows", "call", "Table.size", "self", ""),
        ("join", "call", "Table.size", "osp", ""),
        ("len", "call", "Table.Cell.width", "", ""),
        ("R", "call", "load", "", ""),
        ("read", "call", "load", "R(path)", ""),
    } <= refs


JS = """\
import def1, {a as b, c} from './m';
import * as ns from "pkg";
export { q as r } from './z';
const fs = require('fs');
const {x, y: z} = require('./u');
export const f = (a) => g(a);
module.exports.h = function (q) { return new Foo(q); };
exports.k = () => 1;
Foo.prototype.bar = function () { this.baz(); };
export default class C extends D { m() { super.m(); } static s = 1; #p() {} }
export function* gen() { inner(); }
const obj = { meth() { ns.run(); }, f: function() {}, n: 1 };
call({ notAMethod() {} });
"""


def test_javascript_forms():
    s = extract(JS, "javascript")
    defs = {d.qualified: d.kind for d in s.definitions}
    assert defs == {
        "f": "function", "h": "function", "k": "function", "Foo.bar": "method", "C": "class", "C.m": "method",
        "C.s": "property", "C.#p": "method", "gen": "function", "obj": "variable", "obj.meth": "method",
        "obj.f": "method",
    }
    assert "notAMethod" not in {d.name for d in s.definitions}  # an anonymous object's methods
    refs = {(r.name, r.kind, r.scope, r.qualifier, r.target) for r in s.references}
    assert {
        ("def1", "import", "", "./m", "default"),
        ("b", "import", "", "./m", "a"),
        ("c", "import", "", "./m", "c"),
        ("ns", "import", "", "pkg", "*"),
        ("r", "import", "", "./z", "q"),
        ("fs", "import", "", "fs", ""),
        ("x", "import", "", "./u", "x"),
        ("z", "import", "", "./u", "y"),
        ("g", "call", "f", "", ""),
        ("Foo", "new", "h", "", ""),
        ("baz", "call", "Foo.bar", "this", ""),
        ("D", "inherit", "", "", ""),
        ("inner", "call", "gen", "", ""),
        ("run", "call", "obj.meth", "ns", ""),
    } <= refs
    export_f = next(d for d in s.definitions if d.qualified == "f")
    assert export_f.signature.startswith("const f = (a) =>") and export_f.start_line == 6


def test_typescript_forms():
    src = (
        "interface Shape extends Base { area(): number; name: string }\n"
        "type Id = string;\n"
        "enum Color { Red }\n"
        "namespace Geo { export function dist(a: P, b: P): number { return sq(a) + sq(b); } }\n"
        "export abstract class Poly<T> extends Shape2 implements Shape {\n"
        "  abstract sides(): number;\n"
        "  private area = () => compute(this);\n"
        "  @memo() perimeter(): number { return 0; }\n"
        "}\n"
    )
    s = extract(src, "typescript")
    defs = {d.qualified: d.kind for d in s.definitions}
    assert defs == {
        "Shape": "interface", "Shape.area": "method", "Id": "type", "Color": "enum", "Geo": "module",
        "Geo.dist": "function", "Poly": "class", "Poly.sides": "method", "Poly.area": "method",
        "Poly.perimeter": "method",
    }
    refs = {(r.name, r.kind, r.scope) for r in s.references}
    assert {("Base", "inherit", ""), ("Shape2", "inherit", ""), ("Shape", "inherit", ""), ("sq", "call", "Geo.dist"),
            ("compute", "call", "Poly.area"), ("memo", "decorator", "Poly")} <= refs


@pytest.mark.parametrize(
    ("language", "src", "expected"),
    [
        ("go", "package p\ntype T struct{}\nfunc (t *T) Run() { helper() }\nfunc helper() {}\n",
         {"T": "type", "T.Run": "method", "helper": "function"}),
        ("rust", "struct S;\nimpl S { fn new() -> S { make() } }\nfn make() -> S { S }\n",
         {"S": "struct", "S.new": "method", "make": "function"}),
        ("java", "class A { A() {} int run() { return go(); } }\n", {"A": "class", "A.A": "method", "A.run": "method"}),
        ("cpp", "namespace n { class K { void f(); }; }\nvoid n::K::f() { g(); }\n",
         {"n": "module", "n.K": "class", "n.K.f": "method"}),
    ],
)
def test_other_languages_give_the_chunkers_definitions(language, src, expected):
    s = extract(src, language)
    assert {d.qualified: d.kind for d in s.definitions} == expected
    assert any(r.kind == "call" for r in s.references)


def test_definitions_know_the_chunks_that_cover_them():
    source = (Path(json.__file__).parent / "decoder.py").read_bytes()
    chunks = chunk_file("json/decoder.py", source, count_tokens=lambda t: len(t.split()), max_tokens=120)
    s = file_symbols("json/decoder.py", source, "python", chunks)
    decode = next(d for d in s.definitions if d.qualified == "JSONDecoder.decode")
    assert decode.chunks and all(chunks[i].symbol == "JSONDecoder.decode" for i in decode.chunks)
    cls = next(d for d in s.definitions if d.qualified == "JSONDecoder")
    assert set(decode.chunks) < set(cls.chunks)


def test_keys_find_definitions_by_tail_and_importers_by_module():
    s = extract("from .models import Row as R\nclass A:\n    class B:\n        def f(self): R()\n", "python")
    k = set(keys(s))
    assert {"d:a", "d:b", "d:f", "d:a.b", "d:b.f", "d:a.b.f", "r:r", "r:row", "m:models"} <= k


def test_module_paths_resolve_relative_and_absolute_imports():
    rel = Reference("R", "import", 1, qualifier=".models", target="Row")
    assert "pkg/models.py" in module_paths(rel, "pkg/view.py")
    up = Reference("util", "import", 1, qualifier="..", target="util")
    assert "util.py" in module_paths(up, "pkg/view.py")
    absolute = Reference("osp", "import", 1, qualifier="a.b", target="")
    assert module_paths(absolute, "x.py") == ["a/b.py", "a/b/__init__.py", "a/b.pyi"]
    js = Reference("b", "import", 1, qualifier="../lib/m", target="a")
    assert "lib/m.ts" in module_paths(js, "src/app.js") and "lib/m/index.js" in module_paths(js, "src/app.js")
    assert module_paths(Reference("x", "import", 1, qualifier="react"), "src/app.js") == []
