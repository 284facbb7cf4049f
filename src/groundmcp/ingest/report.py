"""What an ingest did (or, dry, would do), and the progress it reports while it runs."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import NamedTuple

from .walk import Skipped


class IngestProgress(NamedTuple):
    files_done: int  # files written (or, in a dry run, chunked)
    files_total: int  # files whose content has to be read (stat changed or new)
    chunks_encoded: int
    chunks_written: int  # chunks only: a file's empty or symbols record is no chunk


@dataclass(slots=True)
class IngestReport:
    """Who writes which field while an ingest runs (pipeline._Run), so no two threads share one:

    - the caller's thread, before the others start and after they end: collection, root, dry_run,
      files_seen, leftovers_dropped, removed, seconds, and `unchanged` for files the walk's stat
      settles; `encode_seconds` while it encodes; the Engine's joined_from and absorbed fields;
    - the preparer thread: skipped, and `unchanged` for files whose content hash settles them;
    - the writer thread (in a dry run, the caller's): added, changed, rechunked, empty, chunks,
      tokens, and chunks_removed for replaced versions; the caller adds removed files' chunks
      after the writer has ended.

    The caller reads the report only after the other threads have ended."""

    collection: str
    root: str
    dry_run: bool = False
    files_seen: int = 0
    unchanged: int = 0
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    rechunked: int = 0  # of `changed`: same content, chunked again (a new chunker or chunk size)
    removed: list[str] = field(default_factory=list)
    empty: list[str] = field(default_factory=list)  # readable files that gave no chunk
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0  # chunks encoded (dry run: that would be encoded)
    tokens: int = 0
    chunks_removed: int = 0  # chunks only, as `chunks`: the records that are no chunk left out
    leftovers_dropped: int = 0  # unpublished points of an interrupted run, deleted first
    # Code files left as they were that were given the symbols record they lacked (indexed before
    # symbols existed: symbols/backfill.py); no chunk was encoded for them. Set by the caller's thread.
    symbols_backfilled: int = 0
    # Set by the Engine (roots.py): the path asked for when it joined `root`, a tree root holding
    # it ("" otherwise; the paths above are relative to `root` either way); the roots inside the
    # region that gave up records to `root` (a dry run: that it would look at), and how many
    # records (duplicates) went.
    joined_from: str = ""
    absorbed: list[str] = field(default_factory=list)
    absorbed_records: int = 0
    seconds: float = 0.0
    encode_seconds: float = 0.0

    def record(self, path: str, old, chunks: int, tokens: int, *, rechunked: bool = False) -> None:
        if old is not None:
            self.changed.append(path)
            self.rechunked += rechunked
        elif chunks == 0:
            self.empty.append(path)
        else:
            self.added.append(path)
        self.chunks += chunks
        self.tokens += tokens

    def skipped_by_reason(self) -> dict[str, int]:
        """Skipped files counted by reason, most common first (a line number or size dropped)."""
        return dict(Counter(reason_key(s.reason) for s in self.skipped).most_common())

    def to_dict(self) -> dict:
        data = asdict(self)
        data["skipped"] = [{"path": s.path, "reason": s.reason} for s in self.skipped]
        data["skipped_by_reason"] = self.skipped_by_reason()
        return data


_DETAIL = re.compile(r", line \d+\)$")


def reason_key(reason: str) -> str:
    """A skip reason without what differs file to file, for counting: "secret in content (AWS
    access key id, line 3)" counts as "secret in content (AWS access key id)"."""
    if reason.startswith("larger than "):
        return "too large"
    if reason.startswith("unreadable: "):
        return "unreadable"
    return _DETAIL.sub(")", reason)


def progress_line(label: str, p: IngestProgress | None, elapsed: float, working: float | None = None) -> str:
    """One line of progress for a log: files done of the total, chunks encoded, the rate, an ETA
    from the files' rate (the total is the walk's count of files to read). `working`: seconds since
    the walk ended (the rate and ETA leave the walk out); `elapsed` when not given."""
    if p is None:
        return f"{label}: walking the tree, {_duration(elapsed)} elapsed"
    working = elapsed if working is None else working
    rate = f", {p.chunks_encoded / working:.1f} chunks/s" if p.chunks_encoded and working > 0 else ""
    if p.files_done and p.files_total > p.files_done:
        eta = f", ETA {_duration(working * (p.files_total - p.files_done) / p.files_done)}"
    elif p.files_total and p.files_done >= p.files_total:
        eta = ", finishing"
    else:
        eta = ", ETA unknown (no file done yet: the model may be loading)" if p.files_total else ""
    return (
        f"{label}: {p.files_done:,}/{p.files_total:,} files, {p.chunks_encoded:,} chunks encoded{rate}{eta}, "
        f"{_duration(elapsed)} elapsed"
    )


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"
