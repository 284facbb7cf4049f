"""Build a tree of N real source and documentation files to benchmark ingest on.

    python bench/make_tree.py DEST [--files 10000] [--source DIR] [--seed 0] [--force]

Copies text files (code and docs the chunkers know: .py, .pyi, .md, .rst, .txt, .js, .ts, .c, .h,
.cpp, .go, .rs, .java, .html) from SOURCE (default: this interpreter's site-packages) into DEST,
keeping their relative paths. Files are drawn in a seeded random order, so the first N of one seed
are the same whatever N is: a 300-file tree is a sample of the same population as a 10k-file one.
Empty files, files over --max-bytes (default 32 kB: a typical repository's mix, mean about 5 kB),
files that are not UTF-8 and anything the walker ignores by default (build/, vendor/, __pycache__/,
dotfiles, ...) are passed over, so every copied file is one that ingest will chunk. Prints the
count by extension and the total size.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sysconfig
from collections import Counter
from pathlib import Path

from groundmcp.ingest.ignore import default_ignored
from groundmcp.ingest.walk import Skipped, walk

EXTENSIONS = frozenset(".py .pyi .md .rst .txt .js .ts .c .h .cpp .go .rs .java .html".split())


def candidates(source: Path, max_bytes: int) -> list[str]:
    """Relative paths of every file under `source` that could go in the tree, sorted."""
    out = []
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and not default_ignored(d, True)]
        rel_dir = os.path.relpath(dirpath, source)
        for name in filenames:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in EXTENSIONS:
                continue
            if default_ignored(name, False):
                continue
            full = os.path.join(dirpath, name)
            try:
                size = os.lstat(full).st_size
            except OSError:
                continue
            if 0 < size <= max_bytes and not os.path.islink(full):
                out.append(os.path.normpath(os.path.join(rel_dir, name)))
    out.sort()
    return out


def build(dest: Path, source: Path, files: int, seed: int, max_bytes: int) -> Counter:
    pool = candidates(source, max_bytes)
    random.Random(seed).shuffle(pool)
    by_ext: Counter = Counter()
    copied = 0
    for rel in pool:
        if copied == files:
            break
        data = (source / rel).read_bytes()
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if b"\0" in data:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        copied += 1
        by_ext[os.path.splitext(rel)[1].lower()] += 1
        by_ext["bytes"] += len(data)
    if copied < files:
        raise SystemExit(f"only {copied} usable files under {source}; ask for fewer or give another --source")
    return by_ext


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--source", default=sysconfig.get_paths()["purelib"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-bytes", type=int, default=32_000)
    parser.add_argument("--force", action="store_true", help="replace DEST if it exists")
    args = parser.parse_args()
    dest, source = Path(args.dest), Path(args.source)
    if dest.exists() and any(dest.iterdir()):
        if not args.force:
            raise SystemExit(f"{dest} exists and is not empty; pass --force to replace it")
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    by_ext = build(dest, source, args.files, args.seed, args.max_bytes)
    size = by_ext.pop("bytes")
    walked = sum(1 for item in walk(dest) if not isinstance(item, Skipped))
    print(f"{dest}: {args.files} files from {source} (seed {args.seed}), {size / 1e6:.1f} MB")
    print("  by extension: " + ", ".join(f"{ext} {n}" for ext, n in by_ext.most_common()))
    print(f"  the ingest walker yields {walked} of them")


if __name__ == "__main__":
    main()
