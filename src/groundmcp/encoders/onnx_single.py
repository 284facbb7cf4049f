"""One text at a time on ONNX Runtime, over the plain-torch BERT's own weights.

A query, or a note sent alone to `ingest`, is one short text: about 40 tokens, a few matrix products
of 40 rows each. MKL keeps a product that small on one thread, so torch takes the same time on one
thread or two (12.3 ms a query here, traced) while a second core sits idle. ONNX Runtime's own GEMM
splits even these across its threads: 8.0 ms on two cores, idle. Batches stay on torch: ONNX Runtime
is no faster for them (32 x 256 tokens: 20.9 against 20.8 passages/s).

The graph is BERT's encoder for one unpadded text (encoders/bert.py BertNetwork.states after the
embedding lookup; no mask: nothing is padded), built here node by node. Its weights are not copied
into it: every initializer is handed to the session as the torch tensor's own memory
(`add_external_initializers`), and the embeddings are looked up outside it, so the resident set
grows only by ONNX Runtime's library and its packed copy of the matrices (82 MB measured in a
server). Its threads spin between the graph's operators, and stop spinning when a run returns
(`session.force_spinning_stop`). Threads that slept between operators cost 0.9 to 1.0 ms of a 4.9 to
5.0 ms run in waking (26 tokens, 2 threads, `bench/onnx_spinning.py`); threads left spinning after a
run took a core from the rest of a server's call (20 ms of CPU in the 20 ms after a run, against 0.1
to 0.3 ms with the stop). Pooling, normalising and the token signatures' rows are done as the torch
path does them, and the path is used only after its vectors matched the torch path's on probe texts.

A model held in bfloat16 (picked on CPUs with native bf16, where a batch encodes 1.6 to 1.9x as fast
as in float32) still has its lone texts run here, in float32: a lone text's few rows ran slower in
bf16 torch (its traced graph) than on this graph. `bench/precision_single.py`, all-MiniLM-L6-v2 on a
2-core AVX512-BF16 EPYC, p50 ms, bf16 torch against this path: one note 8.0 to 9.1 against 5.7 to
7.5, one query 5.4 to 6.1 against 3.0 to 4.2. The session then reads float32 copies of the layers'
weights (42 MB for MiniLM) instead of torch's own memory: a process with a bf16 model that has run
lone texts holds 120 MB more than on the traced path, 463 MB in all against 464 MB for float32 with
this path (/proc VmRSS, one process each); the embedding tables stay in bf16, read as their raw
bits, and a text's rows are widened after the lookup. Its vectors differ from the bf16 batch path's
by bf16 rounding (1 - cosine under BF16_COSINE_GAP), as two bf16 paths differ.

Where onnxruntime or onnx is missing, or the model is not a plain-torch BERT in float32 or bfloat16 on
the CPU, the torch path stays (its traced graph); `GROUNDMCP_SINGLE_TEXT_RUNTIME=torch` keeps it too.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np

from .bert import Bert
from .query_path import MAX_COSINE_GAP, PROBES  # the traced path's check, which this one passes too

log = logging.getLogger(__name__)

# How far (1 - cosine) this float32 path may be from a bf16 model's own vectors: bf16 rounds each
# activation to 8 bits, so two graphs of one model differ by a few 1e-5 (2.4e-5 seen between two
# torch paths; 4e-6 to 5e-5 between this path and the bf16 batch path), far below what reorders
# search results.
BF16_COSINE_GAP = 1e-3


class OnnxSingle:
    """BERT's last-layer token vectors of one text: the embeddings looked up here (numpy, in the
    torch tables' memory), the encoder's layers on an ONNX Runtime session."""

    def __init__(self, bert: Bert, session, keep: list) -> None:
        net = bert.network
        self._tokenizer = bert.tokenizer
        self._session = session
        self._keep = keep  # the arrays the session reads in place: they must outlive it
        import torch

        # bf16 tables are read as their raw 16 bits (numpy has no bf16) and a text's rows widened
        # after the lookup; not in torch, whose threads then spun against the session's (+2 ms).
        self._widen = bert.dtype == torch.bfloat16
        table = (lambda t: t.detach().view(torch.uint16).numpy()) if self._widen else (lambda t: t.detach().numpy())
        self._word = table(net.word.weight)
        self._position = table(net.position.weight)
        self._type0 = table(net.token_type.weight[0])
        self._mean = bert.files.pooling == "mean"

    def _embedded(self, ids: list[int]) -> np.ndarray:
        rows = (self._word[ids], self._position[: len(ids)], self._type0)
        if self._widen:  # a bf16 value is the top half of the float32 it rounds
            rows = tuple((r.astype(np.uint32) << 16).view(np.float32) for r in rows)
        return rows[0] + rows[1] + rows[2]

    def states(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """(token vectors (tokens, hidden) float32, mask of the ordinary tokens: not [CLS]/[SEP])."""
        encoding = self._tokenizer.encode(text)
        states = self._session.run(None, {"embedded": self._embedded(encoding.ids)[None]})[0][0]
        return states, np.asarray(encoding.special_tokens_mask, dtype=bool) == 0

    def pooled(self, states: np.ndarray) -> np.ndarray:
        """The text's vector as BertNetwork.pool makes it (not normalised)."""
        return states.mean(axis=0) if self._mean else states[0]

    def vector(self, text: str) -> np.ndarray:
        """The unit vector of `text` (1-d float32), as the traced path gives it."""
        return _unit(self.pooled(self.states(text)[0]))

    def embed_with_tokens(self, text: str) -> tuple[np.ndarray, list[np.ndarray]]:
        """Bert.embed_with_tokens of [text]: the pooled vector (1, hidden) and the ordinary tokens'
        vectors, from one run."""
        states, ordinary = self.states(text)
        return self.pooled(states)[None], [states[ordinary]]


def _unit(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.float32, copy=False)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def build(bert: Bert, reference: Callable[[str], np.ndarray], threads: int) -> OnnxSingle | None:
    """An OnnxSingle for `bert` (float32, or bfloat16 run in float32) whose vectors match
    `reference(text)` (the torch path's unit vector) on the probe texts, or None where it cannot be
    had."""
    import torch

    if bert.dtype not in (torch.float32, torch.bfloat16):
        return None
    allowed = MAX_COSINE_GAP if bert.dtype == torch.float32 else BF16_COSINE_GAP
    try:
        import onnxruntime as ort
    except ImportError:
        log.info("single texts on torch: onnxruntime is not installed")
        return None
    try:
        model, feeds = _graph(bert)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Spin between operators, not after the run: a server's call spends the rest of its time
        # outside the encoder (its event loop, the store), where a spinning worker took a core.
        options.add_session_config_entry("session.intra_op.allow_spinning", "1")
        options.add_session_config_entry("session.force_spinning_stop", "1")
        values = [ort.OrtValue.ortvalue_from_numpy(array) for array in feeds.values()]
        options.add_external_initializers(list(feeds), values)
        keep = [list(feeds.values()), values]
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        single = OnnxSingle(bert, session, keep)
        gap = max(1.0 - float(np.dot(single.vector(t), np.asarray(reference(t), dtype=np.float32))) for t in PROBES)
    except Exception as exc:  # noqa: BLE001 - any failure here means: keep the torch path
        log.info("single texts on torch: the ONNX Runtime path failed to build (%s: %s)", type(exc).__name__, exc)
        return None
    if not gap < allowed:
        log.info("single texts on torch: ONNX Runtime's vectors differ (cosine gap %.2g)", gap)
        return None
    return single


def _graph(bert: Bert) -> tuple[bytes, dict[str, np.ndarray]]:
    """The serialized ONNX model of BertNetwork.states after the embedding lookup, for one unpadded
    text, and its weights by initializer name, as arrays that share the torch tensors' memory
    (float32 copies of a bf16 model's)."""
    import torch
    from onnx import TensorProto, helper, numpy_helper

    net, c = bert.network, bert.files.config
    h, heads = c.hidden_size, c.num_attention_heads
    size = h // heads
    feeds: dict[str, np.ndarray] = {}  # weights: the session reads them where torch keeps them
    consts: list = []  # small constants (shapes, the scale), in the model itself
    nodes: list = []
    count = [0]

    def weight(name: str, tensor) -> str:
        tensor = tensor.detach()
        if tensor.dtype != torch.float32:  # a bf16 model: the session gets a float32 copy
            tensor = tensor.float()
        array = tensor.numpy()
        if not array.flags["C_CONTIGUOUS"]:
            array = np.ascontiguousarray(array)  # only where the torch layout is not (never for bert.py's)
        feeds[name] = array
        return name

    def const(name: str, values, dtype=np.int64) -> str:
        consts.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        count[0] += 1
        out = f"{op.lower()}_{count[0]}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def linear(x: str, layer, name: str) -> str:
        # bert.py keeps a linear weight (out x in) laid out transposed: `.t()` is the contiguous (in x out)
        return node("Add", [node("MatMul", [x, weight(f"{name}.wt", layer.weight.t())]), weight(f"{name}.b", layer.bias)])

    def norm(x: str, layer, name: str) -> str:
        return node("LayerNormalization", [x, weight(f"{name}.g", layer.weight), weight(f"{name}.b", layer.bias)],
                    axis=-1, epsilon=float(layer.eps))

    x = norm("embedded", net.norm, "norm")
    split = const("split", [0, 0, heads, size])
    merged = const("merged", [0, 0, h])
    scale = const("scale", 1 / math.sqrt(size), dtype=np.float32)
    for i, layer in enumerate(net.layers):
        p = f"l{i}"
        q, k, v = (node("Reshape", [linear(x, proj, f"{p}.{n}"), split])
                   for n, proj in (("q", layer.query), ("k", layer.key), ("v", layer.value)))
        scores = node("Mul", [node("MatMul", [node("Transpose", [q], perm=[0, 2, 1, 3]),
                                              node("Transpose", [k], perm=[0, 2, 3, 1])]), scale])
        attended = node("MatMul", [node("Softmax", [scores], axis=-1), node("Transpose", [v], perm=[0, 2, 1, 3])])
        attended = node("Reshape", [node("Transpose", [attended], perm=[0, 2, 1, 3]), merged])
        x = norm(node("Add", [linear(attended, layer.attention_out, f"{p}.ao"), x]), layer.attention_norm, f"{p}.an")
        inner = node("Gelu", [linear(x, layer.intermediate, f"{p}.in")])
        x = norm(node("Add", [linear(inner, layer.out, f"{p}.out"), x]), layer.out_norm, f"{p}.on")
    nodes.append(helper.make_node("Identity", [x], ["states"]))
    for name, array in feeds.items():  # declared with their data outside the model: the session gets them
        tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=list(array.shape))
        tensor.data_location = TensorProto.EXTERNAL
        tensor.external_data.add(key="location", value=f"{name}.bin")  # never read: the session is given it
        consts.append(tensor)
    inputs = [helper.make_tensor_value_info("embedded", TensorProto.FLOAT, [1, "tokens", h])]
    graph = helper.make_graph(nodes, "bert_single", inputs,
                              [helper.make_tensor_value_info("states", TensorProto.FLOAT, [1, "tokens", h])], consts)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], producer_name="groundmcp")
    model.ir_version = 9
    return model.SerializeToString(), feeds
