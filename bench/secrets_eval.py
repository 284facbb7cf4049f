"""Secret scanning, both sides: false alarms over a real corpus, recall over a labelled set; and speed.

    .venv/bin/python bench/secrets_eval.py                   # the corpus: this venv's site-packages
    .venv/bin/python bench/secrets_eval.py --corpus src --json /tmp/secrets.json
    .venv/bin/python bench/secrets_eval.py --scanner groundmcp --scanner groundmcp@0b53f5b --speed-every 10
    PYTHONPATH=<a venv with detect-secrets 1.5>/lib/python3.11/site-packages \\
        .venv/bin/python bench/secrets_eval.py --scanner detect-secrets --every 20

False alarms: every file that ingest would read under the corpus (``walk`` with its default ignores
and size limit, then the same UTF-8 and binary checks), scanned as ingest scans it
(``find_secret_in_file``); the flagged files are listed with label and line, for a person to judge.
Recall: tests/data/secrets/labelled.toml rendered into files (each secret shape in each file format
it belongs in; decoys, look-alikes that are not secrets, in the same files), written to a temporary
folder and scanned from disk. Speed: MB of text scanned per second of scanning, one core, reading
excluded; ``--speed-every N`` also times the scanners in turn on the same files, which is the fair
comparison on a loaded machine.

Scanners: ``groundmcp`` (``find_secret_in_file``, what ingest runs), ``groundmcp-text`` (``find_secret``
over the raw text), ``groundmcp@<rev>`` (``find_secret`` as secrets.py was at a git revision;
``groundmcp@0b53f5b`` is the scan before issue 12) and ``detect-secrets`` (its default plugins and
filters, ``SecretsCollection.scan_file``), if importable. ``--every N`` scans every Nth corpus file
only (detect-secrets is slow).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LABELLED = REPO / "tests" / "data" / "secrets" / "labelled.toml"
MARKER = "<@>"  # inside every secret in the data file, so that the file itself matches no rule


@dataclass(frozen=True)
class Case:
    path: str  # relative path of the rendered file
    text: str
    shape: str | None  # the secret's shape; None for a decoy
    decoy: str | None  # what the look-alike is; None for a secret
    format: str


def cases(path: Path = LABELLED) -> list[Case]:
    """The labelled set rendered into files: each shape in each template it belongs in, each decoy
    in every template, and the decoy files as they are."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    templates = data["template"]
    out: list[Case] = []
    for entry in data["shape"] + data["decoy"]:
        wanted = entry.get("formats", "all")
        for template in templates:
            fmt = template["format"]
            if wanted == "named" and fmt == "markdown" or isinstance(wanted, list) and fmt not in wanted:
                continue
            text = render(template, entry["name"], entry["value"].replace(MARKER, ""))
            folder = entry.get("shape", entry.get("decoy", "")).replace(" ", "_").replace("/", "_")
            out.append(
                Case(
                    f"{folder}/{template['path']}",
                    text,
                    entry.get("shape"),
                    entry.get("decoy"),
                    fmt,
                )
            )
    for entry in data["decoy_file"]:
        text = entry["text"].lstrip("\n").replace(MARKER, "")
        out.append(Case(entry["path"], text, None, entry["decoy"], "file"))
    return out


def render(template: dict, name: str, value: str) -> str:
    if template.get("escape") == "json":
        value = json.dumps(value)[1:-1]
    text = template["text"].lstrip("\n")
    return text.replace("{NAME}", name.upper()).replace("{name}", name).replace("{value}", value)


# --- scanners: (rel_path, abs_path, text) -> label or None -------------------------------------------


def groundmcp_scanner(name: str):
    from groundmcp.ingest.secrets import find_secret, find_secret_in_file

    if "@" in name:  # groundmcp@<git revision>: find_secret as secrets.py was then (a lone module)
        return _at_revision(name.split("@", 1)[1])
    if name == "groundmcp-text":
        return lambda rel, path, text: _label(find_secret(text))
    return lambda rel, path, text: _label(find_secret_in_file(rel, text))


def _at_revision(rev: str):
    import importlib.util
    import subprocess

    source = subprocess.run(
        ["git", "show", f"{rev}:src/groundmcp/ingest/secrets.py"],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    folder = Path(tempfile.mkdtemp())
    (folder / "secrets_then.py").write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("secrets_then", folder / "secrets_then.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["secrets_then"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return lambda rel, path, text: _label(module.find_secret(text))


def _label(found) -> str | None:
    return None if found is None else f"{found.label}, line {found.line}"


def detect_secrets_scanner():
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    def scan(rel: str, path: Path, text: str) -> str | None:
        with default_settings():
            collection = SecretsCollection()
            collection.scan_file(str(path))
        found = sorted((s.line_number, s.type) for secrets in collection.data.values() for s in secrets)
        return f"{found[0][1]}, line {found[0][0]}" if found else None

    return scan


SCANNERS = {
    "groundmcp": lambda: groundmcp_scanner("groundmcp"),
    "groundmcp-text": lambda: groundmcp_scanner("groundmcp-text"),
    "detect-secrets": detect_secrets_scanner,
}


# --- the two measures ----------------------------------------------------------------------------


def corpus_files(root: Path, every: int = 1):
    """(rel, abs path, text) of every file ingest would read under ``root``, as ingest reads them."""
    from groundmcp.ingest.read import decode_text, read_bytes, wants_bytes
    from groundmcp.ingest.walk import FileEntry, walk

    for i, entry in enumerate(e for e in walk(root) if isinstance(e, FileEntry) and not wants_bytes(e.path)):
        if i % every:
            continue
        data = read_bytes(entry)
        if isinstance(data, bytes) and isinstance(decode_text(data, entry.path), str):
            yield entry.path, entry.abs_path, data.decode("utf-8-sig", "replace")


def false_alarms(scan, root: Path, every: int = 1) -> dict:
    files = size = 0
    seconds = 0.0
    flagged: dict[str, list[str]] = defaultdict(list)
    for rel, path, text in corpus_files(root, every):
        files += 1
        size += len(text.encode("utf-8", "surrogatepass"))
        start = time.perf_counter()
        label = scan(rel, path, text)
        seconds += time.perf_counter() - start
        if label is not None:
            flagged[label.rsplit(", line", 1)[0]].append(f"{rel}:{label.rsplit('line ', 1)[1]}")
    return {
        "corpus": str(root),
        "files": files,
        "mb": round(size / 1e6, 1),
        "mb_per_s": round(size / 1e6 / seconds, 3) if seconds else None,
        "flagged_files": sum(len(v) for v in flagged.values()),
        "flagged": dict(sorted(flagged.items())),
    }


def recall(scan, labelled: list[Case]) -> dict:
    found: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    missed: dict[str, list[str]] = defaultdict(list)
    decoys: dict[str, list[str]] = defaultdict(list)
    with tempfile.TemporaryDirectory() as tmp:
        for case in labelled:
            path = Path(tmp) / case.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(case.text, encoding="utf-8")
            label = scan(case.path, path, case.text)
            if case.shape is not None:
                found[case.shape][1] += 1
                found[case.shape][0] += label is not None
                if label is None:
                    missed[case.shape].append(case.format)
            elif label is not None:
                decoys[case.decoy or ""].append(f"{case.format}: {label}")
    positives = sum(n for _, n in found.values())
    return {
        "found": sum(f for f, _ in found.values()),
        "positives": positives,
        "by_shape": {shape: f"{f}/{n}" for shape, (f, n) in found.items()},
        "missed": dict(missed),
        "decoys": sum(1 for c in labelled if c.shape is None),
        "decoys_flagged": sum(len(v) for v in decoys.values()),
        "decoys_flagged_by_kind": dict(decoys),
    }


def speed(scans: dict, root: Path, every: int, rounds: int = 3) -> dict[str, float]:
    """MB/s of each scanner over the same files (every Nth corpus file, held in memory), the best of
    ``rounds`` rounds that take the scanners in turn, so that a loaded machine slows each alike."""
    texts = [(rel, path, text) for rel, path, text in corpus_files(root, every)]
    size = sum(len(t.encode("utf-8", "surrogatepass")) for _, _, t in texts) / 1e6
    best: dict[str, float] = {}
    for _ in range(rounds):
        for name, scan in scans.items():
            start = time.perf_counter()
            for rel, path, text in texts:
                scan(rel, path, text)
            best[name] = max(best.get(name, 0.0), size / (time.perf_counter() - start))
    return {name: round(v, 1) for name, v in best.items()} | {"mb": round(size, 1), "files": len(texts)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=Path(sys.prefix) / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages",
    )
    parser.add_argument(
        "--scanner",
        action="append",
        help=f"{', '.join(SCANNERS)}, or groundmcp@<git rev> (repeatable)",
    )
    parser.add_argument("--every", type=int, default=1, help="scan every Nth corpus file only")
    parser.add_argument("--no-corpus", action="store_true", help="measure recall only")
    parser.add_argument("--speed-every", type=int, default=0, help="also time the scanners in turn on every Nth file")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    labelled = cases()
    results = {}
    for name in args.scanner or ["groundmcp"]:
        scan = groundmcp_scanner(name) if name.startswith("groundmcp@") else SCANNERS[name]()
        result = {"recall": recall(scan, labelled)}
        if not args.no_corpus:
            result["false_alarms"] = false_alarms(scan, args.corpus, args.every)
        results[name] = result
        print(f"== {name}")
        r = result["recall"]
        print(
            f"recall: {r['found']}/{r['positives']} labelled secrets; decoys flagged: {r['decoys_flagged']}/{r['decoys']}"
        )
        for shape, score in r["by_shape"].items():
            print(
                f"  {score:>6}  {shape}"
                + (f"   missed in: {', '.join(r['missed'][shape])}" if shape in r["missed"] else "")
            )
        for kind, where in r["decoys_flagged_by_kind"].items():
            print(f"  decoy flagged: {kind}: {'; '.join(where)}")
        if "false_alarms" in result:
            f = result["false_alarms"]
            print(
                f"false alarms: {f['flagged_files']} of {f['files']} files ({f['mb']} MB) under {f['corpus']}"
                f"{f' (every {args.every}th file)' if args.every > 1 else ''}; {f['mb_per_s']} MB/s"
            )
            for label, where in f["flagged"].items():
                print(f"  {label}: {', '.join(where)}")
    if args.speed_every:
        scans = {n: groundmcp_scanner(n) if n.startswith("groundmcp@") else SCANNERS[n]() for n in results}
        results["speed"] = speed(scans, args.corpus, args.speed_every)
        print(
            f"speed, in turn on {results['speed']['files']} files ({results['speed']['mb']} MB): "
            + ", ".join(f"{n} {v} MB/s" for n, v in results["speed"].items() if n in scans)
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
