"""Whether a value given to a password-like name is a real secret, and where such pairs are.

Token formats that their issuer fixed are recognised anywhere (``secrets._RULES``). A password has no
format: it is a secret because of the name it is given (``password``, ``api_key``, ``DB_PASSWORD``)
and because it does not look like a placeholder (``${DB_PASSWORD}``, ``changeme``,
``<your-password>``, ``os.environ[...]``, ``None``, empty), a path, a file name or a word.

Two strengths of evidence:

- In code (``password = "..."``) a quoted literal counts only when it looks random
  (``looks_random``): code is full of literals assigned to names like ``token`` and ``key``.
- In config files, env dumps and notebook outputs, where a value is data rather than code, any
  value that passes ``real_password`` counts, quoted or not: ``password: hunter2Xy9!q`` in YAML,
  ``password = s3cr3tP4ss`` in INI, ``DB_PASSWORD=...`` in a ``.env.example``.

A name that is just ``key`` (a dict key, a cache key, a sort key) needs a random-looking value of at
least 16 base64 characters in either place.
"""

from __future__ import annotations

import math
import re
from collections import Counter

# The last word of a name that makes its value a credential ("db_password", "apiKey", "AUTH_TOKEN").
_SECRET_WORDS = frozenset(  # noqa: SIM905
    "password passwd pwd pass passphrase secret token key apikey secretkey accesskey privatekey "
    "authtoken accesstoken refreshtoken clientsecret credential credentials".split()
)
# Any of these words in a name says its value is about a secret, not the secret ("password_file",
# "token_url", "public_key", "max_tokens" does not end in a secret word anyway).
_NOT_SECRET = frozenset(  # noqa: SIM905
    "file path dir name id type url uri length len min max size field env var hash public pub prompt "
    "label policy regex pattern header param count expiry expires ttl timeout mode format enabled "
    "required set column prefix suffix sort cache primary foreign index lookup ref schema method "
    "algorithm alg kind location store storage provider input output attr attribute".split()
)
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

# Values that refer to a secret kept elsewhere, or stand in for one.
_PLACEHOLDER = re.compile(
    r"(?i)your|example|sample|dummy|placeholder|change|xxx|\*\*\*|<|>|\{|\}|^\$|\$[{(]|%\(|\.\.\.|redacted|"
    r"environ|getenv|env\[|env\.|secrets\.|vault|todo|fixme|insert|replace|fill[_-]?in|enter[_-]|"
    r"not[_-]?set|none|null|undefined|default|password|secret|passw|foobar"
)
_COMMON = frozenset(  # noqa: SIM905
    "letmein qwerty abc123 admin123 password1 passw0rd p@ssw0rd p@ssword welcome1".split()
)
_DOTTED_NAME = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+(?:\(\))?")
_FILE_NAME = re.compile(r"(?i)[\w.-]+\.(?:pem|key|crt|cer|json|txt|ya?ml|p12|pfx|cfg|ini|conf|env|toml|gpg|asc)")
_B64ISH = re.compile(r"[A-Za-z0-9+/=_-]+")


def secret_name(name: str) -> str | None:
    """ "password" if ``name`` names a credential, "key" if it is just ``key``, else None."""
    words = [w.lower() for w in _WORDS.findall(name)]
    if not words:
        return None
    joined = "".join(words[-2:])  # "api", "key" -> "apikey"
    if words[-1] not in _SECRET_WORDS and joined not in _SECRET_WORDS:
        return None
    if any(w in _NOT_SECRET for w in words):
        return None
    return "key" if words == ["key"] else "password"


def entropy(value: str) -> float:
    """Shannon entropy of the value's characters, in bits per character."""
    counts = Counter(value)
    return -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())


def looks_random(value: str) -> bool:
    """A literal that looks like a generated secret rather than a word, a placeholder, a path or
    a format string: letters and digits mixed, and at least 3.3 bits of entropy per character
    (a random 12-character alphanumeric string has about 3.4; English words and identifiers less)."""
    if _PLACEHOLDER.search(value) or "/" in value[:1] or value.count(".") > 2:
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    return entropy(value) >= 3.3


def random_key(value: str) -> bool:
    """A value for a name that is just ``key``: 16 or more base64 characters that look random."""
    return len(value) >= 16 and _B64ISH.fullmatch(value) is not None and looks_random(value)


def real_password(value: str) -> bool:
    """A value given to a password-like name in config that looks like a real password: 8 to 200
    characters without spaces, letters with digits or symbols, 2.5 bits of entropy per character
    or more, and not a placeholder, reference, path, URL, file or dotted name."""
    if not 8 <= len(value) <= 200 or any(c.isspace() for c in value):
        return False
    if value[0] in "/~.!&*[(@:-\\" or "://" in value or value.lower() in _COMMON:
        return False
    if _PLACEHOLDER.search(value) or _DOTTED_NAME.fullmatch(value) or _FILE_NAME.fullmatch(value):
        return False
    if not any(c.isalpha() for c in value) or all(c.isalpha() or c in "_-" for c in value):
        return False
    return entropy(value) >= 2.5


def unquote(value: str) -> str:
    """A config value without its comment, trailing comma and quotes: ``"abc" # x`` -> ``abc``."""
    value = value.strip()
    if value[:1] and value[0] in "\"'":
        end = value.find(value[0], 1)
        return value[1:end] if end > 0 else value[1:]
    for mark in (" #", "\t#", " ;", "\t;"):
        if (cut := value.find(mark)) != -1:
            value = value[:cut]
    return value.rstrip(",;").strip()


# `name = value`, `name: value`, `export NAME=value`, `- NAME=value` (compose), one a line.
_CONFIG_LINE = re.compile(
    r"""^[ \t]*(?:-[ \t]+)?(?:export[ \t]+)?["']?(?P<name>[A-Za-z_][\w.-]{0,80})["']?[ \t]*"""
    r"""(?:=|:(?![:=]))[ \t]*(?P<value>[^\n]*)$""",
    re.MULTILINE,
)
# `"name": "value"` anywhere (JSON, and dict reprs in notebook outputs).
_QUOTED_PAIR = re.compile(r"""(["'])(?P<name>[A-Za-z_][\w.-]{0,80})\1[ \t]*:[ \t]*(["'])(?P<value>[^"'\n]{0,200})\3""")
_NEEDLES = ("pass", "pwd", "secret", "token", "key", "credential")


def config_secret(text: str, *, before: int | None = None) -> int | None:
    """Where the first credential given to a password-like name in config-like ``text`` starts
    (a line of ``name = value``, or a quoted ``"name": "value"`` pair), if before ``before``."""
    lower = text.lower()
    if not any(n in lower for n in _NEEDLES):
        return None
    end = len(text) if before is None else before
    first: int | None = None
    for pattern in (_CONFIG_LINE, _QUOTED_PAIR):
        for match in pattern.finditer(text, 0, end):
            if first is not None and match.start() >= first:
                break
            if (kind := secret_name(match.group("name"))) is None:
                continue
            value = match.group("value")
            value = unquote(value) if pattern is _CONFIG_LINE else value
            if random_key(value) if kind == "key" else real_password(value):
                first = match.start()
                break
    return first


# scheme://user:password@host. The password must pass real_password (so `user:pass@`, `scott:tiger@`
# and `${USER}:${PASSWORD}@` do not count), and the host must be one that can exist: the names
# reserved for documentation and tests (RFC 2606: example.com, *.example, *.test, *.invalid) cannot.
_URL_CREDENTIALS = re.compile(
    r"://(?P<user>[^\s:/@?#'\"<>`,]{1,64}):(?P<password>[^\s:/@?#'\"<>`,]{1,128})@(?P<host>[\w.-]+)"
)
_RESERVED_HOST = re.compile(r"(?i)(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid)\.?$")


def url_credentials(text: str, before: int) -> int | None:
    """Where the first URL that holds a real-looking password starts, if before ``before``."""
    at = text.find("://", 0, before)
    while at != -1:
        match = _URL_CREDENTIALS.match(text, at)
        if match and real_password(match.group("password")) and not _RESERVED_HOST.search(match.group("host")):
            start = at
            while start > 0 and (text[start - 1].isalnum() or text[start - 1] in "+.-"):
                start -= 1
            return start
        at = text.find("://", at + 3, before)
    return None
