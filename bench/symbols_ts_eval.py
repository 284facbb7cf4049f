"""find_symbol against the TypeScript compiler's own parser on real JavaScript/TypeScript packages (issue 17).

The reference is TypeScript's parser (`ts.createSourceFile`, the `typescript` package from npm),
walked by a small node script written out by this benchmark, with the compiler's own
classification of CommonJS assignments (`ts.getAssignmentDeclarationKind`, which the binder uses
to make `exports.f = …` and `Foo.prototype.f = …` declarations in a JavaScript file). What counts
as a definition, on both sides:

- function declarations, class declarations; methods, constructors, accessors and function-valued
  fields of classes (and method signatures of interfaces);
- a variable bound to a function, arrow function or class expression, or to one wrapped in a call
  (`var f = wrap(function…)`, `curry(2)(function…)`: the first function among the arguments, the
  rule the chunker and the extractor share; reported apart as `wrapped`);
- methods and function-valued properties of an object literal bound to a variable;
- the compiler's ExportsProperty (`exports.f = function`, `module.exports.f = …`), PrototypeProperty
  (`Foo.prototype.f = function`) and Property (`Foo.f = function`) assignments of a function
  (wrapped or not), wherever the assignment sits, and each function-valued member of a Prototype
  assignment (`Foo.prototype = {…}`);
- not counted: `module.exports = function` (it is the module), `this.f = function` (an instance's
  field), computed names (`[Symbol.iterator]() {…}`), functions passed as arguments or returned, the result of an immediately
  invoked function (`var x = (function () {…})()`), and the outer names of a chain
  (`A.f = A.g = function` defines `A.g` only: `A.f` is bound to a value, not to a function
  expression, on both sides).

Each package folder is copied (no node_modules, no minified files), ingested through the Engine
with the hashing encoder (vectors do not matter here), and for every name either side defines,
`find_symbol(name)`'s exact matches of kind function, method or class are compared with the
reference as (path, name, first line). Precision and recall are micro-averaged; a `loose` score
matches (path, name) only, to tell a line disagreement from a miss; the qualified names of the
matched pairs are compared too. Each side's misses are listed by the form of the reference (or,
for ours only, by our kind).

The benchmark skips, saying why, when `node` or the `typescript` package is missing:

    npm install --prefix /tmp/h17/ts typescript          # not a project dependency
    npm install --prefix /tmp/h17/pkgs semver bluebird   # the packages measured
    .venv/bin/python bench/symbols_ts_eval.py --typescript /tmp/h17/ts/node_modules/typescript \\
        --packages /tmp/h17/pkgs/node_modules/semver /tmp/h17/pkgs/node_modules/bluebird/js/release
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.settings import Settings
from groundmcp.symbols import extract

KINDS = ("function", "method", "class")
SUFFIXES = {".js": "javascript", ".cjs": "javascript", ".mjs": "javascript", ".jsx": "javascript",
            ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx"}

LISTING = r"""
const ts = require(process.argv[2]);
const root = process.argv[3];
const files = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const path = require('path');
const AK = ts.AssignmentDeclarationKind;
const out = [];

function kindOf(file) {
  if (/\.tsx$/.test(file)) return ts.ScriptKind.TSX;
  if (/\.(c|m)?ts$/.test(file)) return ts.ScriptKind.TS;
  if (/\.jsx$/.test(file)) return ts.ScriptKind.JSX;
  return ts.ScriptKind.JS;
}
function strip(e) {
  while (e && (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e))) e = e.expression;
  return e;
}
function isFn(e) { return e && (ts.isFunctionExpression(e) || ts.isArrowFunction(e)); }
function isCls(e) { return e && ts.isClassExpression(e); }
// The function or class a value binds: itself, or the first one among a call's arguments, else in its callee.
function bound(e) {
  e = strip(e);
  if (!e) return null;
  if (isFn(e) || isCls(e)) return e;
  if (ts.isCallExpression(e)) {
    for (const a of e.arguments) { const s = strip(a); if (isFn(s) || isCls(s)) return s; }
    // curried `wrap(a)(function…)`; an immediately invoked function binds its result, not itself
    return ts.isCallExpression(strip(e.expression)) ? bound(e.expression) : null;
  }
  return null;
}
function nameText(n, sf) {
  if (!n) return null;
  if (ts.isIdentifier(n) || ts.isPrivateIdentifier(n)) return n.text;
  if (ts.isStringLiteral(n) || ts.isNumericLiteral(n)) return n.text;
  return null;  // computed
}

for (const rel of files) {
  const text = require('fs').readFileSync(path.join(root, rel), 'utf8');
  const sf = ts.createSourceFile(rel, text, ts.ScriptTarget.Latest, true, kindOf(rel));
  const line = (n) => sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;
  const add = (kind, name, qualified, at, form) => {
    if (name) out.push({path: rel, kind, name, qualified, line: line(at), form});
  };
  const objectMembers = (obj, owner, scope, form) => {
    for (const p of obj.properties) {
      const name = nameText(p.name, sf);
      const q = [...scope, owner, name].join('.');
      if (ts.isMethodDeclaration(p) || ts.isGetAccessorDeclaration(p) || ts.isSetAccessorDeclaration(p)) {
        add('method', name, q, p, form);
        walk(p, [...scope, owner, name]);
      } else if (ts.isPropertyAssignment(p) && bound(p.initializer)) {
        add('method', name, q, p, form);
        walk(p.initializer, [...scope, owner, name]);
      } else if (ts.isPropertyAssignment(p) && ts.isObjectLiteralExpression(strip(p.initializer))) {
        objectMembers(strip(p.initializer), name, [...scope, owner], form);
      } else {
        walk(p, scope);
      }
    }
  };
  function walk(node, scope) {
    ts.forEachChild(node, (n) => visit(n, scope));
  }
  function visit(n, scope) {
    if (ts.isFunctionDeclaration(n) && n.name) {
      add('function', n.name.text, [...scope, n.name.text].join('.'), n, 'function declaration');
      return walk(n, [...scope, n.name.text]);
    }
    if (ts.isInterfaceDeclaration(n)) return walk(n, [...scope, n.name.text]);
    if (ts.isClassDeclaration(n) && n.name) {
      add('class', n.name.text, [...scope, n.name.text].join('.'), n, 'class declaration');
      return walk(n, [...scope, n.name.text]);
    }
    if (ts.isMethodDeclaration(n) || ts.isConstructorDeclaration(n) || ts.isGetAccessorDeclaration(n) ||
        ts.isSetAccessorDeclaration(n) || ts.isMethodSignature(n) ||
        (ts.isPropertyDeclaration(n) && n.initializer && isFn(strip(n.initializer)))) {
      if (ts.isClassLike(n.parent) || ts.isInterfaceDeclaration(n.parent)) {
        const name = ts.isConstructorDeclaration(n) ? 'constructor' : nameText(n.name, sf);
        add('method', name, [...scope, name].join('.'), n, 'class member');
        return walk(n, [...scope, name]);
      }
    }
    if (ts.isVariableStatement(n)) {
      const decls = n.declarationList.declarations;
      for (const d of decls) {
        const at = decls.length === 1 ? n : d;
        const name = ts.isIdentifier(d.name) ? d.name.text : null;
        const init = strip(d.initializer);
        const fn = name ? bound(init) : null;
        if (fn) {
          const form = fn === init ? (isCls(fn) ? 'class expression' : 'function expression') : 'wrapped';
          add(isCls(fn) ? 'class' : 'function', name, [...scope, name].join('.'), at, form);
          walk(d, [...scope, name]);
        } else if (name && init && ts.isObjectLiteralExpression(init)) {
          objectMembers(init, name, scope, 'object literal member');
        } else {
          walk(d, scope);
        }
      }
      return;
    }
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.EqualsToken) {
      // anywhere, as the binder takes them: `A.f = A.g = function` defines g (f is bound to g's value)
      const e = n;
      const at = ts.isExpressionStatement(n.parent) ? n.parent : n;
      const ak = ts.getAssignmentDeclarationKind(e);
      const left = e.left;
      const fn = bound(e.right);
      if (fn && (ak === AK.ExportsProperty || ak === AK.PrototypeProperty || ak === AK.Property) &&
          ts.isPropertyAccessExpression(left)) {
        const name = left.name.text;
        let owner = left.expression.getText(sf).replace(/\.prototype$/, '');
        const q = ak === AK.ExportsProperty ? name : owner + '.' + name;
        const form = {[AK.ExportsProperty]: 'exports.f =', [AK.PrototypeProperty]: 'Foo.prototype.f =',
                      [AK.Property]: 'Foo.f ='}[ak];
        add(isCls(fn) ? 'class' : (ak === AK.ExportsProperty ? 'function' : 'method'), name, q, at, form);
        return walk(e.right, q.split('.'));
      }
      if (ak === AK.Prototype && ts.isObjectLiteralExpression(strip(e.right))) {
        const owner = left.expression.getText(sf);
        objectMembers(strip(e.right), owner, [], 'Foo.prototype = {…}');
        return;
      }
    }
    walk(n, scope);
  }
  walk(sf, []);
}
process.stdout.write(JSON.stringify({version: ts.version, definitions: out}));
"""


def find_typescript(given: str | None) -> tuple[str | None, str]:
    """(path of the typescript package, why not) for `require`."""
    if shutil.which("node") is None:
        return None, "node is not on PATH: install Node.js to run this benchmark"
    candidates = [given] if given else [os.environ.get("TYPESCRIPT_PATH"), "typescript"]
    for c in filter(None, candidates):
        probe = subprocess.run(["node", "-e", f"require({json.dumps(c)}); "], capture_output=True, text=True)
        if probe.returncode == 0:
            return c, ""
    return None, ("the typescript package is not found (tried " + ", ".join(filter(None, candidates)) + "): "
                  "npm install --prefix /tmp/h17/ts typescript, then pass --typescript "
                  "/tmp/h17/ts/node_modules/typescript (it is not a project dependency)")


def copy_package(src: Path, dest: Path) -> list[str]:
    """The package's JS/TS sources under `dest`, without node_modules, minified files or declarations."""
    files = []
    for f in sorted(src.rglob("*")):
        rel = f.relative_to(src)
        if (not f.is_file() or "node_modules" in rel.parts or f.suffix not in SUFFIXES or f.name.endswith(".d.ts")
                or ".min." in f.name):
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(f, dest / rel)
        files.append(rel.as_posix())
    return files


def reference(typescript: str, root: Path, files: list[str], script: Path) -> tuple[str, list[dict]]:
    done = subprocess.run(["node", str(script), typescript, str(root)], input=json.dumps(files), capture_output=True,
                          text=True, check=True)
    listing = json.loads(done.stdout)
    return listing["version"], listing["definitions"]


def ours_names(root: Path, files: list[str]) -> set[str]:
    """Every name our extractor defines (of the kinds compared), to ask find_symbol for."""
    names = set()
    for rel in files:
        symbols = extract((root / rel).read_text(encoding="utf-8", errors="replace"), SUFFIXES[Path(rel).suffix])
        names.update(d.name for d in symbols.definitions if d.kind in KINDS) if symbols else None
    return names


def evaluate(engine: Engine, prefix: str, truth: list[dict], names: set[str]) -> dict:
    want = {(prefix + t["path"], t["name"], t["line"]): t for t in truth}
    got: dict[tuple[str, str, int], object] = {}
    started = time.perf_counter()
    asked = sorted(names | {t["name"] for t in truth})
    for name in asked:
        for x in engine.find_symbol(name, limit=10_000):
            d = x.definition
            if x.match == "exact" and d.name == name and d.kind in KINDS:
                got[(x.path, d.name, d.start_line)] = d
    seconds = time.perf_counter() - started
    tp = want.keys() & got.keys()
    loose_want = Counter((p, n) for p, n, _ in want)
    loose_got = Counter((p, n) for p, n, _ in got)
    loose_tp = sum((loose_want & loose_got).values())
    by_form: dict[str, list[int]] = {}
    for key, t in want.items():
        by_form.setdefault(t["form"], [0, 0])
        by_form[t["form"]][0] += 1
        by_form[t["form"]][1] += key in got
    qualified_differs = [f"{p}:{ln} ours {got[(p, n, ln)].qualified} / ts {want[(p, n, ln)]['qualified']}"
                         for p, n, ln in sorted(tp) if got[(p, n, ln)].qualified != want[(p, n, ln)]["qualified"]]
    missed = sorted(want.keys() - got.keys())
    extra = sorted(got.keys() - want.keys())
    return {
        "files_defining": len({p for p, _, _ in want}), "reference_definitions": len(want), "our_definitions": len(got),
        "precision": round(len(tp) / len(got), 4) if got else 0.0,
        "recall": round(len(tp) / len(want), 4) if want else 0.0,
        "loose_precision": round(loose_tp / sum(loose_got.values()), 4) if got else 0.0,
        "loose_recall": round(loose_tp / sum(loose_want.values()), 4) if want else 0.0,
        "recall_by_form": {f: f"{hit}/{n}" for f, (n, hit) in sorted(by_form.items())},
        "qualified_agree": f"{len(tp) - len(qualified_differs)}/{len(tp)}",
        "qualified_differs_sample": qualified_differs[:10],
        "missed_by_form": dict(Counter(want[k]["form"] for k in missed).most_common()),
        "extra_by_kind": dict(Counter(got[k].kind for k in extra).most_common()),
        "missed_sample": [f"{p}:{ln} {want[(p, n, ln)]['qualified']} ({want[(p, n, ln)]['form']})"
                          for p, n, ln in missed[:12]],
        "extra_sample": [f"{p}:{ln} {got[(p, n, ln)].qualified} ({got[(p, n, ln)].kind}) "
                         f"{got[(p, n, ln)].signature[:70]}" for p, n, ln in extra[:12]],
        "names_asked": len(asked), "ms_per_query": round(1000 * seconds / max(1, len(asked)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", type=Path, required=True,
                        help="package folders (e.g. node_modules/semver); each is copied without node_modules")
    parser.add_argument("--typescript", help="the typescript package to require (a path or a name)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    typescript, why = find_typescript(args.typescript)
    if typescript is None:
        print(f"skipped: {why}")
        return
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "listing.js"
        script.write_text(LISTING)
        for folder in args.packages:
            if not folder.is_dir():
                print(f"skipped {folder}: not a folder (npm install the package first)")
                continue
            parts = folder.resolve().parts  # the package's name: node_modules/<name>/js/release -> <name>
            label = parts[parts.index("node_modules") + 1] if "node_modules" in parts[:-1] else folder.name
            tree = Path(tmp) / "trees" / label
            files = copy_package(folder, tree / label)
            version, truth = reference(typescript, tree / label, files, script)
            engine = Engine(Settings(data_dir=Path(tmp) / f"data-{label}"), encoder=HashingEncoder(dim=64))
            try:
                report = engine.ingest(str(tree))
                r = evaluate(engine, f"{label}/", truth, ours_names(tree / label, files))
            finally:
                engine.close()
            r.update({"typescript": version, "files": len(files), "files_ingested": report.files_seen})
            results[label] = r
            print(json.dumps({label: r}, indent=1), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    sys.exit(main())
