import pytest
from pydantic import ValidationError

from groundmcp.settings import DEFAULT_MODEL, Settings


def test_env_vars_are_read(monkeypatch, tmp_path):
    monkeypatch.setenv("GROUNDMCP_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GROUNDMCP_BATCH_SIZE", "8")
    monkeypatch.setenv("GROUNDMCP_RERANKER", "none")
    s = Settings()
    assert s.data_dir == tmp_path
    assert s.batch_size == 8
    assert s.reranker == "none"
    assert s.model == DEFAULT_MODEL


def test_flags_override_env(monkeypatch):
    monkeypatch.setenv("GROUNDMCP_MODEL", "from-env")
    assert Settings(model="from-flag").model == "from-flag"


def test_default_data_dir_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv("GROUNDMCP_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert Settings().data_dir == tmp_path / "groundmcp"


@pytest.mark.parametrize(
    ("kwargs", "drop"),
    [
        ({"qdrant_url": "http://q:6333", "qdrant_local_path": "/tmp/x"}, "drop GROUNDMCP_QDRANT_LOCAL_PATH"),
        ({"qdrant_api_key": "k"}, "drop GROUNDMCP_QDRANT_API_KEY"),
        ({"precision": "float16", "device": "cpu"}, "drop GROUNDMCP_PRECISION"),
        ({"chunk_tokens": 64, "chunk_overlap": 40}, "lower GROUNDMCP_CHUNK_OVERLAP"),
    ],
)
def test_contradictions_say_which_to_drop(kwargs, drop):
    with pytest.raises(ValidationError) as info:
        Settings(**kwargs)
    assert drop in str(info.value)


def test_out_of_range_values_rejected():
    with pytest.raises(ValidationError):
        Settings(batch_size=0)
    with pytest.raises(ValidationError):
        Settings(device="tpu")
