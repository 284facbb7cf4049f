"""Callers resolved by rules that hold for any code base (symbols/resolve.py), through a real ingest
on both store backends: an enclosing scope's definition, an import followed to its file, `self.f()`
and `super().f()` through the class and its bases, a class or module qualifier, and names bound
from outside the index. A call resolved to another definition is kept apart; the rest stay ranked
candidates."""

from __future__ import annotations

from pathlib import Path

from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.symbols import neighbours
from groundmcp.symbols.lookup import resolve

BASE = (
    "class Base:\n"                        # 1
    "    def __init__(self, x):\n"         # 2
    "        self.x = x\n"                 # 3
    "\n"                                   # 4
    "    def run(self):\n"                 # 5
    "        return self.step()\n"         # 6
    "\n"                                   # 7
    "    def step(self):\n"                # 8
    "        return 1\n"                   # 9
    "\n"                                   # 10
    "\n"                                   # 11
    "class Other:\n"                       # 12
    "    def __init__(self):\n"            # 13
    "        pass\n"                       # 14
    "\n"                                   # 15
    "    def step(self):\n"                # 16
    "        return 2\n"                   # 17
)
CHILD = (
    "from .base import Base\n"             # 1
    "from . import base as base_mod\n"     # 2
    "import json\n"                        # 3
    "\n"                                   # 4
    "\n"                                   # 5
    "class Child(Base):\n"                 # 6
    "    def __init__(self, x):\n"         # 7
    "        super().__init__(x)\n"        # 8
    "\n"                                   # 9
    "    def go(self):\n"                  # 10
    "        return self.run() + self.step()\n"  # 11
    "\n"                                   # 12
    "    def step(self):\n"                # 13
    "        return 3\n"                   # 14
    "\n"                                   # 15
    "\n"                                   # 16
    "def make():\n"                        # 17
    "    Base.step(None)\n"                # 18
    "    base_mod.Base(1)\n"               # 19
    "    json.loads('1')\n"                # 20
    "    return Child(1).go()\n"           # 21
    "\n"                                   # 22
    "\n"                                   # 23
    "def loads(s):\n"                      # 24
    "    return s\n"                       # 25
)
MORE = (
    "class Err(Exception):\n"              # 1
    "    def __init__(self, m):\n"         # 2
    "        super().__init__(m)\n"        # 3
    "\n"                                   # 4
    "\n"                                   # 5
    "def use(thing):\n"                    # 6
    "    thing.step()\n"                   # 7
    "    return loads(thing)\n"            # 8
)
A_JS = ("import { helper as h } from './b';\n"
        "export class A extends Unknown {\n"
        "  run() { return this.step(); }\n"
        "  step() { return h(); }\n"
        "}\n")
B_JS = "export function helper() { return 1; }\nexport class B { step() { return 2; } }\n"


def _ingest(store, encoder, root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "base.py").write_text(BASE)
    (root / "pkg" / "child.py").write_text(CHILD)
    (root / "pkg" / "more.py").write_text(MORE)
    (root / "web").mkdir()
    (root / "web" / "a.js").write_text(A_JS)
    (root / "web" / "b.js").write_text(B_JS)
    ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t"))


def _callers(store, name: str, path: str):
    target, _ = resolve(store, "t", name, path=path)
    assert (target.path, target.definition.qualified) == (path, name)
    n = neighbours(store, "t", target)
    listed = {(s.path, s.reference.line): (s.resolution, s.top) for s in n.callers}
    apart = {(s.path, s.reference.line) for s in n.elsewhere}
    return listed, apart


def test_super_self_and_qualified_calls_resolve_through_classes_and_imports(store, hashing_encoder, tmp_path):
    _ingest(store, hashing_encoder, tmp_path / "proj")

    listed, apart = _callers(store, "Base.__init__", "pkg/base.py")
    assert listed == {("pkg/child.py", 8): ("resolved", True)}  # super() in Child, whose base is imported
    assert ("pkg/more.py", 3) in apart  # super() of a class whose only base is a builtin: outside the index
    listed, apart = _callers(store, "Other.__init__", "pkg/base.py")
    assert listed == {} and {("pkg/child.py", 8), ("pkg/more.py", 3)} <= apart

    # self.step() names the nearest definition from the calling class up its bases
    listed, apart = _callers(store, "Base.step", "pkg/base.py")
    assert listed[("pkg/base.py", 6)] == ("resolved", True)
    assert listed[("pkg/child.py", 18)] == ("resolved", True)  # Base.step(None): a class qualifier
    assert ("pkg/child.py", 11) in apart  # self.step() in Child is Child.step
    assert listed[("pkg/more.py", 7)] == ("candidate", True)  # thing.step(): any step, ranked
    listed, _ = _callers(store, "Child.step", "pkg/child.py")
    assert listed[("pkg/child.py", 11)] == ("resolved", True)
    assert listed[("pkg/more.py", 7)][0] == "candidate"
    listed, _ = _callers(store, "Base.run", "pkg/base.py")
    assert listed == {("pkg/child.py", 11): ("resolved", True)}  # inherited: found in the base

    # a class through a module bound by `from . import base as base_mod`, and as a base class
    listed, _ = _callers(store, "Base", "pkg/base.py")
    assert listed[("pkg/child.py", 19)] == ("resolved", True) and listed[("pkg/child.py", 6)][0] == "resolved"

    # json.loads is the standard library's; a bare loads() with no import of it is this file's... or a
    # builtin: more.py neither defines nor imports `loads`, so it is not child.py's
    listed, apart = _callers(store, "loads", "pkg/child.py")
    assert listed == {} and {("pkg/child.py", 20), ("pkg/more.py", 8)} <= apart


def test_javascript_this_and_aliased_imports(store, hashing_encoder, tmp_path):
    _ingest(store, hashing_encoder, tmp_path / "proj")
    listed, _ = _callers(store, "helper", "web/b.js")
    assert listed == {("web/a.js", 4): ("resolved", True)}  # called as h, the alias its import binds
    listed, apart = _callers(store, "B.step", "web/b.js")
    assert listed == {} and ("web/a.js", 3) in apart  # this.step() in A is A.step
    listed, _ = _callers(store, "A.step", "web/a.js")
    assert listed == {("web/a.js", 3): ("resolved", True)}


def test_callees_put_the_resolved_definition_first(store, hashing_encoder, tmp_path):
    _ingest(store, hashing_encoder, tmp_path / "proj")
    go, _ = resolve(store, "t", "Child.go", path="pkg/child.py")
    callees = {c.reference.name: c for c in neighbours(store, "t", go).callees}
    assert callees["step"].candidates[0][0].definition.qualified == "Child.step"
    assert callees["run"].candidates[0][0].definition.qualified == "Base.run"
    assert callees["step"].total == 3  # the other definitions of the name are still counted


def test_module_functions_are_not_called_through_objects(store, hashing_encoder, tmp_path):
    root = tmp_path / "proj"
    (root / "app" / "util").mkdir(parents=True)
    (root / "app" / "util" / "text.py").write_text("def clean(s):\n    return s\n")
    (root / "app" / "main.py").write_text(
        "import app.util.text\n"
        "\n"
        "def run(thing):\n"
        "    app.util.text.clean('x')\n"
        "    thing.clean()\n")
    ingest_path(str(root), store=store, encoder=hashing_encoder, options=IngestOptions(collection="t"))
    listed, apart = _callers(store, "clean", "app/util/text.py")
    assert listed == {("app/main.py", 4): ("resolved", True)}  # through `import app.util.text`
    assert apart == {("app/main.py", 5)}  # a method or an attribute of `thing`, not this function


def test_overloads_of_one_name_are_one_symbol(store, hashing_encoder, tmp_path):
    root = tmp_path / "proj"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / "conv.py").write_text(
        "from typing import overload\n"
        "\n"
        "class Conv:\n"
        "    @overload\n"
        "    def to(self, x: int) -> int: ...\n"
        "    @overload\n"
        "    def to(self, x: str) -> str: ...\n"
        "    def to(self, x):\n"
        "        return x\n"
        "\n"
        "    def twice(self, x):\n"
        "        return self.to(self.to(x))\n")
    ingest_path(str(root), store=store, encoder=hashing_encoder, options=IngestOptions(collection="t"))
    target, others = resolve(store, "t", "Conv.to", path="lib/conv.py")
    assert len(others) == 2  # the overloads
    n = neighbours(store, "t", target)
    assert [(s.reference.line, s.resolution) for s in n.callers] == [(12, "resolved"), (12, "resolved")]


def test_a_parameter_annotation_names_the_class_a_method_is_called_on(store, hashing_encoder, tmp_path):
    root = tmp_path / "proj"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "base.py").write_text(BASE)
    (root / "pkg" / "codec.py").write_text("class Codec:\n    def decode(self, raw):\n        return raw\n")
    (root / "pkg" / "hooks.py").write_text(
        "import typing as t\n"
        "from .base import Base\n"
        "\n"
        "def drive(b: Base, o: t.Optional['Base'], raw: bytes, anything, step=None):\n"
        "    b.step()\n"
        "    o.run()\n"
        "    raw.decode()\n"
        "    anything.step()\n"
        "    return step()\n")
    ingest_path(str(root), store=store, encoder=hashing_encoder, options=IngestOptions(collection="t"))
    listed, apart = _callers(store, "Base.step", "pkg/base.py")
    assert listed[("pkg/hooks.py", 5)] == ("resolved", True)
    assert listed[("pkg/hooks.py", 8)][0] == "candidate"  # not annotated: any step
    assert ("pkg/hooks.py", 9) in apart  # a parameter shadows every definition of the name
    listed, _ = _callers(store, "Base.run", "pkg/base.py")
    assert listed == {("pkg/hooks.py", 6): ("resolved", True)}  # through t.Optional['Base']
    listed, apart = _callers(store, "Codec.decode", "pkg/codec.py")
    assert listed == {} and ("pkg/hooks.py", 7) in apart  # bytes.decode: a builtin's method
