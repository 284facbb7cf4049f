"""JavaScript definitions the chunker did not see before: a function wrapped in a call and bound to
a name, CommonJS exports and prototype methods get their own chunk with a symbol, and the header
carries their signature; a JSDoc comment stays with its definition."""

from __future__ import annotations

from groundmcp.chunking import chunk_file, chunking_key

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
    assert js == ts == "code-2/256/32" and py == "code-1/256/32"  # Python files keep their chunks
