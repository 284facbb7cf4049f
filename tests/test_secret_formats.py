"""Secrets found in what a file means (issue 12): notebooks decoded, config values unquoted, URLs with
passwords, JWTs, a key named `key`; placeholders and real code left alone; the labelled set.

Every fake secret is assembled at run time (see tests/test_security.py), so this file stays indexable.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from groundmcp.ingest.secret_formats import file_format
from groundmcp.ingest.secrets import find_secret, find_secret_in_file

REPO = Path(__file__).resolve().parents[1]

PASSWORD = "hunter2" + "Xy9!q"
SHORT_PASSWORD = "s3cr3t" + "P4ss"
URL = "postgres://billing:" + "Xk9mP2vQ7rT4" + "@db.internal:5432/billing"
JWT = ".".join(
    [
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9",
        "eyJzdWIiOiJzdmMtYmlsbGluZyIsInNjb3BlIjoiYWRtaW4ifQ",
        "WQw3dvoDjUWglN64DoH6UHZgxLmzGNsyTCFUg1ne",
    ]
)  # noqa: FLY002 (a literal would match)
KEY = "UMHDPOGZeGN" + "BxJKk86uydFX1"
ASSIGNMENT = "password or key assignment"


def notebook(*cells: dict) -> str:
    """A notebook as Jupyter writes it: indented JSON, each line of a source its own string."""
    return json.dumps(
        {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5},
        indent=1,
    )


def code_cell(source: str, outputs: list | None = None) -> dict:
    lines = source.splitlines(keepends=True)
    return {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {},
        "outputs": outputs or [],
        "source": lines,
    }


def line_holding(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# --- each attack of issue 12, by format ---------------------------------------------------------------


def test_a_password_in_a_notebook_cell_is_found_through_the_escaped_quotes():
    text = notebook(
        code_cell("import pandas as pd\n"),
        code_cell(f'df = load()\npassword = "{PASSWORD}"\n'),
    )
    assert '\\"' in text and find_secret(text) is None  # what ingest scanned before
    found = find_secret_in_file("notebooks/analysis.ipynb", text)
    assert found is not None and found.label == ASSIGNMENT
    assert found.line == line_holding(text, PASSWORD)  # the line of the .ipynb file


@pytest.mark.parametrize(
    "output",
    [
        {
            "name": "stdout",
            "output_type": "stream",
            "text": ["HOME=/home/jovyan\n", f"DB_PASSWORD={SHORT_PASSWORD}\n"],
        },
        {
            "output_type": "execute_result",
            "execution_count": 2,
            "metadata": {},
            "data": {"text/plain": [f"environ({{'HOME': '/home/jovyan', 'DB_PASSWORD': '{SHORT_PASSWORD}'}})"]},
        },
        {
            "output_type": "error",
            "ename": "OperationalError",
            "evalue": "auth failed",
            "traceback": [
                (
                    "\x1b[0;32m----> 1\x1b[0m \x1b[43mpassword\x1b[39m \x1b[38;5;241m=\x1b[39m "
                    f"\x1b[38;5;124m'{PASSWORD}'\x1b[39m"
                )
            ],
        },
    ],
    ids=["env dump in stream text", "os.environ as text/plain", "error traceback"],
)
def test_secrets_in_notebook_outputs_are_found(output):
    text = notebook(code_cell("!env\n", [output]))
    assert find_secret(text) is None
    found = find_secret_in_file("debug.ipynb", text)
    assert found is not None and found.label == ASSIGNMENT
    assert found.line > 1


@pytest.mark.parametrize(
    ("path", "text", "line"),
    [
        (
            "deploy/values.yaml",
            f"service:\n  name: billing\ndatabase:\n  password: {PASSWORD}\n",
            4,
        ),
        (
            "deploy/values.yml",
            f"db:\n  password: {SHORT_PASSWORD}  # rotated monthly\n",
            2,
        ),
        (
            "config/app.ini",
            f"[database]\nhost = db.internal\npassword = {SHORT_PASSWORD}\n",
            3,
        ),
        (
            "setup.cfg",
            f"[upload]\nrepository = internal\npassword: {SHORT_PASSWORD}\n",
            3,
        ),
        (
            "nginx/site.conf",
            f"auth_user = billing\nauth_password = {SHORT_PASSWORD}\n",
            2,
        ),
        ("config/app.toml", f'[database]\npassword = "{SHORT_PASSWORD}"\n', 2),
        ("application.properties", f"spring.datasource.password={SHORT_PASSWORD}\n", 1),
        (".env.example", f"APP_ENV=prod\nDB_PASSWORD={SHORT_PASSWORD}\n", 2),
        ("deploy/prod.env.example", f"DB_PASSWORD='{SHORT_PASSWORD}'\n", 1),
        ("scripts/env.sh", f"#!/bin/sh\nexport DB_PASSWORD={SHORT_PASSWORD}\n", 2),
        (
            "config/app.json",
            json.dumps({"db": {"host": "x", "password": SHORT_PASSWORD}}, indent=2),
            4,
        ),
        (
            "docker-compose.yml",
            f"services:\n  db:\n    environment:\n      - POSTGRES_PASSWORD={SHORT_PASSWORD}\n",
            4,
        ),
    ],
)
def test_unquoted_and_short_passwords_in_config_are_found(path, text, line):
    assert find_secret(text) is None  # too short, or unquoted: what ingest scanned before
    found = find_secret_in_file(path, text)
    assert found is not None and (found.label, found.line) == (ASSIGNMENT, line)


@pytest.mark.parametrize("path", ["app/settings.py", "deploy/values.yaml", "README.md", "notebooks/a.ipynb"])
def test_a_password_in_a_database_url_is_found_in_any_file(path):
    text = f'x = 1\nDATABASE_URL = "{URL}"\n'
    if path.endswith(".ipynb"):
        text = notebook(code_cell(text))
    found = find_secret_in_file(path, text)
    assert found is not None and found.label == "password in URL"
    assert found.line == line_holding(text, "postgres://")


def test_a_jwt_and_a_key_named_key_are_found():
    found = find_secret_in_file("app/auth.py", f"HEADERS = {{'Authorization': 'Bearer {JWT}'}}\n")
    assert found is not None and found.label == "JWT"
    for text in (
        f'key = "{KEY}"\n',
        f"self.key = '{KEY}'\n",
        f"cfg = dict(\n    key='{KEY}',\n)\n",
    ):
        found = find_secret_in_file("app/client.py", text)
        assert found is not None and found.label == ASSIGNMENT, text
    found = find_secret_in_file("deploy/values.yaml", f"signing:\n  key: {KEY}\n")
    assert found is not None and found.line == 2


# --- what must not count ---------------------------------------------------------------------------

PLACEHOLDERS = [
    "${DB_PASSWORD}",
    "changeme",
    "<your-password>",
    "os.environ['DB_PASSWORD']",
    "None",
    "",
    "{{ .Values.db.password }}",
    "%(db_password)s",
    "/run/secrets/db_password",
    "true",
    "12345678",
    "vault:secret/data/billing#password",
    "django.contrib.auth.hashers.Argon2PasswordHasher",
]


@pytest.mark.parametrize("value", PLACEHOLDERS)
@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("values.yaml", "db:\n  password: {v}\n"),
        ("app.ini", "[db]\npassword = {v}\n"),
        ("app.toml", '[db]\npassword = "{v}"\n'),
        ("app.properties", "db.password={v}\n"),
        (".env.example", "DB_PASSWORD={v}\n"),
        ("app.json", '{{"password": "{v}"}}\n'),
        ("settings.py", 'PASSWORD = "{v}"\n'),
    ],
)
def test_placeholders_are_not_secrets(path, template, value):
    assert find_secret_in_file(path, template.format(v=value)) is None


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (
            "db.py",
            "engine = create_engine('postgresql://scott:tiger@localhost/test')\n",
        ),
        (
            "db.py",
            "URL = 'postgres://user:password@localhost/app'\nOTHER = 'postgres://${U}:${P}@db/app'\n",
        ),
        (
            "app.yaml",
            "sort:\n  key: created_at\ncache_key: user:1234:profile:v2\ntoken_url: https://x.io/token\n",
        ),
        (
            "app.yaml",
            "password_file: /etc/app/db.pass\npassword_min_length: 12\nsecret_name: billing-db\n",
        ),
        (
            "keys.json",
            '{"public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE9q8Zr2vLk"}',
        ),
        (
            "tokenizer_config.json",
            '{"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>"}',
        ),
        ("ci.yaml", "env:\n  PYPI_TOKEN: ${{ secrets.PYPI_TOKEN }}\n"),
        ("app.py", "def get(key):\n    key = 'user:' + key\n    return cache[key]\n"),
        (
            "a.ipynb",
            notebook(
                code_cell(
                    "tokens = tok(text)\n",
                    [
                        {
                            "name": "stdout",
                            "output_type": "stream",
                            "text": ["key: value\n"],
                        }
                    ],
                )
            ),
        ),
        ("a.ipynb", "{not json"),
    ],
)
def test_look_alikes_are_not_secrets(path, text):
    assert find_secret_in_file(path, text) is None


def test_file_formats_by_name():
    assert {
        p: file_format(p)
        for p in [
            "a/b.ipynb",
            "x.YAML",
            "y.yml.example",
            "setup.cfg",
            "my.cnf",
            "n.conf",
            "pyproject.toml",
            "a.properties",
            ".env.example",
            "prod.env.sample",
            ".envrc",
            "env.sh",
            "setenv.sh",
            "c.json",
            "main.py",
            "README.md",
        ]
    } == {
        "a/b.ipynb": "notebook",
        "x.YAML": "yaml",
        "y.yml.example": "yaml",
        "setup.cfg": "ini",
        "my.cnf": "ini",
        "n.conf": "ini",
        "pyproject.toml": "toml",
        "a.properties": "properties",
        ".env.example": "env",
        "prod.env.sample": "env",
        ".envrc": "env",
        "env.sh": "env",
        "setenv.sh": "env",
        "c.json": "json",
        "main.py": "text",
        "README.md": "text",
    }


# --- the labelled set, and a real corpus ----------------------------------------------------------


def _bench():
    spec = importlib.util.spec_from_file_location("secrets_eval", REPO / "bench" / "secrets_eval.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["secrets_eval"] = module
    spec.loader.exec_module(module)
    return module


def test_the_labelled_set_every_ruled_shape_found_no_decoy_flagged(tmp_path):
    bench = _bench()
    cases = bench.cases()
    missed = [(c.shape, c.format) for c in cases if c.shape and find_secret_in_file(c.path, c.text) is None]
    flagged = [(c.decoy, c.format) for c in cases if c.decoy and find_secret_in_file(c.path, c.text) is not None]
    assert len(cases) > 800 and flagged == []
    # Only shapes no rule names, written where nothing names them either (prose), are missed.
    assert missed and all(shape.endswith("(no rule)") and fmt == "markdown" for shape, fmt in missed)
    assert bench.MARKER not in "".join(c.text for c in cases)


def test_no_false_alarm_on_real_code_and_docs():
    """The stdlib json and email packages and this repository's code, tests and docs."""
    import email

    roots = [
        Path(json.__file__).parent,
        Path(email.__file__).parent,
        REPO / "src",
        REPO / "tests",
        REPO / "docs",
    ]
    files = [
        p
        for root in roots
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".py", ".md", ".toml", ".json", ".yaml")
    ]
    files = [p for p in files if "data/secrets" not in p.as_posix()]  # the labelled set, secrets on purpose
    assert len(files) > 150
    for path in files:
        assert find_secret_in_file(path.as_posix(), path.read_text(encoding="utf-8", errors="replace")) is None, path
