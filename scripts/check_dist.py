"""What a release's wheel and sdist hold, beyond what twine and check-wheel-contents look at.

    python scripts/check_dist.py WHEEL SDIST pyproject.toml

The wheel holds the `groundmcp` package and its metadata only: no tests, benchmarks, examples,
docs or data; every module of src/groundmcp is in it, and the status page's files (server/static/).
Its metadata has the licence (the SPDX expression and the LICENSE file), the README as the
description, the project URLs, the Python
requirement, the extras and the `groundmcp` console script. The sdist builds that wheel: it holds
the sources, the README, pyproject.toml and the LICENSE, and no virtualenv, benchmark data or eval
results. Exits 1 with the list of what is wrong.
"""

from __future__ import annotations

import email.parser
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path, PurePosixPath

FORBIDDEN_PARTS = {"tests", "bench", "examples", "docs", "eval-results", ".venv", ".venv-adapters", ".tools",
                   "__pycache__", ".pytest_cache", "node_modules"}


def check_wheel(path: Path, project: dict, src: Path) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as whl:
        names = whl.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        meta = email.parser.Parser().parsestr(whl.read(f"{dist_info}/METADATA").decode())
        entry_points = whl.read(f"{dist_info}/entry_points.txt").decode()
        licence = f"{dist_info}/licenses/LICENSE"
        licence_text = whl.read(licence).decode() if licence in names else ""
    tops = {n.split("/")[0] for n in names}
    if tops != {"groundmcp", dist_info}:
        problems.append(f"wheel: top-level entries {sorted(tops)}; only groundmcp/ and {dist_info}/ belong")
    for name in names:
        parts = set(PurePosixPath(name).parts)
        if parts & FORBIDDEN_PARTS or name.endswith((".pyc", ".jsonl", ".tsv", ".npy", ".parquet")):
            problems.append(f"wheel: {name} does not belong in it")
    modules = {str(p.relative_to(src.parent).as_posix()) for p in src.rglob("*.py") if "__pycache__" not in p.parts}
    assets = {str(p.relative_to(src.parent).as_posix()) for p in src.glob("**/static/*") if p.is_file()}
    missing = (modules | assets) - set(names)
    if missing:
        problems.append(f"wheel: modules or assets missing: {sorted(missing)}")
    if "Apache License" not in licence_text or "Version 2.0" not in licence_text:
        problems.append(f"wheel: {licence} missing or not the Apache-2.0 text")
    expected = {
        "Name": project["name"],
        "Version": project["version"],
        "License-Expression": project["license"],
        "Requires-Python": project["requires-python"],
        "Summary": project["description"],
        "Description-Content-Type": "text/markdown",
    }
    for field, value in expected.items():
        if meta.get(field) != value:
            problems.append(f"wheel METADATA: {field} is {meta.get(field)!r}, expected {value!r}")
    if meta.get_all("License-File") != ["LICENSE"]:
        problems.append(f"wheel METADATA: License-File is {meta.get_all('License-File')}, expected ['LICENSE']")
    urls = {u.split(",")[0].strip(): u.split(",", 1)[1].strip() for u in meta.get_all("Project-URL") or []}
    if urls != project.get("urls", {}):
        problems.append(f"wheel METADATA: Project-URL {urls} differs from pyproject's {project.get('urls')}")
    if set(meta.get_all("Provides-Extra") or []) != set(project["optional-dependencies"]):
        problems.append(f"wheel METADATA: extras {meta.get_all('Provides-Extra')}")
    classifiers = meta.get_all("Classifier") or []
    if any(c.startswith("License ::") for c in classifiers):
        problems.append("wheel METADATA: a License :: classifier beside License-Expression (PEP 639 forbids both)")
    if not (meta.get_payload() or "").startswith("# groundmcp"):
        problems.append("wheel METADATA: the description is not the README")
    if _version(src) != project["version"]:
        problems.append(f"groundmcp.__version__ is {_version(src)}, pyproject's version {project['version']}")
    if "groundmcp = groundmcp.quick:main" not in entry_points:
        problems.append(f"wheel: console script missing from entry_points.txt:\n{entry_points}")
    return problems


def check_sdist(path: Path) -> list[str]:
    problems = []
    with tarfile.open(path) as sdist:
        names = [PurePosixPath(n) for n in sdist.getnames()]
    rel = {PurePosixPath(*n.parts[1:]) for n in names if len(n.parts) > 1}
    for needed in ("pyproject.toml", "README.md", "LICENSE", "PKG-INFO", "src/groundmcp/__init__.py",
                   "src/groundmcp/cli.py"):
        if PurePosixPath(needed) not in rel:
            problems.append(f"sdist: {needed} missing")
    for name in rel:
        bad = set(name.parts) & (FORBIDDEN_PARTS - {"tests", "docs", "examples"})
        if bad or name.suffix in (".pyc", ".jsonl", ".tsv", ".npy", ".parquet"):
            problems.append(f"sdist: {name} does not belong in it")
    return problems


def _version(src: Path) -> str:
    for line in (src / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=")[1].strip().strip("\"'")
    raise SystemExit("no __version__ in src/groundmcp/__init__.py")


def main() -> int:
    wheel, sdist, pyproject = map(Path, sys.argv[1:4])
    config = tomllib.loads(pyproject.read_text())
    project = config["project"]
    src = pyproject.parent / "src" / "groundmcp"
    problems = check_wheel(wheel, project, src) + check_sdist(sdist)
    for problem in problems:
        print(problem)
    if problems:
        return 1
    with zipfile.ZipFile(wheel) as whl:
        print(f"{wheel.name}: {len(whl.namelist())} files, groundmcp/ and its dist-info only; "
              "LICENSE, metadata, extras and the console script as pyproject.toml declares")
    with tarfile.open(sdist) as tar:
        print(f"{sdist.name}: {len(tar.getnames())} entries; sources, README, LICENSE, pyproject.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
