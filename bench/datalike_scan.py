"""How often the data-like rule (ingest/datalike.py) fires on real source and docs: walk a tree as
ingest does (ignore rules, size limit, text only), run `data_like` on every file, print the
counts, the time it took and every flagged file.

    python bench/datalike_scan.py .venv/lib/python3.11/site-packages
"""

from __future__ import annotations

import argparse
import time
from collections import Counter

from groundmcp.ingest.datalike import MIN_CHARS, data_like
from groundmcp.ingest.read import decode_text, read_bytes
from groundmcp.ingest.walk import FileEntry, WalkOptions, walk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root")
    args = parser.parse_args()
    options = WalkOptions()
    scanned = large = 0
    seconds = 0.0
    flagged: list[tuple[str, int, str]] = []
    for entry in walk(args.root, options):
        if not isinstance(entry, FileEntry):
            continue
        data = read_bytes(entry, options.max_file_bytes)
        text = data if isinstance(data, bytes) else None
        text = decode_text(text, entry.path) if text is not None else None
        if not isinstance(text, str):
            continue
        scanned += 1
        large += len(text) >= MIN_CHARS
        start = time.perf_counter()
        reason = data_like(entry.path, text)
        seconds += time.perf_counter() - start
        if reason:
            flagged.append((entry.path, len(text), reason))
    print(f"{len(flagged)} flagged of {scanned} text files ({large} of {MIN_CHARS:,} chars or more); "
          f"data_like took {seconds * 1000:.0f} ms in all, {seconds / max(scanned, 1) * 1e6:.0f} us a file")
    for reason, n in Counter(r for _, _, r in flagged).most_common():
        print(f"  {n:5d}  {reason}")
    for path, size, reason in flagged:
        print(f"  {path}  ({size:,} chars): {reason}")


if __name__ == "__main__":
    main()
