"""The secret-file name rules, compiled into one regex, say exactly what their globs say."""

from __future__ import annotations

import fnmatch
import itertools

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
