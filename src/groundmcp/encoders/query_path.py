"""One query, fast: a sentence-transformers model run as one frozen TorchScript graph.

`SentenceTransformer.encode` serves batches of texts, images and chat messages. For one short query
on a CPU, its Python (input parsing, module dispatch) and the Hugging Face model's own (mask
building, attention dispatch) take a large share of the time. For the usual kind of model (a
Transformer, mean pooling, then Normalize) this path tokenises with its own copy of the Rust
tokenizer and runs the model, the pooling and the normalisation as one frozen TorchScript trace:
a quarter to a third less time per query than `encode` on one thread (docs/benchmarks.md, section 3).
`torch.jit.trace` is deprecated (torch 2.13 warns); if it fails or goes, the normal path stays.
A model run in plain torch (encoders/bert.py) has no such overhead to cut but a little Python of its
own; its trace is not frozen, so it shares the model's weights instead of holding a copy.

The path is used only after its vectors matched `encode`'s (cosine above 1 - MAX_COSINE_GAP) on
probe texts of several lengths, longer than the model's limit included. Another kind of model
(other pooling, query prompts, lower-casing, other inputs), or a torch without TorchScript, keeps
the normal path.
"""

from __future__ import annotations

import inspect
import logging
import warnings
from collections.abc import Callable

import numpy as np
import torch

log = logging.getLogger(__name__)

MAX_COSINE_GAP = 1e-5
SUPPORTED_MODULES = (("Transformer", "Pooling"), ("Transformer", "Pooling", "Normalize"))
PROBES = (
    "how are retries backed off",
    "parse_headers",
    "  Leading and trailing spaces, Ünïcödé, 日本語 and an emoji 🙂  ",
    "def total_with_tax(self, amounts: list[float]) -> float:\n    return round(sum(amounts) * 1.2, 2)",
    " ".join(f"word{i} and Another{i}" for i in range(400)),  # past the model's token limit
)
# Encoding fields of the Rust tokenizer, by the model input they feed.
_FIELDS = {"input_ids": "ids", "token_type_ids": "type_ids"}


class QueryPath:
    """The unit vector of one text, from a traced graph of model + mean pooling + normalise."""

    def __init__(self, tokenizer, graph, fields: tuple[str, ...]) -> None:
        self._tokenizer = tokenizer  # never reconfigured once built: safe to share between threads
        self._graph = graph
        self._fields = fields

    def __call__(self, text: str) -> np.ndarray:
        encoding = self._tokenizer.encode(text)
        inputs = [torch.tensor([getattr(encoding, f)]) for f in self._fields]
        with torch.inference_mode():
            return self._graph(*inputs).numpy()


def build_query_path(model, reference: Callable[[str], np.ndarray]) -> QueryPath | None:
    """A QueryPath for a SentenceTransformer on the CPU, or None where it does not apply.
    `reference(text)` gives the normal path's unit vector of one text, to check this one against
    (one text at a time: in bfloat16 a padded batch gives other vectors, up to 5e-5 apart)."""
    from tokenizers import Tokenizer

    reason = _unsupported(model)
    if reason:
        log.info("query fast path not used: %s", reason)
        return None
    transformer = model[0]
    network = _network(transformer)
    wanted = inspect.signature(network.forward).parameters
    names = tuple(n for n in _FIELDS if n in wanted and n in transformer.tokenizer.model_input_names)
    if names[:1] != ("input_ids",):
        log.info("query fast path not used: the model's forward takes no input_ids argument")
        return None
    fields = tuple(_FIELDS[n] for n in names)
    tokenizer = Tokenizer.from_str(transformer.tokenizer.backend_tokenizer.to_str())
    tokenizer.no_padding()
    tokenizer.enable_truncation(int(model.max_seq_length))
    pooled = _MeanPooled(network, names, with_mask="attention_mask" in wanted).eval()
    example = tuple(torch.tensor([getattr(tokenizer.encode(PROBES[0]), f)]) for f in fields)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            # Tracer notes on Python values fixed in the graph (checked below), the deprecation of
            # torch.jit.trace, and notes of the model's code on attributes the tracer reads.
            warnings.simplefilter("ignore")
            graph = torch.jit.freeze(torch.jit.trace(pooled, example, check_trace=False).eval())
    except Exception as exc:  # noqa: BLE001 - any failure to trace means: keep the normal path
        log.info("query fast path not used: tracing the model failed (%s)", exc)
        return None
    return _checked(QueryPath(tokenizer, graph, fields), reference)


def trace_bert(bert, reference: Callable[[str], np.ndarray]) -> QueryPath | None:
    """A QueryPath for a plain-torch BERT (encoders/bert.py), or None where tracing fails or its
    vectors differ. Not frozen: the graph uses the model's own weights (a frozen graph holds a copy,
    about 90 MB for MiniLM in float32) and is as fast here (docs/benchmarks.md, "Resident memory")."""
    example = bert.ids([PROBES[0]])
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the deprecation of torch.jit.trace
            graph = torch.jit.trace(_Normalized(bert.network), example, check_trace=False).eval()
    except Exception as exc:  # noqa: BLE001 - any failure to trace means: keep the normal path
        log.info("query fast path not used: tracing the model failed (%s)", exc)
        return None
    return _checked(QueryPath(bert.tokenizer, graph, ("ids", "attention_mask")), reference)


def _checked(path: QueryPath, reference: Callable[[str], np.ndarray]) -> QueryPath | None:
    """`path` if its vectors match `reference`'s on the probe texts, warmed up; else None."""
    texts = list(PROBES)
    ours = np.stack([path(t) for t in texts])
    theirs = np.stack([np.asarray(reference(t), dtype=np.float32) for t in texts])
    gap = float(np.max(1.0 - np.sum(ours * theirs, axis=1)))
    if not gap < MAX_COSINE_GAP:
        log.info("query fast path not used: its vectors differ from encode()'s (cosine gap %.2g)", gap)
        return None
    for text in texts:  # the first calls of a TorchScript graph profile and optimise it
        path(text)
    return path


def _unsupported(model) -> str:
    """Why `model` cannot take the fast path; empty if it can (the vector check still decides)."""
    kinds = tuple(type(m).__name__ for m in model)
    if kinds not in SUPPORTED_MODULES:
        return f"modules {kinds} (the fast path knows Transformer, Pooling, Normalize)"
    transformer, pooling = model[0], model[1]
    mode = _pooling_mode(pooling)
    if mode != "mean":
        return f"pooling {mode!r}, not mean"
    if getattr(transformer, "do_lower_case", False):
        return "the model lower-cases its input"
    tokenizer = getattr(transformer, "tokenizer", None)
    if getattr(tokenizer, "backend_tokenizer", None) is None:
        return "no fast (Rust) tokenizer"
    if set(tokenizer.model_input_names) - {"input_ids", "token_type_ids", "attention_mask"}:
        return f"model inputs {tokenizer.model_input_names}"
    if _network(transformer) is None:
        return "no torch network in its Transformer module"
    return ""


def _pooling_mode(pooling) -> str:
    config = pooling.get_config_dict() if hasattr(pooling, "get_config_dict") else {}
    if isinstance(config.get("pooling_mode"), str):  # sentence-transformers 6
        return config["pooling_mode"]
    on = [k.removeprefix("pooling_mode_").removesuffix("_tokens") for k, v in config.items()
          if k.startswith("pooling_mode_") and v is True]
    return on[0] if len(on) == 1 else "+".join(on) or "unknown"


def _network(transformer):
    for attr in ("model", "auto_model"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            network = getattr(transformer, attr, None)
        if isinstance(network, torch.nn.Module):
            return network
    return None


class _MeanPooled(torch.nn.Module):
    """The network, then mean pooling and normalisation, for one unpadded text (every token counts,
    so the mean is a plain mean)."""

    def __init__(self, network, names: tuple[str, ...], *, with_mask: bool) -> None:
        super().__init__()
        self.network, self.names, self.with_mask = network, names, with_mask

    def forward(self, *inputs):
        kwargs = dict(zip(self.names, inputs, strict=False))
        if self.with_mask:
            kwargs["attention_mask"] = torch.ones_like(inputs[0])
        tokens = self.network(**kwargs, return_dict=True).last_hidden_state[0]
        return torch.nn.functional.normalize(tokens.float().mean(0), dim=0)


class _Normalized(torch.nn.Module):
    """A pooled network's unit vector of one text (a batch of one)."""

    def __init__(self, network) -> None:
        super().__init__()
        self.network = network

    def forward(self, ids, mask):
        return torch.nn.functional.normalize(self.network(ids, mask)[0], dim=0)
