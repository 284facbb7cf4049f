"""JavaScript definitions the chunker did not see before: a function wrapped in a call and bound to
a name, CommonJS exports and prototype methods get their own chunk with a symbol, and the header
carries their signature; a JSDoc comment stays with its definition. `module.exports = function` is
the module's own code, as the symbols index has it, not a definition named `module.exports`."""

from __future__ import annotations

import pytest

from groundmcp.chunking import CHUNKER_VERSIONS, chunk_file, chunking_key
from groundmcp.symbols import extract

SOURCE = b"""import baseRest from './_baseRest.js';

/**
 * Creates a function that invokes the method at `object[key]`.
 */
var bindKey = baseRest(function(object, key, partials) {
  return createWrap(key, object, partials);
});

module.exports.parseQuery = function(text) {
  return text.split('&');
};

exports.toSlug = (title) =>
  title.toLowerCase();

Cache.prototype.evict = function(key) {
  delete this.items[key];
};

const add = curry(2)(function (a, b) {
  return a + b;
});

config.retries = 3;
this.handler = function () {};
export default bindKey;
"""


def _chunks(path="lib/bindKey.js", data=SOURCE):
    return chunk_file(path, data, count_tokens=lambda t: len(t) // 4, max_tokens=256, overlap_tokens=32)


def test_wrapped_exported_and_prototype_functions_are_definitions():
    by_symbol = {c.symbol: c for c in _chunks() if c.symbol}
    assert set(by_symbol) == {"bindKey", "parseQuery", "toSlug", "Cache.evict", "add"}
    bind = by_symbol["bindKey"]
    assert bind.header == "lib/bindKey.js · var bindKey = baseRest(function(object, key, partials)"
    assert bind.text.startswith("/**\n * Creates a function")  # the JSDoc rides with its definition
    assert by_symbol["parseQuery"].header.endswith("module.exports.parseQuery = function(text)")
    assert by_symbol["Cache.evict"].header.endswith("Cache.prototype.evict = function(key)")
    assert by_symbol["add"].start_line == 21 and by_symbol["add"].header.endswith("curry(2)(function (a, b)")
    # plain assignments are code between definitions, not definitions
    rest = [c for c in _chunks() if not c.symbol]
    assert any("config.retries = 3" in c.text for c in rest)


def test_typescript_gets_the_same_and_only_these_languages_are_rechunked():
    assert {c.symbol for c in _chunks("lib/bindKey.ts") if c.symbol} >= {"bindKey", "Cache.evict"}
    js, ts, py = (chunking_key(p, 256, 32) for p in ("a.js", "a.ts", "a.py"))
    assert js == ts == f"code-{CHUNKER_VERSIONS['code']}.3/256/32"  # JavaScript and TypeScript files are chunked again
    assert py == f"code-{CHUNKER_VERSIONS['code']}/256/32"  # Python's: its family's, untouched by JS's


FACTORY = """'use strict';
var util = require('./util');

module.exports = function (Promise, INTERNAL) {
  var tryCatch = util.tryCatch;

  function settle(value) {
    return tryCatch(value);
  }

  Promise.prototype.settle = function (value) {
    return settle(value);
  };

  Promise.each = function (promises, fn) {
    return promises.map(fn);
  };
};

module.exports.version = function () { return '1'; };
"""


@pytest.mark.parametrize("max_tokens", [256, 24])  # the module's function whole, and cut into windows
def test_module_exports_function_is_the_module_not_a_symbol(max_tokens):
    chunks = chunk_file("js/each.js", FACTORY.encode(), count_tokens=lambda t: len(t) // 4, max_tokens=max_tokens,
                        overlap_tokens=4)
    factory = [c for c in chunks if c.start_line <= 18 and c.end_line >= 4]
    assert factory and all(c.symbol == "" and c.header == "js/each.js" for c in factory)  # module code
    assert [c.symbol for c in chunks if c.symbol] == ["version"]  # module.exports.f is still a definition
    # A hit's symbol is a definition of the symbols index, which has none named module.exports and
    # puts what the function holds at the top level of the module, on lines of those chunks.
    defs = {d.qualified: d for d in extract(FACTORY, "javascript").definitions}
    assert {c.symbol for c in chunks if c.symbol} <= set(defs) and "module.exports" not in defs
    assert {"settle", "Promise.settle", "Promise.each"} <= set(defs)
    covered = {line for c in factory for line in range(c.start_line, c.end_line + 1)}
    assert all(defs[q].start_line in covered for q in ("settle", "Promise.settle", "Promise.each"))


@pytest.mark.parametrize("source", [
    "module.exports = function named(a) {\n  return a + 1;\n};\n",
    "module.exports = wrap(function (a) {\n  return a + 1;\n});\n",
    "module.exports = (a) =>\n  a + 1;\n",
    "exports = module.exports = function (a) {\n  return a;\n};\n",
])
def test_every_form_of_module_exports_function_is_module_code(source):
    chunks = chunk_file("m.js", source.encode(), count_tokens=lambda t: len(t) // 4, max_tokens=256, overlap_tokens=8)
    assert [(c.symbol, c.header) for c in chunks] == [("", "m.js")]
    assert extract(source, "javascript").definitions == []  # the symbols index agrees: nothing to find
