"""A BEIR-layout dataset (corpus.jsonl, queries.jsonl, qrels/test.tsv), read without holding the corpus.

The corpus is scanned once for each passage's id and byte range; a passage's text is read back from
disk when the ingest pipeline gets to it. Each passage becomes one document for the pipeline, named
as it would be in a real tree: the path its metadata gives (`requests/models.py`), so chunk headers
carry what a user's would, not the passage id (`python:requests/models.py#L552-L649`). Passages of
one file share its path; the second and later of them go under a numbered folder (`2/requests/
models.py`), a short token that neither encoder can match to a query. A passage without a path keeps
its id. A code passage keeps its file's extension (so tree-sitter chunks it); a prose passage is
plain text (`.txt` in place of its `.rst` or `.md`), its title on the first line. (Rendering prose as
Markdown turned `#` comments in its code samples into headings and cut passages into 7% more
chunks; sparse nDCG@10 on the public docs set was 0.283 that way, 0.295 as text.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Container
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ..chunking.languages import CODE, language_for
from ..errors import InputError

CORPUS, QUERIES, QRELS = "corpus.jsonl", "queries.jsonl", Path("qrels") / "test.tsv"


@dataclass(frozen=True, slots=True)
class Query:
    id: str
    text: str
    group: str  # the query's language or source, "" when the dataset has neither


@dataclass(slots=True)
class Dataset:
    root: Path
    queries: list[Query]
    qrels: dict[str, dict[str, int]]  # query id -> {passage id: grade > 0}
    docs: list[tuple[str, int]] = field(default_factory=list)  # (document name, size) for the pipeline
    passage_of: dict[str, str] = field(default_factory=dict)  # document name -> passage id
    _spans: dict[str, tuple[int, int]] = field(default_factory=dict)  # document name -> byte range
    digest: str = ""  # sha256 of corpus.jsonl, for naming the collection

    @property
    def name(self) -> str:
        return self.root.name

    def load(self, doc_name: str) -> bytes:
        """The document's UTF-8 text, read back from the corpus file."""
        start, length = self._spans[doc_name]
        with open(self.root / CORPUS, "rb") as f:
            f.seek(start)
            record = json.loads(f.read(length))
        return render(record).encode("utf-8")


def open_dataset(root: Path, limit_queries: int | None = None) -> Dataset:
    """Scan `root`; InputError (saying which file and line) when it is not a BEIR dataset."""
    root = Path(root)
    for part in (CORPUS, QUERIES, QRELS):
        if not (root / part).is_file():
            raise InputError(
                f"{root} is not a BEIR dataset: {part} is missing "
                f"(expected {CORPUS}, {QUERIES} and {QRELS.as_posix()})"
            )
    qrels = _read_qrels(root / QRELS)
    queries = _read_queries(root / QUERIES, qrels)
    if limit_queries:
        queries = queries[:limit_queries]
    if not queries:
        raise InputError(f"{root / QUERIES} has no query with a relevant passage in {QRELS.as_posix()}")
    ds = Dataset(root, queries, qrels)
    _scan_corpus(ds)
    return ds


def render(record: dict) -> str:
    """A passage as the document the pipeline sees: code as it is, prose with its title first."""
    text, title = record.get("text") or "", (record.get("title") or "").strip()
    if _code_suffix(record):
        return text
    return f"{title}\n\n{text}" if title else text


def doc_name(record: dict, taken: Container[str] | None = None) -> str:
    """The passage's document name: its metadata path (its id when it has none), with a code
    file's extension or `.txt`; the first name of `ordinal/path` not in `taken` when given."""
    meta = record.get("metadata") or {}
    path = str(meta.get("path") or "").strip().strip("/") or str(record["_id"])
    suffix = _code_suffix(record) or ".txt"
    pure = PurePosixPath(path)
    if pure.suffix.lower() != suffix:
        # prose under its own stem (`about.rst` -> `about.txt`); an id such as `doc-1` gets `.txt`
        path = str(pure.with_suffix(suffix)) if pure.suffix and not _code_suffix(record) else path + suffix
    if taken is None or path not in taken:
        return path
    n = 2
    while f"{n}/{path}" in taken:
        n += 1
    return f"{n}/{path}"


def _code_suffix(record: dict) -> str:
    meta = record.get("metadata") or {}
    suffix = PurePosixPath(str(meta.get("path") or "")).suffix.lower()
    found = language_for(f"x{suffix}") if suffix else None
    if found is not None and found[1] == CODE:
        return suffix
    return ""


def _scan_corpus(ds: Dataset) -> None:
    sha = hashlib.sha256()
    offset = 0
    ids: set[str] = set()
    with open(ds.root / CORPUS, "rb") as f:
        for number, line in enumerate(f, 1):
            sha.update(line)
            start, offset = offset, offset + len(line)
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                pid = str(record["_id"])
                name = doc_name(record, ds._spans.keys())
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"{ds.root / CORPUS} line {number}: not a passage record ({exc})") from None
            if pid in ids:
                raise InputError(f"{ds.root / CORPUS} line {number}: passage id {pid!r} appears twice")
            ids.add(pid)
            ds._spans[name] = (start, len(line))
            ds.passage_of[name] = pid
            ds.docs.append((name, len(line)))
    ds.digest = sha.hexdigest()


def _read_qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            parts = line.rstrip("\n").split("\t")
            if number == 1 and parts[0] == "query-id":
                continue
            if len(parts) != 3:
                raise InputError(f"{path} line {number}: expected query-id, corpus-id, score separated by tabs")
            q, d, s = parts
            if int(s) > 0:
                qrels.setdefault(q, {})[d] = int(s)
    return qrels


def _read_queries(path: Path, qrels: dict[str, dict[str, int]]) -> list[Query]:
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            q = json.loads(line)
            qid = str(q["_id"])
            if qid in qrels:
                meta = q.get("metadata") or {}
                out.append(Query(qid, q["text"], str(meta.get("language") or meta.get("source") or "")))
    return out
