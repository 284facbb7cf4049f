"""Quality drift (eval/drift.py, `groundmcp eval-diff`): real `groundmcp eval` runs of a small BEIR
set made from real code are kept with their commit, model and date, and the last two are compared
per mode and query group, query by query."""

from __future__ import annotations

import ast
import json
import re
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundmcp import cli
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.drift import RUNS, record_run
from groundmcp.eval.runner import run_eval
from groundmcp.settings import Settings

from .conftest import STDLIB_JSON

REPO = Path(__file__).resolve().parents[1]
# Stdlib modules whose documented functions make the passages; each is its queries' group.
GROUPS = {"json", "textwrap", "shlex", "posixpath", "base64"}
SOURCES = [STDLIB_JSON / n for n in ("decoder.py", "encoder.py", "__init__.py")] + [
    STDLIB_JSON.parent / n for n in ("textwrap.py", "shlex.py", "posixpath.py", "base64.py")]


def build_dataset(root: Path) -> Path:
    """A BEIR folder: each documented function of SOURCES, its docstring removed, is a passage; the
    docstring's first sentence is the query that asks for it (the CodeSearchNet method), grouped by
    module. About 70 queries: enough for a real change to show beyond noise."""
    corpus, queries = [], []
    for path in SOURCES:
        group = "json" if path.parent == STDLIB_JSON else path.stem
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef) or not ast.get_docstring(node):
                continue
            doc = ast.get_docstring(node).strip().split("\n\n")[0].split(". ")[0].replace("\n", " ")
            node.body = [b for b in node.body if not (isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant))]
            if not node.body or len(doc) < 12:
                continue
            pid = f"{group}/{path.name}#{node.name}#{len(corpus)}"
            corpus.append({"_id": pid, "text": ast.unparse(node), "metadata": {"path": f"{group}/{path.name}"}})
            queries.append({"_id": f"q{len(queries)}", "text": doc, "metadata": {"source": group}})
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\t{c['_id']}\t1\n" for i, c in enumerate(corpus)),
        encoding="utf-8")
    return root


def head_commit() -> str:
    return subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()


def invoke(*args: str, code: int = 0):
    result = CliRunner().invoke(cli.app, list(args))
    assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
    return result


def test_each_eval_run_is_kept_and_two_runs_of_the_same_code_show_no_change(tmp_path, monkeypatch):
    """Two `groundmcp eval` runs (hashing encoder, so no model is loaded): each leaves a record with
    its commit, model and date; the same code over the same index scores every query alike."""
    monkeypatch.setenv("GROUNDMCP_MODEL", "hashing-64")
    monkeypatch.setattr("groundmcp.encoders.factory.load_encoder", lambda settings: HashingEncoder(64))
    root, out = build_dataset(tmp_path / "ds"), tmp_path / "out"
    args = ["--data-dir", str(tmp_path / "data"), "eval", str(root), "--out", str(out), "--mode", "sparse",
            "--mode", "dense"]

    invoke(*args)
    one = invoke("eval-diff", str(out))
    assert "1 run(s) recorded; two are needed" in one.stderr and one.stdout == ""
    invoke(*args)

    records = sorted((out / RUNS).glob("*.json"))
    assert len(records) == 2
    record = json.loads(records[0].read_text())
    meta = record["run"]
    assert meta["commit"] == head_commit() and isinstance(meta["dirty"], bool)
    assert meta["model"] == "hashing-64" and meta["dataset"] == "ds" and meta["queries"] == len(record["groups"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", meta["date"])
    assert records[0].name.startswith(meta["date"].replace("-", "").replace(":", "") + "-" + meta["commit"][:10])
    assert set(record["groups"].values()) == GROUPS and meta["queries"] >= 50
    assert all(len(m["per_query"]) == meta["queries"] for m in record["modes"])

    shown = invoke("eval-diff", str(tmp_path)).stdout  # a folder of results folders: each compared
    assert "2 runs; comparing the last two" in shown and f"{meta['commit'][:10]}" in shown
    for mode in ("sparse", "dense"):
        for group in ("all", *GROUPS):
            assert re.search(rf"^  {mode}\s+{group}\s+\d+\s.*unchanged$", shown, re.M), shown
    assert "nothing moved beyond noise" in shown

    rows = json.loads(invoke("eval-diff", str(out), "--json", "--metric", "mrr@10").stdout)[0]["rows"]
    assert {r["verdict"] for r in rows} == {"unchanged"} and {r["metric"] for r in rows} == {"mrr@10"}
    assert all(r["gain"] == 0 and r["up"] == r["down"] == 0 and r["ci95"] == [0, 0] for r in rows)

    assert "unknown metric" in invoke("eval-diff", str(out), "--metric", "ndcg@5", code=1).stderr
    (tmp_path / "empty").mkdir()
    assert "no eval runs under" in invoke("eval-diff", str(tmp_path / "empty"), code=1).stderr


@pytest.mark.slow
def test_a_weaker_model_is_reported_worse_beyond_noise_and_sparse_unchanged(tmp_path, real_encoder):
    """The real model, then a 64-dimension hashing encoder over the same dataset: dense search got
    much worse, query by query (beyond noise); sparse search (BM25: no model, though the chunks
    differ a little, cut by another tokenizer) moved within noise."""
    ds = open_dataset(build_dataset(tmp_path / "ds"))
    out = tmp_path / "eval-results" / ds.name
    for settings, encoder in ((Settings(data_dir=tmp_path / "real"), real_encoder),
                              (Settings(data_dir=tmp_path / "hashed", model="hashing-64"), HashingEncoder(64))):
        engine = Engine(settings, encoder=encoder)
        try:
            record_run(run_eval(engine, ds, ("dense", "sparse")), ds, out)
        finally:
            engine.close()

    shown = invoke("eval-diff", str(tmp_path / "eval-results")).stdout
    assert re.search(r"before: \S+ \S+ sentence-transformers/all-MiniLM-L6-v2", shown)
    assert re.search(r"after: +\S+ \S+ hashing-64", shown)
    rows = {(r["mode"], r["group"]): r for r in
            json.loads(invoke("eval-diff", str(out), "--json").stdout)[0]["rows"]}
    dense = rows[("dense", "all")]
    assert dense["verdict"] == "worse" and dense["ci95"][1] < 0 and dense["p_sign"] < 0.05, dense
    assert dense["down"] > dense["up"] and dense["after"] < dense["before"]
    assert rows[("dense", "posixpath")]["verdict"] == "worse"
    base64 = rows[("dense", "base64")]  # about as many queries up as down: a move, not a drift
    assert base64["verdict"] == "within noise" and base64["ci95"][0] < 0 < base64["ci95"][1], base64
    for group in ("all", *GROUPS):
        assert rows[("sparse", group)]["verdict"] in ("unchanged", "within noise"), rows[("sparse", group)]
    assert "beyond noise: dense/all worse" in shown and "sparse/" not in shown.split("beyond noise:")[1]
    assert invoke("eval-diff", str(out), "--fail-on-drop", code=1).stdout  # for a CI gate
