"""Follow-up reads: only ingested files, only inside their root, never through '..' or symlinks."""

from __future__ import annotations

import os

import pytest

from groundmcp.errors import InputError
from groundmcp.ingest.pipeline import IngestOptions, ingest_path
from groundmcp.search.sources import chunks_by_id, read_lines


@pytest.fixture
def indexed(edge_store, project, hashing_encoder):
    ingest_path(str(project), store=edge_store, encoder=hashing_encoder, options=IngestOptions(collection="c"))
    return edge_store


def test_reads_lines_of_an_ingested_file(indexed, project):
    src = read_lines(indexed, "c", "src/billing.py", 4, 5)
    assert src.text == "\n".join((project / "src" / "billing.py").read_text().split("\n")[3:5])
    assert (src.start_line, src.end_line, src.root) == (4, 5, str(project.resolve()))


@pytest.mark.parametrize(
    ("path", "start", "end", "message"),
    [
        ("../secret.txt", 1, 2, "without '..'"),
        ("/etc/passwd", 1, 2, "without '..'"),
        ("src/not_there.py", 1, 2, "not an ingested file"),
        ("src/billing.py", 5, 2, "invalid"),
        ("src/billing.py", 1, 5000, "at most 2000 lines"),
    ],
)
def test_refuses_what_is_not_an_ingested_file_range(indexed, path, start, end, message):
    with pytest.raises(InputError, match=message):
        read_lines(indexed, "c", path, start, end)


def test_refuses_a_file_swapped_for_a_symlink_out_of_the_root(indexed, project, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    target = project / "src" / "billing.py"
    target.unlink()
    os.symlink(secret, target)
    with pytest.raises(InputError, match="outside its root"):
        read_lines(indexed, "c", "src/billing.py", 1, 1)


def test_chunks_by_id_names_missing_ids(indexed):
    with pytest.raises(InputError, match="'nope' is not a chunk id"):
        chunks_by_id(indexed, "c", ["nope"])
    with pytest.raises(InputError, match="no chunk with id 00000000-0000-0000-0000-000000000000"):
        chunks_by_id(indexed, "c", ["00000000-0000-0000-0000-000000000000"])
