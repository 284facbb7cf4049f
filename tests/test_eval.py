"""`groundmcp eval`: a BEIR dataset made from real code (the stdlib json package) through the real
ingest and search, scored; metrics checked by hand; outputs written; a second run reuses the index."""

from __future__ import annotations

import ast
import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from groundmcp.errors import InputError
from groundmcp.eval.dataset import open_dataset, render
from groundmcp.eval.metrics import score_query

from .conftest import STDLIB_JSON

DOCS = [  # (id, title, text, question): prose passages; the question is not in its answer's text
    ("ingest", "Incremental ingest", "Unchanged files are not read again; changed files are re-encoded "
     "and replaced; deleted files are removed from the index.", "what happens to files I deleted?"),
    ("serve", "Running the server", "Start it with groundmcp serve for stdio, or add --http to listen on "
     "127.0.0.1:8765 with a bearer token.", "how do I expose the tools over the network"),
]


def build_dataset(root: Path) -> Path:
    """Functions with a docstring from json/*.py: the docstring's first sentence asks for the function
    with its docstring removed (the CodeSearchNet method), plus two prose passages."""
    corpus, queries, qrels = [], [], []
    for path in sorted(STDLIB_JSON.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, ast.FunctionDef) or not ast.get_docstring(node):
                continue
            doc = ast.get_docstring(node).strip().split("\n\n")[0].split(". ")[0].replace("\n", " ")
            node.body = [s for s in node.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
            if not node.body or len(doc) < 12:
                continue
            pid = f"json/{path.name}#{node.name}"
            metadata = {"path": f"json/{path.name}", "language": "python"}
            corpus.append({"_id": pid, "text": ast.unparse(node), "metadata": metadata})
            queries.append({"_id": f"q{len(queries)}", "text": doc, "metadata": {"language": "python"}})
            qrels.append((f"q{len(qrels)}", pid))
    for pid, title, text, question in DOCS:
        corpus.append({"_id": pid, "title": title, "text": text, "metadata": {"path": "README.md"}})
        queries.append({"_id": f"q{len(queries)}", "text": question, "metadata": {"source": "readme"}})
        qrels.append((f"q{len(qrels)}", pid))
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries), encoding="utf-8")
    (root / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{d}\t1\n" for q, d in qrels), encoding="utf-8"
    )
    return root


def test_metrics_match_hand_computed_values():
    rel = {"a": 1, "b": 1}
    s = score_query(["x", "a", "y", "b"], rel)
    idcg = 1 + 1 / math.log2(3)
    assert s["ndcg@10"] == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / idcg)
    assert s["mrr@10"] == pytest.approx(0.5)
    assert s["recall@10"] == s["recall@100"] == 1.0
    far = score_query([f"x{i}" for i in range(50)] + ["a"], rel)
    assert far["ndcg@10"] == far["mrr@10"] == far["recall@10"] == 0.0
    assert far["recall@100"] == 0.5
    with pytest.raises(ValueError):
        score_query(["a"], {})


def test_dataset_is_read_lazily_and_rendered_for_the_right_chunker(tmp_path):
    ds = open_dataset(build_dataset(tmp_path / "ds"))
    names = dict((ds.passage_of[n], n) for n, _ in ds.docs)
    code_name, doc_name = names["json/decoder.py#py_scanstring"], names["ingest"]
    # Named by the path its metadata gives, as in a real tree (so the chunk header says so); the
    # second and later passages of one file go under a numbered folder; prose is plain text.
    assert code_name.endswith(".py") and doc_name.endswith(".txt")  # tree-sitter vs plain text
    assert doc_name == "README.txt" and names["serve"] == "2/README.txt"
    assert "json/decoder.py" in names.values() and "2/json/decoder.py" in names.values()
    assert len(set(names.values())) == len(names)
    assert ds.load(code_name).decode().startswith("def py_scanstring(")
    assert '"""' not in ds.load(code_name).decode()
    assert ds.load(doc_name).decode().startswith("Incremental ingest\n\n")
    assert render({"_id": "x", "text": "body"}) == "body"
    assert {q.group for q in ds.queries} == {"python", "readme"}


@pytest.mark.parametrize(
    "breakage, message",
    [
        (lambda d: (d / "queries.jsonl").unlink(), "queries.jsonl is missing"),
        (lambda d: (d / "corpus.jsonl").write_text('{"_id": "a", "text": "x"}\nnot json\n'), "corpus.jsonl line 2"),
        (lambda d: (d / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq0 a 1\n"), "test.tsv line 2"),
    ],
)
def test_a_broken_dataset_says_which_file_and_line(tmp_path, breakage, message):
    root = build_dataset(tmp_path / "ds")
    breakage(root)
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        open_dataset(root)


@pytest.mark.slow
def test_eval_scores_every_mode_writes_outputs_and_reuses_the_index(tmp_path, real_encoder):
    from groundmcp.engine import Engine
    from groundmcp.eval.report import markdown, write_outputs
    from groundmcp.eval.runner import MODES, run_eval
    from groundmcp.settings import Settings

    ds = open_dataset(build_dataset(tmp_path / "ds"))
    assert len(ds.queries) >= 10
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=real_encoder)
    try:
        result = run_eval(engine, ds)
        again = run_eval(engine, ds, ("hybrid",))
    finally:
        engine.close()
    by_mode = {m.mode: m for m in result.modes}
    assert list(by_mode) == list(MODES)
    assert result.ingest["passages_encoded"] == len(ds.docs) and again.ingest["passages_encoded"] == 0
    assert again.collection == result.collection and again.chunks == result.chunks
    # Every passage is in a corpus this small's top 100: the hit -> passage mapping works.
    assert by_mode["dense"].overall["recall@100"] == 1.0
    assert by_mode["hybrid"].overall["ndcg@10"] > 0.5  # docstring sentence -> its own function
    assert by_mode["hybrid+rerank"].overall["recall@100"] is None  # only the top 10 come back reranked
    assert set(by_mode["hybrid"].groups) == {"python", "readme"}
    assert again.modes[0].overall == by_mode["hybrid"].overall  # same index, same answers
    paths = write_outputs(result, tmp_path / "out")
    assert json.loads(paths["json"].read_text())["modes"][2]["mode"] == "hybrid"
    assert paths["chart"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = markdown(result)
    assert "| hybrid+rerank |" in table and "nDCG@10 python" in table


@pytest.mark.slow
def test_eval_command_prints_the_table(tmp_path):
    from groundmcp.cli import app

    root = build_dataset(tmp_path / "ds")
    args = ["--data-dir", str(tmp_path / "data"), "eval", str(root), "--out", str(tmp_path / "out"),
            "--mode", "hybrid", "--mode", "sparse", "--limit-queries", "5"]
    run = CliRunner().invoke(app, args)
    assert run.exit_code == 0, run.output
    assert "| hybrid |" in run.stdout and "| sparse |" in run.stdout and "| dense |" not in run.stdout
    assert (tmp_path / "out" / "results.json").is_file()
    bad = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "eval", str(tmp_path)])
    assert bad.exit_code == 1 and "is not a BEIR dataset" in bad.output
    bad_mode = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "eval", str(root), "--mode", "fast"])
    assert bad_mode.exit_code == 1 and "unknown eval mode" in bad_mode.output


def test_recall_at_100_counts_100_distinct_passages(tmp_path, hashing_encoder):
    """A passage with many chunks fills the top 100 chunks with few passages; the eval reads
    deeper until 100 distinct passages are ranked (or the collection runs out)."""
    from groundmcp.engine import Engine
    from groundmcp.eval.runner import DISTINCT, _deeper, _passages
    from groundmcp.search.query import MAX_TOP_K, SearchRequest
    from groundmcp.settings import Settings

    root = tmp_path / "ds"
    body = "\n\n".join(f"def handler_{i}(request):\n    return request.param_{i} + {i}\n" for i in range(60))
    corpus = [{"_id": f"big{k}", "text": body, "metadata": {"path": f"pkg/big{k}.py"}} for k in range(3)]
    corpus += [{"_id": f"p{i}", "text": f"def small_{i}(request):\n    return {i}\n", "metadata": {"path": "pkg/small.py"}}
               for i in range(150)]
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(c) + "\n" for c in corpus), encoding="utf-8")
    (root / "queries.jsonl").write_text(json.dumps({"_id": "q", "text": "handler request param"}) + "\n")
    (root / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nq\tp149\t1\n")
    ds = open_dataset(root)
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        engine.ingest_source(ds.docs, ds.load, collection="ev")
        request = SearchRequest("handler request param", top_k=MAX_TOP_K, mode="sparse")
        first = _passages(ds, engine.search(request, collection="ev"))
        assert len(first) < DISTINCT  # the big passages' chunks crowd the top 100
        ranked = _deeper(engine, ds, "ev", request, first)
    finally:
        engine.close()
    assert ranked[: len(first)] == first  # the client's ranking is kept as it is
    assert len(ranked) == len(set(ranked)) == DISTINCT


def test_paired_comparison_gives_the_gain_its_interval_and_the_sign_test():
    from groundmcp.eval.report import paired, sign_test

    before = {f"q{i}": 0.5 for i in range(40)}
    after = {**before, **{f"q{i}": 0.6 for i in range(12)}, "q39": 0.45}
    p = paired(before, after, resamples=2000)
    assert p.queries == 40 and p.better == 12 and p.worse == 1
    assert p.gain == pytest.approx((12 * 0.1 - 0.05) / 40)
    assert 0 < p.low <= p.gain <= p.high
    assert p.p_sign == pytest.approx(sign_test(12, 1)) and p.p_sign < 0.01
    assert sign_test(5, 5) == 1.0 and sign_test(0, 0) == 1.0
    with pytest.raises(ValueError, match="share no query"):
        paired({"a": 1.0}, {"b": 1.0})
