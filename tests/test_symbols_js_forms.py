"""JavaScript definitions the chunker learnt in f6fee38 (a function wrapped in a call and bound to a
name, CommonJS exports, prototype methods) are definitions in the symbols index too, with the same
name and signature as the chunk's symbol and header, so a search hit's symbol is found by
find_symbol and the other way round."""

from __future__ import annotations

from groundmcp.chunking import chunk_file
from groundmcp.symbols import extract

from .test_quality_js_chunks import SOURCE as CHUNKER_SOURCE

# The chunker test's definitions (up to `add`), then forms it does not hold.
SOURCE = CHUNKER_SOURCE.decode()[: CHUNKER_SOURCE.index(b"\nconfig.retries")] + """
exports.memoised = memoize(options(3), function (x) { return expensive(x); });
Registry.prototype.lookup = once(function (key) { return this.table[key]; });
var Widget = mixin(Base)(class extends Base { draw() { return paint(this); } });

config.retries = 3;
this.handler = function () {};
Foo[name] = function () {};
export default bindKey;
"""


def test_every_chunk_symbol_is_a_definition_with_the_same_signature():
    chunks = chunk_file("lib/bindKey.js", SOURCE.encode(), count_tokens=lambda t: len(t) // 4, max_tokens=256,
                        overlap_tokens=32)
    defs = {d.qualified: d for d in extract(SOURCE, "javascript").definitions}
    symbols = [c for c in chunks if c.symbol]
    assert {c.symbol for c in symbols} >= {"bindKey", "parseQuery", "toSlug", "Cache.evict", "add"}
    for c in symbols:
        d = defs[c.symbol]
        assert c.header.endswith(" · " + d.signature), c.symbol
        assert c.start_line <= d.start_line and d.end_line == c.end_line, c.symbol


def test_wrapped_definitions_kinds_and_where_their_calls_belong():
    s = extract(SOURCE, "javascript")
    defs = {d.qualified: d for d in s.definitions}
    assert defs["bindKey"].kind == "function" and (defs["bindKey"].start_line, defs["bindKey"].end_line) == (6, 8)
    assert defs["bindKey"].signature == "var bindKey = baseRest(function(object, key, partials)"
    assert defs["memoised"].kind == "function" and defs["Registry.lookup"].kind == "method"
    assert defs["Widget"].kind == "class" and defs["Widget.draw"].kind == "method"
    # not definitions: a plain value, an instance field, a computed name
    assert not {"retries", "config.retries", "handler", "this.handler", "name", "Foo.name"} & set(defs)
    calls = {(r.name, r.scope) for r in s.references if r.kind == "call"}
    # the wrapper runs where the definition is made; the wrapped body belongs to the definition
    assert {("baseRest", ""), ("createWrap", "bindKey"), ("curry", ""), ("memoize", ""), ("options", ""),
            ("expensive", "memoised"), ("once", ""), ("mixin", ""), ("paint", "Widget.draw")} <= calls
    assert ("Base", "") in {(r.name, r.scope) for r in s.references if r.kind == "inherit"}


def test_module_exports_itself_is_the_module_not_a_definition():
    src = ("module.exports = function (Promise) {\n"
           "  function helper() { return go(); }\n"
           "  Promise.prototype.then = function () { return helper(); };\n"
           "};\n")
    s = extract(src, "javascript")
    assert [(d.kind, d.qualified) for d in s.definitions] == [("function", "helper"), ("method", "Promise.then")]
    assert {(r.name, r.scope) for r in s.references} == {("go", "helper"), ("helper", "Promise.then")}


def test_results_of_invoked_functions_and_computed_names_are_not_definitions():
    src = ("var isES5 = (function () { return this === undefined; })();\n"
           "var Assertion = (function () {\n"
           "  function Assertion(a) { init(a); }\n"
           "  return Assertion;\n"
           "})();\n"
           "var late = function () { return 1; }();\n"
           "class Bag {\n"
           "  [Symbol.iterator]() { return walk(this); }\n"
           "  ['quoted']() {}\n"
           "  'named'() {}\n"
           "}\n"
           "const table = { [key]: function () { return look(); }, plain: function () {} };\n")
    s = extract(src, "javascript")
    assert [(d.kind, d.qualified) for d in s.definitions] == [
        ("variable", "isES5"), ("variable", "Assertion"), ("function", "Assertion"), ("variable", "late"),
        ("class", "Bag"), ("method", "Bag.named"), ("variable", "table"), ("method", "table.plain"),
    ]
    calls = {(r.name, r.scope) for r in s.references if r.kind == "call"}
    assert {("init", "Assertion"), ("walk", "Bag"), ("look", "table")} <= calls
