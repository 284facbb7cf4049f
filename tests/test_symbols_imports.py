"""Imports in Go, Rust, Java, C and C++: what each binds (symbols/generic.py), and, for Java and
C/C++ quoted includes, the file it names, so callers resolve through them (symbols/resolve.py);
through a real ingest on both store backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.symbols import extract, neighbours
from groundmcp.symbols.lookup import resolve
from groundmcp.symbols.record import keys


def _imports(src: str, language: str) -> list[tuple[str, str, str]]:
    return [(r.name, r.qualifier, r.target) for r in extract(src, language).references if r.kind == "import"]


@pytest.mark.parametrize(("language", "src", "expected"), [
    ("go", 'package main\nimport "fmt"\nimport (\n  f "os/exec"\n  . "strings"\n  _ "embed"\n  "github.com/a/b/pkg"\n)\n',
     [("fmt", "fmt", ""), ("f", "os/exec", ""), ("*", "strings", "*"), ("pkg", "github.com/a/b/pkg", "")]),
    ("rust", "use std::io;\nuse a::b::{c, d as e, self};\nuse crate::x::*;\nuse a::{b::{c as cc}, e};\n"
             "extern crate foo;\nfn main() { use std::fmt; }\n",
     [("io", "std", "io"), ("c", "a::b", "c"), ("e", "a::b", "d"), ("b", "a", "b"), ("*", "crate::x", "*"),
      ("cc", "a::b", "c"), ("e", "a", "e"), ("foo", "foo", ""), ("fmt", "std", "fmt")]),
    ("java", "import a.b.C;\nimport a.b.*;\nimport static a.b.C.m;\nimport static a.b.C.*;\nclass X {}\n",
     [("C", "a.b", "C"), ("*", "a.b", "*"), ("m", "a.b.C", "m"), ("*", "a.b.C", "*")]),
    ("c", '#include "foo/bar.h"\n#include <stdio.h>\n', [("*", "foo/bar.h", "*"), ("*", "<stdio.h>", "*")]),
    ("cpp", '#include "x.hpp"\nusing namespace std;\nusing std::string;\nnamespace fs = std::filesystem;\n',
     [("*", "x.hpp", "*"), ("*", "std", "*"), ("string", "std", "string"), ("fs", "std::filesystem", "")]),
])
def test_what_each_import_binds(language, src, expected):
    assert _imports(src, language) == expected


def test_module_keys_name_the_file_an_import_answers_to():
    cpp = extract('#include "net/socket.hpp"\n#include <sys/stat.h>\nusing namespace a::b;\n', "cpp")
    assert {"m:socket", "m:stat", "m:b"} <= set(keys(cpp))


STRINGS = (
    "package com.acme.util;\n"
    "\n"
    "public class Strings {\n"
    "    public static String clean(String s) { return s.trim(); }\n"
    "    public static String of(int n) { return \"\" + n; }\n"
    "}\n"
)
APP = (
    "package com.acme;\n"
    "\n"
    "import com.acme.util.Strings;\n"
    "import static com.acme.util.Strings.clean;\n"
    "import java.util.List;\n"
    "\n"
    "class App extends Base {\n"
    "    String run(String s) {\n"
    "        List.of(1);\n"
    "        helper();\n"
    "        return Strings.clean(s) + clean(s);\n"
    "    }\n"
    "    void helper() {}\n"
    "}\n"
)
UTIL_H = "#pragma once\nstatic inline int twice(int x) { return 2 * x; }\nint helper(int x);\n"
UTIL_C = '#include "util.h"\nint helper(int x) { return twice(x); }\n'
MAIN_C = '#include <stdio.h>\n#include "lib/util.h"\nint main(void) { printf("%d", twice(1)); return helper(2); }\n'


def _ingest(store, encoder, root: Path) -> None:
    for path, text in {"src/main/java/com/acme/util/Strings.java": STRINGS, "src/main/java/com/acme/App.java": APP,
                       "lib/util.h": UTIL_H, "lib/util.c": UTIL_C, "main.c": MAIN_C}.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    ingest_path(str(root), store=store, encoder=encoder, options=IngestOptions(collection="t"))


def _callers(store, name: str, path: str):
    target, _ = resolve(store, "t", name, path=path)
    assert (target.path, target.definition.qualified) == (path, name)
    n = neighbours(store, "t", target)
    return {(s.path, s.reference.line): s.resolution for s in n.callers}, {(s.path, s.reference.line) for s in n.elsewhere}, n


def test_java_imports_resolve_to_the_class_file_and_its_members(store, hashing_encoder, tmp_path):
    _ingest(store, hashing_encoder, tmp_path / "proj")
    app = "src/main/java/com/acme/App.java"
    listed, _, n = _callers(store, "Strings.clean", "src/main/java/com/acme/util/Strings.java")
    assert listed == {(app, 11): "resolved"}  # Strings.clean(s) and the static import's clean(s), one line
    assert [s.reference.qualifier for s in n.callers] == ["Strings", ""] and {s.path for s in n.importers} == {app}
    listed, apart, _ = _callers(store, "Strings.of", "src/main/java/com/acme/util/Strings.java")
    assert listed == {} and (app, 9) in apart  # List.of: java.util is not in the index
    listed, _, _ = _callers(store, "App.helper", app)
    assert listed == {(app, 10): "resolved"}  # a Java method sees its class's members unqualified


def test_c_includes_resolve_next_to_the_file_or_by_their_path(store, hashing_encoder, tmp_path):
    _ingest(store, hashing_encoder, tmp_path / "proj")
    listed, _, n = _callers(store, "twice", "lib/util.h")
    assert listed == {("lib/util.c", 2): "resolved", ("main.c", 3): "resolved"}  # through each #include
    assert {s.path for s in n.importers} == {"lib/util.c", "main.c"}
    listed, _, _ = _callers(store, "helper", "lib/util.c")
    assert listed == {("main.c", 3): "candidate"}  # declared in the header, defined elsewhere: a candidate
