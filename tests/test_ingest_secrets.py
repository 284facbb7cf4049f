"""Secret scanning: the file-name rules (compiled into one regex, they say exactly what their globs say),
and secrets in what a file means kept out of the index end to end (issue 12)."""

from __future__ import annotations

import fnmatch
import itertools
import json

from groundmcp.ingest import secrets
from groundmcp.ingest.secrets import secret_file


def by_globs(path: str) -> str | None:
    """secret_file as a loop over the glob lists (how it read before the regex)."""
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if not parts:
        return None
    name, parent = parts[-1], parts[-2] if len(parts) > 1 else ""
    if parent == ".ssh" and not any(fnmatch.fnmatchcase(name, p) for p in secrets._SSH_PUBLIC):
        return secrets._DIR_RULES[(".ssh", "*")]
    if (label := secrets._DIR_RULES.get((parent, name))) is not None:
        return label
    if name.endswith(secrets._TEMPLATE_SUFFIXES) or name.endswith(".pub"):
        return None
    for pattern, label in secrets._NAME_RULES:
        if fnmatch.fnmatchcase(name, pattern):
            return label
    return None


def names() -> list[str]:
    """Each glob with its wildcards filled several ways, run together, near-missed, with
    suffixes; ordinary names; and odd ones (newlines, brackets, other case)."""
    globs = [g for g, _ in secrets._NAME_RULES] + list(secrets._SSH_PUBLIC)
    fills = ["", "x", ".", "a.b", "id_rsa", ".env", "pem", "\n", "[1]"]
    out = {g.replace("*", f) for g in globs for f in fills}
    out |= {g.replace("*", "") + suffix for g in globs for suffix in ("", ".bak", ".example", ".pub", "~", ".json")}
    out |= {g.replace("*", "")[1:] for g in globs} | {g.upper() for g in globs}
    out |= {a + b for a, b in itertools.product(["", ".", "x."], ["env", "pem", "key", "tfstate", "kubeconfig"])}
    out |= {"main.py", "README.md", "config", "credentials", "known_hosts", "id_rsa.pub", "x.pem.sample", ""}
    return sorted(out)


def test_the_regex_agrees_with_the_globs_on_every_name_and_folder() -> None:
    checked = 0
    for name in names():
        for folder in ("", "src/", ".ssh/", ".aws/", ".kube/", ".docker/", "home/u/.ssh/"):
            path = folder + name
            assert secret_file(path) == by_globs(path), path
            checked += 1
    assert checked > 3000
    assert secret_file("id_rsa.pem") == "private key or certificate"  # the first matching rule names it
    assert secret_file("deploy/.env.production") == ".env file"
    assert secret_file("src/main.py") is None


# --- issue 12: secrets in what a file means, kept out of the index end to end ---------------------

PASSWORD = "hunter2" + "Xy9!q"
SHORT_PASSWORD = "s3cr3t" + "P4ss"
DB_URL = "postgres://billing:" + "Xk9mP2vQ7rT4" + "@db.internal:5432/billing"
JWT = ".".join(["eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9", "eyJzdWIiOiJzdmMtYmlsbGluZyJ9", "WQw3dvoDjUWglN64DoH6UHZgxLmzGNsyTCFU"])  # noqa: FLY002 (a literal would match)
KEY = "UMHDPOGZeGN" + "BxJKk86uydFX1"
ISSUE_12_SECRETS = [PASSWORD, SHORT_PASSWORD, "Xk9mP2vQ7rT4", JWT, KEY]


def _notebook(source: list[str], outputs: list[dict]) -> str:
    cell = {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": outputs, "source": source}
    return json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}, indent=1)


def test_ingest_skips_each_issue_12_attack_says_why_and_search_never_returns_the_secret(tmp_path, hashing_encoder):
    from groundmcp.engine import Engine
    from groundmcp.search.query import SearchRequest
    from groundmcp.settings import Settings

    files = {
        "notebooks/analysis.ipynb": _notebook(["import billing\n", f'password = "{PASSWORD}"\n'], []),
        "notebooks/debug.ipynb": _notebook(
            ["!env\n"], [{"name": "stdout", "output_type": "stream", "text": ["HOME=/root\n", f"DB_PASSWORD={SHORT_PASSWORD}\n"]}]
        ),
        "deploy/values.yaml": f"billing:\n  replicas: 2\n  password: {PASSWORD}\n",
        "config/app.ini": f"[database]\nhost = db.internal\npassword = {SHORT_PASSWORD}\n",
        "app/db.py": f'"""Billing database."""\n\nDATABASE_URL = "{DB_URL}"\n',
        "app/auth.py": f"def headers():\n    return {{'Authorization': 'Bearer {JWT}'}}\n",
        "app/sign.py": f'import hmac\n\nkey = "{KEY}"\n',
        "app/billing.py": "def total(invoices):\n    return sum(i.amount for i in invoices)  # billing password rules\n",
    }
    root = tmp_path / "project"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    engine = Engine(Settings(data_dir=tmp_path / "data"), encoder=hashing_encoder)
    try:
        report = engine.ingest(str(root))
        hits = [
            hit
            for query in [*ISSUE_12_SECRETS, "password", "DATABASE_URL postgres billing", "Authorization Bearer", "key hmac"]
            for hit in engine.search(SearchRequest(query, top_k=20))
        ]
    finally:
        engine.close()
    assert report.added == ["app/billing.py"]
    assert {s.path: s.reason for s in report.skipped} == {
        "notebooks/analysis.ipynb": "secret in content (password or key assignment, line 10)",
        "notebooks/debug.ipynb": "secret in content (password or key assignment, line 13)",
        "deploy/values.yaml": "secret in content (password or key assignment, line 3)",
        "config/app.ini": "secret in content (password or key assignment, line 3)",
        "app/db.py": "secret in content (password in URL, line 3)",
        "app/auth.py": "secret in content (JWT, line 2)",
        "app/sign.py": "secret in content (password or key assignment, line 3)",
    }
    assert hits and {h.path for h in hits} == {"app/billing.py"}
    assert not any(s in h.text for h in hits for s in ISSUE_12_SECRETS)
    assert not any(s in json.dumps(report.to_dict()) for s in ISSUE_12_SECRETS)
