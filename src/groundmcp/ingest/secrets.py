"""Keeping credentials out of the index: by file name while walking, by content before encoding.

Two checks, both high-confidence so that ordinary code and docs stay indexable:

- ``secret_file(path)`` names files that hold credentials by their nature (``.env``, private keys
  and certificates, ``.netrc``, cloud and cluster credential files, Terraform state). ``walk``
  skips them without opening them.
- ``find_secret(text)`` finds one secret in text: a PEM private key block, a token whose format
  its issuer fixed (AWS, GitHub, GitLab, Slack, Google, Stripe, OpenAI, Anthropic, Hugging Face,
  npm, PyPI, a JWT and some 20 more), a password-like assignment of a random-looking literal, or a
  URL that holds a real-looking password.
- ``find_secret_in_file(path, text)`` finds that and more in what the file means: a notebook's cells
  and outputs decoded from its JSON (``secret_formats``), and values given to password-like names
  in config formats counted even unquoted (``secret_values``). The ingest pipeline runs it over a
  file's whole text (a PDF's: the text of its chunks) and skips the **whole file** on a match:
  secrets come in groups (an AWS key id sits next to its secret key, which no pattern tells from
  other base64), and a PEM key spans several chunks of which only the first holds the BEGIN line.
  Substring needles first, a regex only where one occurs; bench/secrets_eval.py measures its speed,
  recall and false alarms.

What is reported is a label and a line number, never the matched text.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from .secret_formats import CONFIG_FORMATS, file_format, notebook_pieces
from .secret_values import (
    config_secret,
    looks_random,
    random_key,
    secret_name,
    url_credentials,
)

# --- by file name ----------------------------------------------------------------------------------

# (glob on the lower-cased file name, label). Checked in order; the first match names the reason.
_NAME_RULES: tuple[tuple[str, str], ...] = (
    (".env", ".env file"),
    (".env.*", ".env file"),
    ("*.env", ".env file"),
    ("*.pem", "private key or certificate"),
    ("*.key", "private key or certificate"),
    ("*.p8", "private key or certificate"),
    ("*.p12", "private key or certificate"),
    ("*.pfx", "private key or certificate"),
    ("*.pkcs12", "private key or certificate"),
    ("*.jks", "private key or certificate"),
    ("*.keystore", "private key or certificate"),
    ("*.ppk", "private key or certificate"),
    ("*.crt", "private key or certificate"),
    ("*.cer", "private key or certificate"),
    ("*.der", "private key or certificate"),
    ("*.csr", "private key or certificate"),
    ("id_rsa*", "SSH key"),
    ("id_dsa*", "SSH key"),
    ("id_ecdsa*", "SSH key"),
    ("id_ed25519*", "SSH key"),
    ("*.kdbx", "password database"),
    (".netrc", "credential store"),
    ("_netrc", "credential store"),
    (".pgpass", "credential store"),
    (".git-credentials", "credential store"),
    (".pypirc", "credential store"),
    (".htpasswd", "credential store"),
    (".my.cnf", "credential store"),
    (".vault-token", "credential store"),
    (".boto", "credential store"),
    (".s3cfg", "credential store"),
    ("credentials.json", "credential store"),
    ("client_secret*.json", "credential store"),
    ("application_default_credentials.json", "credential store"),
    ("service-account*.json", "credential store"),
    ("secrets.json", "credential store"),
    ("secrets.yml", "credential store"),
    ("secrets.yaml", "credential store"),
    ("secrets.toml", "credential store"),
    ("kubeconfig", "cluster credentials"),
    ("*.kubeconfig", "cluster credentials"),
    ("*.tfstate", "Terraform state"),
    ("*.tfstate.backup", "Terraform state"),
)

# (parent folder, file name) pairs: credentials that only their folder marks as such.
_DIR_RULES: dict[tuple[str, str], str] = {
    (".aws", "credentials"): "cloud credentials",
    (".aws", "config"): "cloud credentials",
    (".kube", "config"): "cluster credentials",
    (".docker", "config.json"): "registry credentials",
    (".azure", "accesstokens.json"): "cloud credentials",
    (".azure", "msal_token_cache.json"): "cloud credentials",
    (".gem", "credentials"): "registry credentials",
    (".ssh", "*"): "SSH folder",
}
_SSH_PUBLIC = ("*.pub", "known_hosts", "known_hosts.old", "authorized_keys", "config")

# Templates that document settings rather than hold them stay indexable; their content is still
# checked like any file's.
_TEMPLATE_SUFFIXES = (".example", ".sample", ".template", ".dist", ".defaults", ".tpl")


def _one_regex(globs: tuple[str, ...]) -> re.Pattern[str]:
    """The globs as one regex: the alternatives in order, each fnmatch's own translation (anchored
    at the end), so `match` finds the first glob that matches the whole name, as a loop of
    `fnmatch.fnmatchcase` would, with a group per glob (`rule<index>`) to say which. Walking calls
    this for every file: one regex takes about a quarter of the time of 43 glob matches."""
    return re.compile("|".join(f"(?P<rule{i}>{fnmatch.translate(g)})" for i, g in enumerate(globs)))


_NAME_RE = _one_regex(tuple(glob for glob, _ in _NAME_RULES))
_SSH_PUBLIC_RE = _one_regex(_SSH_PUBLIC)


def secret_file(path: str) -> str | None:
    """Why the file at ``path`` (forward slashes, any depth) holds credentials by its name; or None."""
    parts = [p for p in path.replace("\\", "/").lower().split("/") if p]
    if not parts:
        return None
    name = parts[-1]
    parent = parts[-2] if len(parts) > 1 else ""
    if parent == ".ssh" and not _SSH_PUBLIC_RE.match(name):
        return _DIR_RULES[(".ssh", "*")]
    if (label := _DIR_RULES.get((parent, name))) is not None:
        return label
    if name.endswith(_TEMPLATE_SUFFIXES) or name.endswith(".pub"):
        return None
    if (found := _NAME_RE.match(name)) is None:
        return None
    return _NAME_RULES[int(str(found.lastgroup).removeprefix("rule"))][1]


# --- by content ------------------------------------------------------------------------------------

_B64 = r"[A-Za-z0-9+/=]"

# (label, needles, pattern). A pattern is tried only where one of its needles occurs (a plain
# substring search, far faster than a regex scan), and must match starting at that needle. Each
# needle costs a pass over the text, so rules share short needles ("gh", "gl", "xox", "sk-") where
# they can: a needle that occurs often costs a failed match per occurrence, far less than a pass.
_RULES: tuple[tuple[str, tuple[str, ...], re.Pattern[str]], ...] = tuple(
    (label, tuple(needles.split()), re.compile(rx))
    for label, needles, rx in (
        # The BEGIN line alone is no secret (parsers and docs name it): a key body must follow,
        # as lines or inside a JSON string with literal \n (cloud service-account files).
        (
            "private key",
            "-----BEGIN",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:\s|\\n|\\r)+"
            r"(?:[A-Za-z-]+: [^\n]*(?:\s|\\n)+)*" + _B64 + r"{40,}",
        ),
        ("AWS access key id", "AKIA ASIA ABIA ACCA A3T", r"(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}\b"),
        ("GitHub token", "gh", r"gh[pousr]_[A-Za-z0-9]{36}\b"),
        ("GitHub token", "github_pat_", r"github_pat_[A-Za-z0-9_]{82}\b"),
        ("GitLab token", "gl", r"gl(?:pat|ptt|dt|rt|cbt|ft|imt|soat|oas)-[\w-]{20,}"),
        ("Slack token", "xox", r"xox[abposr]-\d+-[A-Za-z0-9-]{8,}"),
        ("Slack token", "xapp-", r"xapp-\d-[A-Z0-9]+-\d+-[a-z0-9]{20,}"),
        ("Slack webhook", "hooks.slack.com/services/", r"hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]{20,}"),
        ("Google API key", "AIza", r"AIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])"),
        ("Stripe key", "sk_live_ rk_live_ sk_test_ rk_test_", r"[rs]k_(?:live|test)_[0-9A-Za-z]{24,}\b"),
        ("OpenAI key", "sk-", r"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}"),
        ("Anthropic key", "sk-", r"sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,}"),
        ("Hugging Face token", "hf_", r"hf_[A-Za-z0-9]{34}\b"),
        ("npm token", "npm_", r"npm_[A-Za-z0-9]{36}\b"),
        ("PyPI token", "pypi-AgEIcHlwaS5vcmc", r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
        ("npm registry token", ":_", r":_(?:authToken|auth|password)\s*=\s*[^\s$\"'][^\s]{8,}"),
        ("npm registry token", "npmAuthToken", r"npmAuthToken:\s*[\"']?[^\s$\"'{]{8,}"),
        # More formats their issuers fixed, from gitleaks' config/gitleaks.toml and detect-secrets'
        # plugins (bench/secrets_eval.py measures which shapes are found).
        ("JWT", "eyJ", r"eyJ[A-Za-z0-9_-]{10,4000}={0,2}\.eyJ[A-Za-z0-9_-]{10,20000}={0,2}\.[A-Za-z0-9_-]{16,}"),
        ("Grafana token", "gl", r"(?:glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8}|glc_[A-Za-z0-9+/]{32,400})"),
        ("SendGrid key", "SG.", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
        ("Twilio key", "SK", r"SK[0-9a-fA-F]{32}\b"),
        ("DigitalOcean token", "dop_v1_", r"dop_v1_[a-f0-9]{64}\b"),
        ("Shopify token", "shp", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}\b"),
        ("Databricks token", "dapi", r"dapi[a-f0-9]{32}(?:-\d)?\b"),
        ("Linear key", "lin_api_", r"lin_api_[A-Za-z0-9]{40}\b"),
        ("Doppler token", "dp.pt.", r"dp\.pt\.[A-Za-z0-9]{43}"),
        ("Vault token", "hvs.", r"hvs\.[\w-]{90,}"),
        ("Square token", "sq0", r"sq0(?:atp|csp)-[\w-]{22,43}"),
        ("Postman key", "PMAK-", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}"),
        ("age secret key", "AGE-SECRET-KEY-1", r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
        ("Atlassian token", "ATATT3", r"ATATT3[A-Za-z0-9_=-]{186}"),
        ("Perplexity key", "pplx-", r"pplx-[A-Za-z0-9]{48}\b"),
        ("Groq key", "gsk_", r"gsk_[A-Za-z0-9]{52}\b"),
        ("Google OAuth secret", "GOCSPX-", r"GOCSPX-[\w-]{28}"),
        ("Azure storage key", "AccountKey=", r"AccountKey=[A-Za-z0-9+/]{86}=="),
    )
)
# needle -> the (label, pattern) pairs tried where it occurs: one pass over the text per needle.
_BY_NEEDLE: dict[str, list[tuple[str, re.Pattern[str]]]] = {}
for _label, _needles, _pattern in _RULES:
    for _needle in _needles:
        _BY_NEEDLE.setdefault(_needle, []).append((_label, _pattern))

# Documented example values that match the formats above.
_EXAMPLES = ("EXAMPLE", "xxxxxxxx", "XXXXXXXX", "00000000")

# A password-like name assigned a quoted literal: `password = "..."`, `"api_key": "..."`,
# `SECRET_KEY: '...'`, matched on the lower-cased text. Only literals that look random count (see
# _looks_random), so `password = "password"`, placeholders and field names stay indexable.
# A name that is just `key` needs a longer random value (see secret_values.random_key). (A named
# group for it in the alternation would make the regex several times slower.)
_ASSIGNMENT_NEEDLES = ("pass", "secret", "key", "token")
_ASSIGNMENT = re.compile(
    r"""(?:pass(?:word|wd|phrase)|secret|api[_-]?key|apikey|access[_-]?key|auth[_-]?token|"""
    r"""access[_-]?token|client[_-]?secret|private[_-]?key|token|key)["']?[ \t]*"""
    r"""(?::=|=|:)[ \t]*[rbuf]{0,2}(["'])(?P<value>[^"'\s]{12,200})\1"""
)


@dataclass(frozen=True, slots=True)
class SecretFound:
    label: str  # what kind of secret, e.g. "AWS access key id"
    line: int  # 1-based line of the text where it starts

    def reason(self) -> str:
        """For a Skipped: the kind and line, never the secret."""
        return f"secret in content ({self.label}, line {self.line})"


def secret_file_reason(label: str) -> str:
    """For a Skipped: why a file was left out by its name."""
    return f"secret file ({label})"


def find_secret(text: str) -> SecretFound | None:
    """The first secret in ``text`` (by position), or None."""
    return _found(text, _first(text))


def find_secret_in_file(path: str, text: str) -> SecretFound | None:
    """The first secret in the file at ``path`` whose text is ``text``, scanned for what the file
    means (see secret_formats): a notebook's cell sources and outputs decoded from its JSON, and in
    config formats and outputs, values given to password-like names counted even unquoted (see
    secret_values). Finds all that ``find_secret(text)`` finds. The line is a line of the file (for
    a notebook, of its JSON)."""
    fmt = file_format(path)
    first = _first(text)
    if fmt in CONFIG_FORMATS and (at := config_secret(text, before=first[0] if first else None)) is not None:
        first = (at, "password or key assignment")
    if first is not None or fmt != "notebook":
        return _found(text, first)
    for piece in notebook_pieces(text):
        found = _first(piece.text)
        if piece.data and (at := config_secret(piece.text, before=found[0] if found else None)) is not None:
            found = (at, "password or key assignment")
        if found is not None:
            return SecretFound(found[1], piece.line(piece.text.count("\n", 0, found[0]) + 1))
    return None


def _found(text: str, first: tuple[int, str] | None) -> SecretFound | None:
    return None if first is None else SecretFound(first[1], text.count("\n", 0, first[0]) + 1)


def _first(text: str) -> tuple[int, str] | None:
    """Where the first secret in ``text`` starts, and its label."""
    first: tuple[int, str] | None = None
    for needle, rules in _BY_NEEDLE.items():
        at = text.find(needle)
        while at != -1 and (first is None or at < first[0]):
            if (label := _match(text, at, rules)) is not None:
                first = (at, label)
                break
            at = text.find(needle, at + 1)
    if (at := _assignment(text, first[0] if first else len(text))) is not None:
        first = (at, "password or key assignment")
    if (at := url_credentials(text, first[0] if first else len(text))) is not None:
        first = (at, "password in URL")
    return first


def _match(text: str, at: int, rules: list[tuple[str, re.Pattern[str]]]) -> str | None:
    """The label of the first rule whose pattern matches at ``at``, as a word of its own, and is
    not a documented example."""
    if not _starts_word(text, at):  # first: inside a long run of word characters, only its start
        return None  # is tried, so a run packed with needles costs one match, not one each
    for label, pattern in rules:
        match = pattern.match(text, at)
        if match and not any(e in match.group(0) for e in _EXAMPLES):
            return label
    return None


def _starts_word(text: str, at: int) -> bool:
    return at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_") or text[at] in "-:"


def _assignment(text: str, before: int) -> int | None:
    """Where the first random-looking literal assigned to a password-like name starts, if before
    ``before``."""
    lower = text.lower()
    if len(lower) != len(text):  # a few characters lower-case to two; keep positions true
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    if not any(n in lower for n in _ASSIGNMENT_NEEDLES):
        return None
    for match in _ASSIGNMENT.finditer(lower, 0, before):
        value = text[match.start("value") : match.end("value")]
        if not lower.startswith("key", match.start()):
            if looks_random(value):
                return match.start()
            continue
        # `key`, or a name ending in it that the alternatives above do not name (`signing_key`):
        # the whole name says how much the value must prove.
        start = match.start()
        while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "_-"):
            start -= 1
        kind = secret_name(text[start : match.start() + 3])
        if kind is not None and (random_key(value) if kind == "key" else looks_random(value)):
            return start
    return None

