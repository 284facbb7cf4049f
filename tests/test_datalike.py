"""Data-like and generated files are skipped with a reason; source, docs and config are not."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import pytest

from groundmcp.ingest.datalike import MIN_CHARS, data_like

STDLIB = Path(json.__file__).parents[1]
rng = random.Random(7)


def numbers(lines: int) -> str:
    return "".join(f"{i}\t{rng.random():.6f}\t{rng.randint(-9999, 9999)}\n" for i in range(lines))


def minified_js() -> str:
    body = ";".join(f"function f{i}(a,b){{return a*{i}+b}}var v{i}=f{i}(1,2)" for i in range(3000))
    return f"!function(){{{body}}}();\n" * 2


def log_lines() -> str:
    levels = ["INFO", "WARNING", "DEBUG", "ERROR"]
    return "".join(
        f"2026-12-06 10:{i // 60 % 60:02d}:{i % 60:02d},{i % 1000:03d} {levels[i % 4]} worker.{i % 7}: "
        f"handled request {i} in {rng.random():.3f} s\n"
        for i in range(4000)
    )


def csv_dump() -> str:
    rows = [f"{i},customer-{i},{rng.choice(['paid', 'open', 'void'])},{rng.random() * 100:.2f},2026-11-{i % 28 + 1:02d}"
            for i in range(3000)]
    return "id,name,status,amount,date\n" + "\n".join(rows) + "\n"


@pytest.mark.parametrize(
    ("path", "text", "reason"),
    [
        ("data/points.txt", numbers(100_000), "data-like file (numeric lines)"),
        ("static/app.bundle.js", minified_js(), "minified or generated code (average line over 500 chars)"),
        ("logs/server.out", log_lines(), "log file (timestamped lines)"),
        ("exports/orders.txt", csv_dump(), "data-like file (CSV/TSV rows)"),
        ("exports/orders.csv", csv_dump(), "data-like file (CSV)"),
        ("build.log", "compiling\n" * 5000, "log file"),
        ("fixtures/rows.txt", "assert frobnicate(widget) is not None\n" * 3000, "data-like file (repetitive lines)"),
    ],
)
def test_data_like_files_are_flagged(path, text, reason):
    assert data_like(path, text) == reason


@pytest.mark.parametrize(
    "name",
    ["argparse.py", "typing.py", "subprocess.py", "pydoc_data/topics.py", "json/decoder.py", "LICENSE.txt"],
)
def test_real_source_and_docs_are_not(name):
    text = (STDLIB / name).read_text(encoding="utf-8")
    assert data_like(name, text) is None


def test_markdown_and_json_config_are_not():
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    assert len(readme) > MIN_CHARS and data_like("README.md", readme) is None
    config = {"compilerOptions": {f"option{i}": {"enabled": i % 2 == 0, "paths": [f"src/{i}/*"]} for i in range(600)}}
    assert data_like("tsconfig.json", json.dumps(config, indent=2)) is None
    assert data_like("small.csv", "a,b,c\n1,2,3\n") is None  # small files are never judged


def test_it_is_cheap_on_a_2_mb_file():
    text = numbers(1_000_000)[:2_000_000]
    start = time.perf_counter()
    assert data_like("points.txt", text) is not None
    assert time.perf_counter() - start < 0.05


def test_ingest_skips_a_data_file_with_its_reason(tmp_path, hashing_encoder):
    from groundmcp.engine import Engine
    from groundmcp.settings import Settings

    root = tmp_path / "project"
    root.mkdir()
    (root / "app.py").write_text("def total(xs):\n    return sum(xs)\n")
    (root / "samples.txt").write_text(numbers(50_000))
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        report = engine.ingest(str(root))
    finally:
        engine.close()
    assert {s.path: s.reason for s in report.skipped} == {"samples.txt": "data-like file (numeric lines)"}
    assert report.skipped_by_reason() == {"data-like file (numeric lines)": 1}
    assert sorted(report.added) == ["app.py"]
