"""The file walker: ignore rules, skips with reasons, symlinks, roots. Real files in tmp_path."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pathspec
import pytest

from groundmcp.errors import InputError
from groundmcp.ingest.ignore import DEFAULT_IGNORES, Layer, default_ignored
from groundmcp.ingest.read import decode_text, is_binary, read_bytes, read_text, wants_bytes
from groundmcp.ingest.walk import FileEntry, Skipped, WalkOptions, WalkStats, _Walker, resolve_root, walk


def make(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def run(root: Path, **options) -> tuple[list[str], dict[str, str], WalkStats]:
    """(paths of FileEntry items, {path: reason} of Skipped items, stats)."""
    stats = WalkStats()
    items = list(walk(root, WalkOptions(**options), stats=stats))
    files = [i.path for i in items if isinstance(i, FileEntry)]
    skipped = {i.path: i.reason for i in items if isinstance(i, Skipped)}
    assert stats.files == len(files) and stats.skipped == len(skipped)
    return files, skipped, stats


# --- ignore rules ----------------------------------------------------------------------------------


def test_nested_gitignore_negation_directory_anchored_and_globstar(tmp_path):
    make(
        tmp_path,
        {
            ".gitignore": "*.log\n!keep.log\ngen/\n!gen/rescued.py\n/top.txt\ndocs/**/draft.md\n",
            "a.log": "",
            "keep.log": "",
            "gen/x.py": "",
            "gen/rescued.py": "",  # git cannot re-include a file whose directory is excluded
            "lib/gen/y.py": "",  # "gen/" has no inner slash: it matches at any depth
            "other/gen": "",  # a file, not a directory: "gen/" does not match it
            "top.txt": "",
            "lib/top.txt": "",  # "/top.txt" is anchored to the root
            "docs/draft.md": "",  # "**/" matches zero directories too
            "docs/a/b/draft.md": "",
            "docs/final.md": "",
            "sub/.gitignore": "!*.log\nsecret.txt\n/only_here.txt\n",
            "sub/debug.log": "",  # re-included by the deeper file
            "sub/secret.txt": "",
            "sub/only_here.txt": "",
            "sub/inner/secret.txt": "",
            "sub/inner/only_here.txt": "",  # anchored to sub/, so not this one
            "sub/deeper/.gitignore": "!secret.txt\n",
            "sub/deeper/secret.txt": "",  # the deepest file wins
            "secret.txt": "",  # sub/.gitignore does not reach up
        },
    )
    files, skipped, stats = run(tmp_path)
    assert files == [
        ".gitignore",
        "docs/final.md",
        "keep.log",
        "lib/top.txt",
        "other/gen",
        "secret.txt",
        "sub/.gitignore",
        "sub/debug.log",
        "sub/deeper/.gitignore",
        "sub/deeper/secret.txt",
        "sub/inner/only_here.txt",
    ]
    assert skipped == {}
    assert stats.ignored_dirs == 2  # gen/ and lib/gen/, pruned without listing
    assert stats.ignored_files == 7  # a.log top.txt 2x draft.md sub/secret.txt sub/only_here.txt sub/inner/secret.txt


def test_default_ignores_are_silent_and_prune_directories(tmp_path):
    make(
        tmp_path,
        {
            "src/main.py": "print(1)\n",
            "node_modules/pkg/index.js": "",
            "node_modules/pkg/deep/more.js": "",
            "web/node_modules/x.js": "",
            ".venv/lib/site.py": "",
            "src/__pycache__/main.cpython-311.pyc": b"\0",
            "pkg.egg-info/PKG-INFO": "",
            "dist/app.js": "",
            "package-lock.json": "{}",
            "Cargo.lock": "",
            "go.sum": "",
            "app.min.js": "",
            "app.js.map": "",
            "logo.png": b"\x89PNG",
            "PHOTO.JPG": b"\xff\xd8",
            "model.safetensors": b"\0",
            "icon.svg": "<svg/>",
            ".git/config": "[core]\n",
            "docs/guide.pdf": b"%PDF-1.7\n",  # binary, but wanted: it is not ignored
        },
    )
    files, skipped, stats = run(tmp_path)
    assert files == ["docs/guide.pdf", "src/main.py"]
    assert skipped == {}
    # .git node_modules web/node_modules .venv __pycache__ pkg.egg-info dist
    assert stats.ignored_dirs == 7
    assert stats.ignored_files == 9

    files, skipped, _ = run(tmp_path, use_default_ignores=False)
    assert "node_modules/pkg/deep/more.js" in files and "logo.png" in files and "package-lock.json" in files
    assert not any(f.startswith(".git/") for f in files)  # .git is never entered, defaults or not


def test_default_ignore_patterns_have_no_inner_slash():
    # The walker caches default verdicts by name, which is only right for patterns that match a name.
    assert all("/" not in p.rstrip("/") for p in DEFAULT_IGNORES)


def test_groundmcpignore_overrides_gitignore_at_the_same_level_and_nests(tmp_path):
    make(
        tmp_path,
        {
            ".gitignore": "*.tmp\n",
            ".groundmcpignore": "!keep.tmp\nnotes/\n",
            "keep.tmp": "",
            "drop.tmp": "",
            "notes/n.md": "",
            "a.txt": "",
            "sub/.groundmcpignore": "*.txt\n",
            "sub/a.txt": "",
            "sub/b.md": "",
        },
    )
    files, _, _ = run(tmp_path)
    assert files == [".gitignore", ".groundmcpignore", "a.txt", "keep.tmp", "sub/.groundmcpignore", "sub/b.md"]


def test_extra_ignores_take_precedence_and_can_reinclude_defaults(tmp_path):
    make(tmp_path, {".gitignore": "!NOTES.md\n", "NOTES.md": "", "README.md": "", "x.py": "", "dist/app.js": ""})
    files, _, _ = run(tmp_path, extra_ignores=("*.md", "!README.md", "!dist/", ".gitignore"))
    assert files == ["README.md", "dist/app.js", "x.py"]


def test_bad_extra_pattern_and_bad_options_are_input_errors(tmp_path):
    with pytest.raises(InputError, match="extra ignore patterns"):
        walk(tmp_path, WalkOptions(extra_ignores=("foo\\",)))
    with pytest.raises(InputError, match="max_file_bytes"):
        WalkOptions(max_file_bytes=0)
    with pytest.raises(InputError, match="sequence of patterns"):
        WalkOptions(extra_ignores="*.md")  # type: ignore[arg-type]


def test_bad_lines_in_an_ignore_file_are_dropped_not_fatal(tmp_path):
    make(tmp_path, {".gitignore": "foo\\\n*.log\n", "a.log": "", "b.txt": ""})
    assert run(tmp_path)[0] == [".gitignore", "b.txt"]


def test_enclosing_work_tree_rules_apply_unless_the_root_itself_is_ignored(tmp_path):
    repo = make(
        tmp_path / "repo",
        {
            ".git/info/exclude": "*.tmp\n",
            ".gitignore": "*.gen\nignored_dir/\nsub/local.txt\n",
            "sub/a.py": "",
            "sub/b.gen": "",
            "sub/c.tmp": "",
            "sub/local.txt": "",  # a path pattern from above, matched relative to the repo
            "ignored_dir/d.py": "",
            "ignored_dir/e.gen": "",
        },
    )
    assert run(repo / "sub")[0] == ["a.py"]
    # Naming an ignored directory is asking for it: the rules above it step aside, the exclude too.
    assert run(repo / "ignored_dir")[0] == ["d.py", "e.gen"]


def _random_spec(rng: random.Random) -> pathspec.GitIgnoreSpec:
    atoms = ["a", "b", "build", "x.py", "*.log", "**", "*", "doc?", "[ab]c", "keep.log", "sub"]
    lines = []
    for _ in range(rng.randint(1, 10)):
        pat = "/".join(rng.choice(atoms) for _ in range(rng.randint(1, 3)))
        lines.append(rng.choice(["", "", "!", "/", "!/"]) + pat + rng.choice(["", "/"]))
    return pathspec.GitIgnoreSpec.from_lines(lines)


def _random_path(rng: random.Random, prefix: str = "") -> str:
    names = ["a", "b", "build", "x.py", "y.log", "keep.log", "docs", "bc", "sub", "z", "node_modules"]
    return prefix + "/".join(rng.choice(names) for _ in range(rng.randint(1, 4)))


@pytest.mark.parametrize("seed", range(20))
def test_prefilters_agree_with_pathspec(seed, tmp_path):
    """The joined-regex shortcuts must give exactly the verdicts of pathspec's layered checks."""
    rng = random.Random(seed)
    spec = _random_spec(rng)
    layer = Layer(spec)
    for _ in range(200):
        path = _random_path(rng) + rng.choice(["", "/"])
        assert layer.verdict(path) == spec.check_file(path).include, (spec, path)

    extra = Layer(_random_spec(rng)) if seed % 2 else None
    layers = (Layer(_random_spec(rng)), Layer(_random_spec(rng), strip=4), Layer(_random_spec(rng), strip=4))
    walker = _Walker(tmp_path, WalkOptions(), extra, WalkStats())
    for _ in range(200):
        rel, is_dir = _random_path(rng, "sub/"), rng.random() < 0.3
        expected = None
        for each in ([extra] if extra else []) + list(reversed(layers)):
            expected = each.spec.check_file(each.local(rel + "/" if is_dir else rel)).include
            if expected is not None:
                break
        if expected is None:
            expected = default_ignored(rel.rpartition("/")[2], is_dir)
        assert walker._ignored(layers, rel, is_dir=is_dir) == expected, (rel, is_dir)


# --- skips with reasons ----------------------------------------------------------------------------


def test_oversized_files_are_reported_with_sizes_and_never_read(tmp_path):
    make(tmp_path, {"small.txt": "x" * 1000, "big.txt": "x" * 1500})
    big = tmp_path / "huge.log.txt"
    with open(big, "wb") as fh:
        fh.truncate(52_400_000)  # sparse: no disk used
    files, skipped, _ = run(tmp_path, max_file_bytes=1000)
    assert files == ["small.txt"]
    assert skipped == {"big.txt": "larger than 1 kB (1.5 kB)", "huge.log.txt": "larger than 1 kB (52.4 MB)"}
    assert run(tmp_path)[1] == {"huge.log.txt": "larger than 2 MB (52.4 MB)"}
    # just over the limit: the rounded sizes would read the same, so the bytes are given
    make(tmp_path, {"edge.txt": "x" * 1001})
    assert run(tmp_path, max_file_bytes=1000)[1]["edge.txt"] == "larger than 1 kB (1,001 bytes)"


def test_credential_files_are_skipped_by_name(tmp_path):
    make(
        tmp_path,
        {
            ".gitignore": ".env.local\n",
            ".env": "TOKEN=x\n",
            ".env.local": "TOKEN=y\n",  # ignored by the rules first: silent, like any ignored file
            ".env.example": "TOKEN=\n",  # a template stays
            "certs/site.pem": "",
            "home/.aws/credentials": "",
            "src/app.py": "",
        },
    )
    # a link to an ignored file is walked under the link's name; its target's name still counts
    (tmp_path / "src" / "settings.txt").symlink_to(tmp_path / ".env.local")
    files, skipped, stats = run(tmp_path)
    assert files == [".env.example", ".gitignore", "src/app.py"]
    assert skipped == {
        ".env": "secret file (.env file)",
        "certs/site.pem": "secret file (private key or certificate)",
        "home/.aws/credentials": "secret file (cloud credentials)",
        "src/settings.txt": "secret file (.env file)",
    }
    assert stats.ignored_files == 1
    # named as the root, where ignore rules do not apply, it is still refused
    assert list(walk(tmp_path / ".env")) == [Skipped(".env", "secret file (.env file)")]
    assert list(walk(tmp_path / "home" / ".aws" / "credentials")) == [
        Skipped("credentials", "secret file (cloud credentials)")
    ]


def test_content_checks_happen_when_reading(tmp_path):
    make(
        tmp_path,
        {
            "data.xyz": b"\x00\x01\x02binary",
            "nul.txt": b"text with a \x00 in it",
            "latin1.txt": "café".encode("latin-1"),
            "bom.md": b"\xef\xbb\xbf# Title\n",
            "utf16.txt": "hi".encode("utf-16"),
            "plain.py": "print('héllo')\n",
            "empty.txt": b"",
        },
    )
    entries = {e.path: e for e in walk(tmp_path) if isinstance(e, FileEntry)}
    assert sorted(entries) == ["bom.md", "data.xyz", "empty.txt", "latin1.txt", "nul.txt", "plain.py", "utf16.txt"]
    assert read_text(entries["data.xyz"]) == Skipped("data.xyz", "binary file")
    assert read_text(entries["nul.txt"]) == Skipped("nul.txt", "binary file")
    assert read_text(entries["latin1.txt"]) == Skipped("latin1.txt", "not UTF-8 text")
    assert read_text(entries["utf16.txt"]) == Skipped("utf16.txt", "not UTF-8 text")
    assert read_text(entries["bom.md"]) == "# Title\n"
    assert read_text(entries["plain.py"]) == "print('héllo')\n"
    assert read_text(entries["empty.txt"]) == ""
    assert decode_text(b"ok", "x") == "ok"


def test_binary_by_extension_and_pdf_bytes(tmp_path):
    make(tmp_path, {"logo.PNG": b"\x89PNG text-looking", "doc.pdf": b"%PDF-1.4 ascii only"})
    entries = {e.path: e for e in walk(tmp_path, WalkOptions(use_default_ignores=False))}
    assert read_text(entries["logo.PNG"]) == Skipped("logo.PNG", "binary file")  # no NUL needed
    assert wants_bytes("doc.pdf") and wants_bytes("A/B.PDF") and not wants_bytes("doc.md")
    assert read_text(entries["doc.pdf"]) == Skipped("doc.pdf", "binary file")
    assert read_bytes(entries["doc.pdf"]) == b"%PDF-1.4 ascii only"
    assert is_binary(b"abc\x00") and not is_binary(b"abc") and not is_binary(b"a" * 9000 + b"\x00")


def test_read_bytes_reports_unreadable_and_grown_files(tmp_path):
    ghost = FileEntry("gone.txt", tmp_path / "gone.txt", 3, 0)
    assert read_bytes(ghost) == Skipped("gone.txt", "unreadable: No such file or directory")
    make(tmp_path, {"grew.txt": "x" * 2500})
    grew = FileEntry("grew.txt", tmp_path / "grew.txt", 10, 0)
    assert read_bytes(grew, limit=2000) == Skipped("grew.txt", "larger than 2 kB (2.5 kB)")
    assert read_bytes(grew, limit=2500) == b"x" * 2500


def test_file_name_that_is_not_utf8_is_reported(tmp_path):
    make(tmp_path, {"ok.txt": ""})
    try:
        fd = os.open(os.fsencode(tmp_path) + b"/bad\xff.txt", os.O_CREAT | os.O_WRONLY)
    except OSError:
        pytest.skip("the filesystem refuses non-UTF-8 names")
    os.close(fd)
    files, skipped, _ = run(tmp_path)
    assert files == ["ok.txt"]
    assert skipped == {"bad\ufffd.txt": "file name is not valid UTF-8"}


# --- symlinks --------------------------------------------------------------------------------------


def test_symlink_loops(tmp_path):
    make(tmp_path, {"sub/a.txt": ""})
    (tmp_path / "sub" / "up").symlink_to("..")  # points at a directory holding it
    (tmp_path / "here").symlink_to(".")
    (tmp_path / "self").symlink_to("self")  # the OS gives up: ELOOP
    (tmp_path / "ping").symlink_to("pong")
    (tmp_path / "pong").symlink_to("ping")
    files, skipped, _ = run(tmp_path)
    assert files == ["sub/a.txt"]
    assert skipped == {
        "here": "symlink loop",
        "ping": "symlink loop",
        "pong": "symlink loop",
        "self": "symlink loop",
        "sub/up": "symlink loop",
    }


def test_symlinks_out_of_the_root_are_not_followed(tmp_path):
    outside = make(tmp_path / "outside", {"secret.txt": "s", "dir/x.txt": ""})
    root = make(tmp_path / "root", {"a.txt": ""})
    (root / "file_link").symlink_to(outside / "secret.txt")
    (root / "dir_link").symlink_to(outside / "dir")
    (root / "rel_link").symlink_to("../outside/secret.txt")
    files, skipped, _ = run(root)
    assert files == ["a.txt"]
    assert skipped == {
        "dir_link": "symlink points outside the root",
        "file_link": "symlink points outside the root",
        "rel_link": "symlink points outside the root",
    }


def test_symlinks_into_the_root_never_duplicate(tmp_path):
    make(tmp_path, {"real/a.txt": "", "real/deep/b.txt": ""})
    (tmp_path / "alias").symlink_to("real")  # the real path is walked: the link adds nothing
    (tmp_path / "copy.txt").symlink_to("real/a.txt")
    (tmp_path / "zz").symlink_to("real")
    files, skipped, stats = run(tmp_path)
    assert files == ["real/a.txt", "real/deep/b.txt"]
    assert skipped == {}
    assert stats.duplicates == 3


def test_symlinks_to_ignored_targets_are_walked_under_the_link(tmp_path):
    make(tmp_path, {".gitignore": "hidden/\n*.gen\n", "hidden/b.txt": "b", "data.gen": "d"})
    (tmp_path / "shown").symlink_to("hidden")
    (tmp_path / "shown2").symlink_to("hidden")  # the first link in path order wins
    (tmp_path / "data.txt").symlink_to("data.gen")
    (tmp_path / "also.gen").symlink_to("hidden/b.txt")  # ignored by its own (link) name
    stats = WalkStats()
    items = [i for i in walk(tmp_path, stats=stats) if isinstance(i, FileEntry)]
    assert [(i.path, i.abs_path) for i in items] == [
        (".gitignore", tmp_path / ".gitignore"),
        ("data.txt", tmp_path / "data.gen"),
        ("shown/b.txt", tmp_path / "hidden" / "b.txt"),
    ]
    assert stats.duplicates == 1


def test_broken_symlink(tmp_path):
    make(tmp_path, {"a.txt": ""})
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "dangling.png").symlink_to("nowhere")  # ignored by name first: silent
    files, skipped, _ = run(tmp_path)
    assert files == ["a.txt"]
    assert skipped == {"dangling": "broken symlink"}


# --- roots -----------------------------------------------------------------------------------------


def test_single_file_root(tmp_path):
    make(tmp_path, {".gitignore": "*.md\n", "notes.md": "# hi\n", "big.txt": "x" * 50, "other.txt": ""})
    items = list(walk(tmp_path / "notes.md"))
    stat = (tmp_path / "notes.md").stat()
    assert items == [FileEntry("notes.md", tmp_path / "notes.md", stat.st_size, stat.st_mtime_ns)]
    # the size limit still applies; ignore rules do not (the file was named)
    assert list(walk(tmp_path / "big.txt", WalkOptions(max_file_bytes=10))) == [
        Skipped("big.txt", "larger than 10 bytes (50 bytes)")
    ]
    (tmp_path / "link.md").symlink_to("notes.md")
    assert [i.path for i in walk(tmp_path / "link.md")] == ["notes.md"]  # resolved to the real file


def test_missing_root_names_the_path(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(InputError, match=f"'{missing}' does not exist"):
        walk(missing)  # raised at once, not on first iteration
    with pytest.raises(InputError, match="no path given"):
        resolve_root("  ")


def test_root_that_is_a_symlink_loop(tmp_path):
    (tmp_path / "loop").symlink_to("loop")
    with pytest.raises(InputError, match=r"'.*loop' is a symlink loop"):
        resolve_root(tmp_path / "loop")


def test_root_that_is_not_a_file_or_directory(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="neither a directory nor a regular file"):
        resolve_root(fifo)


def test_resolve_root_follows_links_and_expands_home(tmp_path, monkeypatch):
    make(tmp_path, {"real/a.txt": ""})
    (tmp_path / "alias").symlink_to("real")
    assert resolve_root(tmp_path / "alias") == tmp_path.resolve() / "real"
    assert [i.path for i in walk(tmp_path / "alias")] == ["a.txt"]
    monkeypatch.setenv("HOME", str(tmp_path))
    assert resolve_root("~/real") == tmp_path.resolve() / "real"


def test_order_is_sorted_and_deterministic(tmp_path):
    names = ["b.txt", "a/b.txt", "a.txt", "a-b.txt", "B.txt", "a/a/z.txt", "_x.txt", "a0.txt"]
    make(tmp_path, {n: "" for n in names})
    first = list(walk(tmp_path))
    paths = [i.path for i in first]
    assert paths == sorted(names)
    assert list(walk(tmp_path)) == first
    assert all(isinstance(i.abs_path, Path) and i.abs_path.is_file() for i in first)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every directory")
def test_unreadable_directory_is_reported(tmp_path):
    make(tmp_path, {"locked/a.txt": "", "b.txt": ""})
    (tmp_path / "locked").chmod(0)
    try:
        files, skipped, _ = run(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o755)
    assert files == ["b.txt"]
    assert skipped == {"locked": "unreadable: Permission denied"}


def test_a_bare_repository_is_skipped_like_dot_git(tmp_path):
    """`git init --bare` makes HEAD, config, objects/ and refs/: its config can hold a remote URL
    with a password, its objects every version of every file. It is pruned whole, like .git."""
    import subprocess

    subprocess.run(["git", "init", "-q", "--bare", str(tmp_path / "mirror.git")], check=True)
    config = tmp_path / "mirror.git" / "config"
    config.write_text(config.read_text() + '[remote "origin"]\n\turl = https://bot:hunter2pass@example.com/x.git\n')
    make(tmp_path, {"src/app.py": "x = 1\n", "docs/HEAD": "a doc named HEAD\n", "docs/config": "a = 1\n"})
    stats = WalkStats()
    paths = [e.path for e in walk(tmp_path, stats=stats)]
    assert paths == ["docs/HEAD", "docs/config", "src/app.py"]  # look-alikes without objects/ stay
    assert stats.ignored_dirs >= 1
