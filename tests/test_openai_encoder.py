"""The OpenAI-compatible encoder (encoders/openai_compat.py) and the /v1/embeddings route
(server/embeddings_route.py): a real `groundmcp serve --http` encodes for an Engine in this
process; a tiny real HTTP server in a thread plays a failing provider."""

from __future__ import annotations

import json
import logging
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx2
import numpy as np
import pytest

from groundmcp.encoders.factory import load_encoder
from groundmcp.encoders.hashing import HashingEncoder
from groundmcp.encoders.sentence_transformers import BUNDLED_MODEL
from groundmcp.engine import Engine
from groundmcp.errors import GroundError
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings

from .conftest import write_project
from .mcp_helpers import http_server

KEY = "sk-test-SECRET-0123456789abcdef"


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A real groundmcp HTTP server (its own process, the bundled model), its /v1 base URL."""
    base = tmp_path_factory.mktemp("served")
    (base / "root").mkdir()
    with http_server(base / "data", base / "root", token="team-token", GROUNDMCP_OWNER="0") as url:
        yield url.removesuffix("/mcp") + "/v1"


def test_an_engine_ingests_and_searches_through_another_servers_encoder(served, tmp_path, real_encoder):
    project = write_project(tmp_path / "project")
    settings = Settings(data_dir=tmp_path / "data", model=f"openai:{BUNDLED_MODEL}", openai_base_url=served,
                        openai_api_key="team-token")
    engine = Engine(settings)
    try:
        report = engine.ingest(str(project))
        assert report.chunks > 0
        hits = engine.search(SearchRequest(query="total with tax", mode="dense", top_k=3))
        assert hits and "total_with_tax" in hits[0].text
        texts = [h.text for h in hits] + ["how are retries backed off", ""]
        remote = engine.encoder.encode_documents(texts)
        local = real_encoder.encode_documents(texts)
        assert engine.encoder.dim == real_encoder.dim == 384
        cosines = (remote * local).sum(axis=1)
        assert cosines.min() >= 0.999, cosines
        query = engine.encoder.encode_query("parse currency")
        assert float(query @ real_encoder.encode_query("parse currency")) >= 0.999
        # The collection records the remote name, so a local engine's search of it is refused.
        assert engine.infos.get(settings.collection).meta["model"] == f"openai:{BUNDLED_MODEL}"
    finally:
        engine.close()


def test_the_bundled_model_through_the_route_chunks_as_a_local_ingest_does(served, tmp_path, real_encoder):
    """The openai: encoder of the bundled model takes the bundled model's window, so an ingest
    through another server cuts the same chunks as a local one: a function of one-token lines is
    cut where the window ends, and 256 tokens instead of 254 would move every cut."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "long.py").write_text("def f():\n" + "    x\n" * 900)
    chunks = {}
    for name, model, extra in (
        ("local", BUNDLED_MODEL, {}),
        ("route", f"openai:{BUNDLED_MODEL}", {"openai_base_url": served, "openai_api_key": "team-token"}),
    ):
        engine = Engine(Settings(data_dir=tmp_path / name, model=model, **extra))
        try:
            engine.ingest(str(project))
            rows = engine.store.scroll(engine.settings.collection, None, ["start_line", "end_line", "chunk_index"])
            chunks[name] = sorted((p["start_line"], p["end_line"]) for _, p in rows if p["chunk_index"] >= 0)
            if name == "route":
                assert (engine.encoder.max_tokens, engine.encoder.special_tokens) == (
                    real_encoder.max_tokens, real_encoder.special_tokens)
        finally:
            engine.close()
    assert len(chunks["local"]) > 3 and chunks["route"] == chunks["local"]


def test_the_route_answers_in_openais_shape_and_bounds_requests(served):
    auth = {"Authorization": "Bearer team-token"}
    with httpx2.Client(timeout=60) as http:
        ok = http.post(f"{served}/embeddings", headers=auth,
                       json={"input": "hello", "model": BUNDLED_MODEL, "encoding_format": "float"})
        assert ok.status_code == 200, ok.text
        body = ok.json()
        assert body["object"] == "list" and body["model"] == BUNDLED_MODEL
        assert body["data"][0]["object"] == "embedding" and body["data"][0]["index"] == 0
        assert len(body["data"][0]["embedding"]) == 384 and body["usage"]["prompt_tokens"] >= 1
        assert http.post(f"{served}/embeddings", json={"input": "x"}).status_code == 401
        cases = {
            "too many": ({"input": ["a"] * 2049}, 400, "at most 2048"),
            "too long": ({"input": ["a", "b" * 40_000]}, 400, "input 1 has 40000 characters"),
            "token ids": ({"input": [[1, 2, 3]]}, 400, "token-id arrays"),
            "empty": ({"input": []}, 400, "non-empty list"),
            "other model": ({"input": "a", "model": "text-embedding-3-small"}, 404, "not 'text-embedding-3-small'"),
        }
        for name, (payload, status, words) in cases.items():
            got = http.post(f"{served}/embeddings", headers=auth, json=payload)
            assert got.status_code == status, (name, got.text)
            assert words in got.json()["error"]["message"], (name, got.text)


class FakeProvider:
    """A real HTTP server that answers /v1/embeddings with hashing vectors, or fails as scripted:
    each entry of `script` is used for one request ("ok", "401", "429", "500", "slow", "dim5");
    once the script is spent, every request is `then`."""

    def __init__(self) -> None:
        self.script: list[str] = []
        self.then = "ok"
        self.requests = 0
        self.inputs = 0
        self.encoder = HashingEncoder(dim=64)
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                provider.requests += 1
                provider.inputs += len(body["input"]) if isinstance(body["input"], list) else 1
                step = provider.script.pop(0) if provider.script else provider.then
                key = self.headers.get("authorization", "").removeprefix("Bearer ")
                if step == "401":  # as OpenAI does, the refused key is echoed back
                    return self._send(401, {"error": {"message": f"Incorrect API key provided: {key}."}})
                if step == "429":
                    return self._send(429, {"error": {"message": "rate limited"}}, {"Retry-After": "1"})
                if step == "500":
                    return self._send(500, {"error": {"message": "boom"}})
                if step == "slow":
                    time.sleep(2)
                dim = 5 if step == "dim5" else 64
                vectors = provider.encoder.encode_documents(body["input"])[:, :dim]
                data = [{"object": "embedding", "index": i, "embedding": v.tolist()} for i, v in enumerate(vectors)]
                return self._send(200, {"object": "list", "data": data, "model": body["model"],
                                        "usage": {"prompt_tokens": 1, "total_tokens": 1}})

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for k, v in (headers or {}).items():
                        self.send_header(k, v)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (the timeout case)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider():
    fake = FakeProvider()
    yield fake
    fake.close()


@pytest.fixture
def key_watch(caplog):
    """Every log line, at DEBUG, checked for the key afterwards."""
    caplog.set_level(logging.DEBUG)
    yield
    assert KEY not in caplog.text


def _settings(tmp_path, provider, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", model="openai:fake-embed", openai_base_url=provider.url,
                    openai_api_key=KEY, openai_max_retries=kw.pop("retries", 2), **kw)


def test_a_refused_key_is_a_clear_error_without_the_key(tmp_path, provider, key_watch):
    provider.then = "401"
    with pytest.raises(GroundError) as info:
        load_encoder(_settings(tmp_path, provider)).encode_documents(["a"])
    text = str(info.value)
    assert "HTTP 401" in text and "GROUNDMCP_OPENAI_API_KEY" in text and provider.url in text
    assert KEY not in text and KEY not in repr(_settings(tmp_path, provider))


def test_429_waits_for_retry_after_then_succeeds(tmp_path, provider, key_watch):
    provider.script = ["ok", "429"]  # the first request reads the dimension
    encoder = load_encoder(_settings(tmp_path, provider))
    assert encoder.dim == 64
    started = time.monotonic()
    vectors = encoder.encode_documents(["alpha", "beta"])
    assert time.monotonic() - started >= 0.9  # Retry-After: 1 was honoured
    assert provider.requests == 3
    assert np.allclose(vectors, HashingEncoder(dim=64).encode_documents(["alpha", "beta"]), atol=1e-6)


def test_500_is_retried_and_one_that_persists_is_a_clear_error(tmp_path, provider, key_watch):
    provider.script = ["500"]
    encoder = load_encoder(_settings(tmp_path, provider))
    assert encoder.encode_documents(["alpha"]).shape == (1, 64)
    provider.then = "500"
    with pytest.raises(GroundError, match=r"HTTP 500: boom; the server failed after 2 retries"):
        encoder.encode_documents(["beta"])


def test_a_timeout_is_a_clear_error(tmp_path, provider, key_watch):
    provider.then = "slow"
    encoder = load_encoder(_settings(tmp_path, provider, retries=0, openai_timeout_s=0.5))
    with pytest.raises(GroundError, match=r"gave no answer within 0.5 s .*GROUNDMCP_OPENAI_TIMEOUT_S"):
        encoder.encode_documents(["a"])


def test_another_dimension_than_the_first_answer_is_refused(tmp_path, provider, key_watch):
    provider.script = ["ok", "dim5"]
    encoder = load_encoder(_settings(tmp_path, provider))
    assert encoder.dim == 64
    with pytest.raises(GroundError, match="returned 5-d vectors, but its first answer had 64-d"):
        encoder.encode_documents(["a"])


def test_a_failed_ingest_leaves_the_collection_as_it_was(tmp_path, provider, key_watch):
    project = write_project(tmp_path / "project")
    engine = Engine(_settings(tmp_path, provider, retries=0))
    try:
        engine.ingest(str(project))
        before = engine.search(SearchRequest(query="parse_currency", mode="sparse", top_k=3))
        assert before
        (project / "src" / "added.py").write_text("def brand_new_function_xyz():\n    return 42\n")
        provider.then = "500"
        with pytest.raises(GroundError) as info:
            engine.ingest(str(project))
        assert KEY not in str(info.value)
        after = engine.search(SearchRequest(query="parse_currency", mode="sparse", top_k=3))
        assert [h.id for h in after] == [h.id for h in before]
        assert not any("brand_new_function_xyz" in h.text for h in
                       engine.search(SearchRequest(query="brand_new_function_xyz", mode="sparse", top_k=5)))
        provider.then = "ok"
        engine.ingest(str(project))
        found = engine.search(SearchRequest(query="brand_new_function_xyz", mode="sparse", top_k=5))
        assert any("brand_new_function_xyz" in h.text for h in found)
    finally:
        engine.close()


def test_the_openai_api_without_a_key_says_what_to_set(tmp_path):
    with pytest.raises(GroundError, match="GROUNDMCP_OPENAI_API_KEY"):
        load_encoder(Settings(data_dir=tmp_path, model="openai:text-embedding-3-small"))


def test_an_http_bridge_forwards_the_route_to_its_owner(tmp_path, real_encoder):
    """With the owner on, `serve --http` is a bridge: the owner holds the encoder and answers."""
    (tmp_path / "root").mkdir()
    owned = {"GROUNDMCP_OWNER": "1", "GROUNDMCP_WATCH": "0", "GROUNDMCP_OWNER_IDLE_S": "5"}
    with http_server(tmp_path / "data", tmp_path / "root", token="team-token", **owned) as url, \
            httpx2.Client(timeout=120) as http:
        base = url.removesuffix("/mcp")
        assert http.post(f"{base}/v1/embeddings", json={"input": "x"}).status_code == 401
        got = http.post(f"{base}/v1/embeddings", headers={"Authorization": "Bearer team-token"},
                        json={"input": ["parse a currency string"], "model": BUNDLED_MODEL})
        assert got.status_code == 200, got.text
        vector = np.asarray(got.json()["data"][0]["embedding"], dtype=np.float32)
        assert float(vector @ real_encoder.encode_documents(["parse a currency string"])[0]) >= 0.999
        bad = http.post(f"{base}/v1/embeddings", headers={"Authorization": "Bearer team-token"},
                        json={"input": ["a"] * 3000})
        assert bad.status_code == 400 and "at most 2048" in bad.json()["error"]["message"]


def test_doctor_shows_the_provider_never_the_key(tmp_path, provider, key_watch):
    from groundmcp.doctor import diagnose

    report = diagnose(_settings(tmp_path, provider))
    model = next(c for c in report.checks if c.name == "model")
    assert model.status == "ok", model.summary
    assert f"OpenAI-compatible endpoint {provider.url}" in model.summary and "64-d" in model.summary
    assert model.data["api_key"] == "set"
    assert KEY not in json.dumps([(c.summary, c.fix, c.data) for c in report.checks], default=str)
    provider.then = "401"
    failed = next(c for c in diagnose(_settings(tmp_path, provider)).checks if c.name == "model")
    assert failed.status == "fail" and "HTTP 401" in failed.summary and KEY not in failed.summary


def test_a_dry_run_counts_tokens_offline_and_sends_no_chunk(tmp_path, provider, key_watch):
    from groundmcp.encoders.openai_compat import OpenAICompatEncoder

    project = write_project(tmp_path / "project")
    engine = Engine(_settings(tmp_path, provider))
    try:
        report = engine.ingest(str(project), dry_run=True)
        assert report.chunks > 0 and report.tokens > 0
        assert provider.inputs <= 1  # at most the dimension probe: no chunk went to the endpoint
    finally:
        engine.close()
    encoder = OpenAICompatEncoder("openai:text-embedding-3-small", api_key=KEY)
    estimate = encoder.estimate(["def parse_currency(text): return float(text)"] * 1000)
    assert estimate.tokens == 1000 * encoder.count_tokens("def parse_currency(text): return float(text)")
    assert estimate.usd == pytest.approx(estimate.tokens * 0.02 / 1e6)
    assert "estimated offline" in estimate.describe()
