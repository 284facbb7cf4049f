"""Data-like and generated files: text that chunks into thousands of chunks nobody searches for.

A 1e6-line file of numbers is 2 MB of valid UTF-8, under every size limit; it became 9,174 chunks,
403 s and 1.15 GB. Such files are skipped whole, with a reason the ingest report counts; no sample
of them is indexed, as a sample of a number table or a log answers no question a search asks.

`data_like(path, text)` is cheap enough to run on every file: files under `MIN_CHARS` are never
flagged (they cost little to index, and most source files are that small), and the rest are judged
on the lines of 16 slices of 1 KB spread over the file. The rules, in the order they are tried:

- minified code: the average line is over `MINIFIED_AVG_LINE` characters;
- CSV/TSV dumps: a .csv/.tsv file;
- numeric lines: most lines are numbers and separators;
- CSV/TSV rows: most lines split into the same number (3 or more) of fields on a comma, semicolon
  or tab;
- logs: a .log file, or most lines open with a date and time;
- repetition: few distinct lines among the long ones.

Lock files and `*.min.js` are not here: the default ignore list (ignore.py) never walks them.
Over the 32,811 text files of this project's virtualenv (site-packages), 70 are flagged: number
tables, generated code, test data and wheel RECORDs (`bench/datalike_scan.py` lists them). Each
reason names its rule's threshold, not the file's own figure, so the report counts files by reason.
"""

from __future__ import annotations

import re
from collections import Counter

MIN_CHARS = 32_000
SAMPLE_WINDOWS = 16
WINDOW_CHARS = 1_024
MINIFIED_AVG_LINE = 500
MOST = 0.8  # "most lines": the share a rule needs
DISTINCT_MIN = 0.1  # repetition: distinct long lines under this share of the long lines

_NUMERIC = re.compile(r"[\s\d.,;:eE+\-\[\](){}|/]*")
_DIGIT = re.compile(r"\d")
_TIMESTAMP = re.compile(r"\W{0,3}\d{4}[-/]\d{2}[-/]\d{2}[ T_]\d{2}:\d{2}|\W{0,3}\w{3} [ \d]\d \d{2}:\d{2}:\d{2}")
_DATA_EXTENSIONS = {".csv": "CSV", ".tsv": "TSV"}


def data_like(path: str, text: str) -> str | None:
    """Why the file at `path` holding `text` is data or generated rather than source or prose, or
    None if it is worth indexing."""
    if len(text) < MIN_CHARS:
        return None
    if len(text) / (text.count("\n") + 1) > MINIFIED_AVG_LINE:
        return f"minified or generated code (average line over {MINIFIED_AVG_LINE} chars)"
    ext = path[path.rfind("."):].lower() if "." in path.rsplit("/", 1)[-1] else ""
    if ext in _DATA_EXTENSIONS:
        return f"data-like file ({_DATA_EXTENSIONS[ext]})"
    if ext == ".log":
        return "log file"
    sample = [line for line in _sample(text) if line.strip()]
    if not sample:
        return None
    need = MOST * len(sample)
    if sum(bool(_NUMERIC.fullmatch(line)) and bool(_DIGIT.search(line)) for line in sample) >= need:
        return "data-like file (numeric lines)"
    if _field_rows(sample) >= need:
        return "data-like file (CSV/TSV rows)"
    if sum(bool(_TIMESTAMP.match(line)) for line in sample) >= need:
        return "log file (timestamped lines)"
    long = [line.strip() for line in sample if len(line.strip()) > 16]
    if len(long) >= 100 and len(set(long)) < DISTINCT_MIN * len(long):
        return "data-like file (repetitive lines)"
    return None


def _sample(text: str) -> list[str]:
    """The whole lines in `SAMPLE_WINDOWS` slices of `WINDOW_CHARS` spread evenly over `text`: the
    rules read at most 16 KB of a file, whatever its size."""
    step = max(WINDOW_CHARS, len(text) // SAMPLE_WINDOWS)
    lines: list[str] = []
    for start in range(0, len(text), step):
        lines.extend(text[start:start + WINDOW_CHARS].split("\n")[1:-1])
    return lines


def _field_rows(sample: list[str]) -> int:
    """How many lines split into the most common number of fields (3 or more) on the delimiter
    that gives the most such lines."""
    best = 0
    for delimiter in (",", "\t", ";"):
        counts = Counter(line.count(delimiter) for line in sample)
        fields, rows = counts.most_common(1)[0]
        if fields >= 2:
            best = max(best, rows)
    return best
