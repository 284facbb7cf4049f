"""BERT sentence encoders in plain torch: the bundled model without transformers or sentence-transformers.

A resident process that imports sentence-transformers carries about 190 MB of modules it never
runs: sentence-transformers' own imports pull in scikit-learn and SciPy, and transformers' model
code pulls in SciPy's optimisers (for detection losses), SymPy and torch's compiler and distributed
packages. Most embedding models people run on a CPU (all-MiniLM, bge, e5, gte) are a BERT, mean or
[CLS] pooling, then a normalisation: about sixty lines of torch, given here, with the Rust tokenizer
and safetensors weights read straight from the model's folder.

`load_bert(folder, dtype)` returns a `Bert` only for a folder whose files say it is that kind of
model (`unsupported` says why not); anything else keeps sentence-transformers. The vectors are
sentence-transformers' own, to float rounding: tests/test_encoders.py checks them against it.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

log = logging.getLogger(__name__)

POOLINGS = ("mean", "cls")
_MODULE_KINDS = (("Transformer", "Pooling"), ("Transformer", "Pooling", "Normalize"))


@dataclass(frozen=True, slots=True)
class BertConfig:
    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float

    @classmethod
    def from_dict(cls, raw: dict) -> BertConfig:
        return cls(**{name: raw[name] for name in cls.__slots__})


@dataclass(frozen=True, slots=True)
class ModelFiles:
    """What a sentence-transformers folder says about its model, read from its JSON files."""

    folder: Path
    config: BertConfig
    pooling: str
    normalize: bool
    max_tokens: int
    pad_id: int


def read_model_files(folder: Path) -> tuple[ModelFiles | None, str]:
    """The folder's model description, or None and why this module cannot run it."""

    def load(name: str) -> dict:
        path = folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    if not folder.is_dir():
        return None, "not a local folder"
    for needed in ("modules.json", "config.json", "tokenizer.json", "model.safetensors"):
        if not (folder / needed).is_file():
            return None, f"no {needed}"
    modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
    kinds = tuple(str(m.get("type", "")).rsplit(".", 1)[-1] for m in modules)
    if kinds not in _MODULE_KINDS:
        return None, f"modules {kinds}"
    if modules[0].get("path", ""):
        return None, "the Transformer module is in a subfolder"
    raw = load("config.json")
    if raw.get("model_type") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
        return None, f"model type {raw.get('model_type')!r}, activation {raw.get('hidden_act')!r}"
    if raw.get("position_embedding_type", "absolute") != "absolute":
        return None, f"position embeddings {raw.get('position_embedding_type')!r}"
    try:
        config = BertConfig.from_dict(raw)
    except KeyError as exc:
        return None, f"config.json has no {exc}"
    st = load("sentence_bert_config.json")
    if st.get("do_lower_case") or set(st) - {"max_seq_length", "do_lower_case"}:
        return None, f"Transformer options {st}"
    if any(load("config_sentence_transformers.json").get("prompts", {}).values()):
        return None, "the model has prompts"
    pool = load(str(Path(modules[1].get("path", "1_Pooling")) / "config.json"))
    modes = {k.removeprefix("pooling_mode_").removesuffix("_token").removesuffix("_tokens")
             for k, v in pool.items() if k.startswith("pooling_mode_") and v is True}
    if isinstance(pool.get("pooling_mode"), str):
        modes = {pool["pooling_mode"]}
    if len(modes) != 1 or next(iter(modes)) not in POOLINGS or pool.get("include_prompt") is False:
        return None, f"pooling {sorted(modes)}"
    if int(pool.get("word_embedding_dimension", config.hidden_size)) != config.hidden_size:
        return None, "pooling dimension differs from the hidden size"
    max_tokens = int(st.get("max_seq_length") or config.max_position_embeddings)
    files = ModelFiles(
        folder=folder,
        config=config,
        pooling=next(iter(modes)),
        normalize=len(kinds) == 3,
        max_tokens=min(max_tokens, config.max_position_embeddings),
        pad_id=int(raw.get("pad_token_id") or 0),
    )
    return files, ""


class _Layer(nn.Module):
    def __init__(self, c: BertConfig) -> None:
        super().__init__()
        h, self.heads, self.eps = c.hidden_size, c.num_attention_heads, c.layer_norm_eps
        self.query, self.key, self.value = nn.Linear(h, h), nn.Linear(h, h), nn.Linear(h, h)
        self.attention_out, self.attention_norm = nn.Linear(h, h), nn.LayerNorm(h, eps=self.eps)
        self.intermediate, self.out = nn.Linear(h, c.intermediate_size), nn.Linear(c.intermediate_size, h)
        self.out_norm = nn.LayerNorm(h, eps=self.eps)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        b, n, h = x.shape
        split = (b, n, self.heads, h // self.heads)
        q, k, v = (proj(x).view(split).transpose(1, 2) for proj in (self.query, self.key, self.value))
        attended = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=1 / math.sqrt(h // self.heads))
        x = self.attention_norm(self.attention_out(attended.transpose(1, 2).reshape(b, n, h)) + x)
        return self.out_norm(self.out(F.gelu(self.intermediate(x))) + x)


class BertNetwork(nn.Module):
    """BERT's encoder (as transformers' BertModel computes it in eval mode), then the pooling."""

    def __init__(self, c: BertConfig, pooling: str) -> None:
        super().__init__()
        self.word = nn.Embedding(c.vocab_size, c.hidden_size)
        self.position = nn.Embedding(c.max_position_embeddings, c.hidden_size)
        self.token_type = nn.Embedding(c.type_vocab_size, c.hidden_size)
        self.norm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.layers = nn.ModuleList(_Layer(c) for _ in range(c.num_hidden_layers))
        self.mean = pooling == "mean"

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled vectors (float32, not normalised) of a padded batch: `mask` is 1 on real tokens."""
        return self.pool(self.states(ids, mask), mask)

    def states(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The last layer's token vectors of a padded batch (batch, tokens, hidden)."""
        n = ids.shape[1]
        x = self.word(ids) + self.token_type.weight[0] + self.position.weight[:n]
        x = self.norm(x)
        attend = mask[:, None, None, :].bool()
        for layer in self.layers:
            x = layer(x, attend)
        return x

    def pool(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if not self.mean:
            return x[:, 0].float()
        weights = mask[:, :, None].to(x.dtype)
        return (x * weights).sum(1).float() / weights.sum(1).float().clamp(min=1e-9)


# transformers' parameter names -> ours (after any "bert." prefix is dropped)
_RENAMES = (
    ("embeddings.word_embeddings.", "word."),
    ("embeddings.position_embeddings.", "position."),
    ("embeddings.token_type_embeddings.", "token_type."),
    ("embeddings.LayerNorm.", "norm."),
    ("encoder.layer.", "layers."),
    (".attention.self.", "."),
    (".attention.output.dense.", ".attention_out."),
    (".attention.output.LayerNorm.", ".attention_norm."),
    (".intermediate.dense.", ".intermediate."),
    (".output.dense.", ".out."),
    (".output.LayerNorm.", ".out_norm."),
)


def _laid_out(name: str, tensor: torch.Tensor) -> torch.Tensor:
    """A linear layer's float32 weight (out x in) held transposed in memory: the same tensor to
    torch, but `F.linear` then multiplies by a contiguous (in x out) matrix, which MKL's sgemm runs
    faster for the few rows of one short text. Measured alternated on one thread (all-MiniLM-L6-v2,
    texts of ~40 tokens): 0.74x the time per text (median), a batch of 32 x 256 tokens the same,
    vectors equal to float rounding (cosine > 0.9999998). Other dtypes keep torch's layout."""
    if tensor.dtype != torch.float32 or tensor.dim() != 2 or not name.startswith("layers."):
        return tensor
    return tensor.t().contiguous().t()


def _our_name(name: str) -> str | None:
    name = name.removeprefix("bert.")
    if not name.startswith(("embeddings.", "encoder.")) or name.endswith(("position_ids", "token_type_ids")):
        return None  # the pooler and buffers: unused
    for old, new in _RENAMES:
        name = name.replace(old, new)
    return name


class Bert:
    """A BERT sentence encoder: `embed(texts)` gives pooled float32 vectors, in order."""

    def __init__(self, files: ModelFiles, dtype: torch.dtype, max_tokens: int | None = None) -> None:
        from safetensors import safe_open
        from tokenizers import Tokenizer

        self.files = files
        self.max_tokens = min(max_tokens or files.max_tokens, files.max_tokens)
        self.tokenizer = Tokenizer.from_file(str(files.folder / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(self.max_tokens)
        network = BertNetwork(files.config, files.pooling)  # (not on "meta": that imports torch's compiler)
        weights = {}
        with safe_open(str(files.folder / "model.safetensors"), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open is not a mapping
                ours = _our_name(key)
                if ours is not None:
                    weights[ours] = _laid_out(ours, f.get_tensor(key).to(dtype))
        network.load_state_dict(weights, strict=True, assign=True)
        self.network = network.eval().requires_grad_(False)
        self.dtype = dtype
        self.single = None  # a lone text's runner, where the encoder's warm_up built one (encoders/onnx_single.py)

    def ids(self, texts: list[str], *, ordinary: list | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids padded to the longest text, and the mask of real tokens. With `ordinary` (a
        list), each text's mask of tokens that are not special ([CLS], [SEP]) is appended to it."""
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(texts), width), self.files.pad_id, dtype=np.int64)
        mask = np.zeros((len(texts), width), dtype=np.int64)
        for row, e in enumerate(encodings):
            ids[row, : len(e.ids)] = e.ids
            mask[row, : len(e.ids)] = 1
            if ordinary is not None:
                ordinary.append(np.asarray(e.special_tokens_mask, dtype=bool) == 0)
        return torch.from_numpy(ids), torch.from_numpy(mask)

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1 and self.single is not None:
            return self.single.embed_with_tokens(texts[0])[0]
        ids, mask = self.ids(texts)
        with torch.inference_mode():
            return self.network(ids, mask).numpy()

    def embed_with_tokens(self, texts: list[str]) -> tuple[np.ndarray, list[np.ndarray]]:
        """`embed`'s vectors and, from the same pass, each text's token vectors (float32, special
        tokens left out)."""
        if len(texts) == 1 and self.single is not None:
            return self.single.embed_with_tokens(texts[0])
        ordinary: list[np.ndarray] = []
        ids, mask = self.ids(texts, ordinary=ordinary)
        with torch.inference_mode():
            states = self.network.states(ids, mask)
            pooled = self.network.pool(states, mask).numpy()
            rows = states.float().numpy()
        return pooled, [rows[i, : len(keep)][keep] for i, keep in enumerate(ordinary)]


def load_bert(folder: Path, dtype: torch.dtype, max_tokens: int | None = None) -> tuple[Bert | None, str]:
    """A Bert for a local sentence-transformers folder, or None and why it cannot run here."""
    try:
        files, reason = read_model_files(folder)
        if files is None:
            return None, reason
        return Bert(files, dtype, max_tokens), ""
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as exc:  # unreadable or unexpected files
        return None, f"{type(exc).__name__}: {exc}"
