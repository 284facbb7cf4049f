"""Does reranking the hybrid top-N beat plain hybrid? nDCG@10 and MRR@10 on a BEIR-layout dataset.

    python bench/rerank_eval.py DATASET_DIR [--limit-queries N] [--candidates 50]

Encodes the corpus with the bundled encoder (the Encoder API; vectors cached under /tmp), upserts it
into a fresh embedded store with dense and lexical sparse vectors, runs every query as dense,
sparse and hybrid (the default fusion, prefetch 100), then reranks the hybrid top `--candidates` with
each reranker variant. The candidates' token vectors are cached too (per passage, float16), so the
variants are scored from the cache; the reranker latency column is measured separately, end to end
(`Reranker.score` on the raw texts, token encoding included), over the first `--latency-queries`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from groundmcp.encoders.sentence_transformers import SentenceTransformerEncoder
from groundmcp.rerank.fusion import RankFusionReranker
from groundmcp.rerank.late_interaction import LateInteractionReranker, TextVectors
from groundmcp.search.query import HYBRID_FUSION
from groundmcp.sparse import document_vector, query_vector
from groundmcp.store.base import PointData
from groundmcp.store.edge import EdgeStore

CACHE = Path("/tmp/groundmcp-rerank-cache")
COLLECTION = "eval"


def load(dataset: Path, limit: int | None):
    ids, texts = [], []
    with open(dataset / "corpus.jsonl", encoding="utf-8") as f:
        for line in f:  # streamed: only id and text are kept
            c = json.loads(line)
            ids.append(str(c["_id"]))
            texts.append(f"{c['title']}\n{c['text']}" if c.get("title") else c["text"])
    qrels: dict[str, dict[str, int]] = {}
    with open(dataset / "qrels" / "test.tsv", encoding="utf-8") as f:
        header = next(f).rstrip("\n").split("\t")
        assert header[:2] == ["query-id", "corpus-id"], header
        for line in f:
            q, d, s = line.rstrip("\n").split("\t")
            if int(s) > 0:
                qrels.setdefault(q, {})[d] = int(s)
    queries = []
    with open(dataset / "queries.jsonl", encoding="utf-8") as f:
        for line in f:
            q = json.loads(line)
            if q["_id"] in qrels:
                meta = q.get("metadata") or {}
                queries.append((q["_id"], q["text"], meta.get("language") or meta.get("source", "")))
    return ids, texts, queries[:limit] if limit else queries, qrels


def cache_key(dataset: Path, encoder_name: str) -> str:
    h = hashlib.sha256((dataset / "corpus.jsonl").read_bytes()).hexdigest()[:16]
    return f"{dataset.name}-{h}-{encoder_name.replace('/', '_')}"


def dense_vectors(encoder, texts: list[str], key: str) -> np.ndarray:
    path = CACHE / f"{key}-dense.npy"
    if path.exists():
        return np.load(path)
    t0, done = time.perf_counter(), [0]

    def progress(n: int) -> None:
        done[0] += n
        if done[0] % 2048 < n:
            print(f"  encoded {done[0]}/{len(texts)} ({time.perf_counter() - t0:.0f}s)", flush=True)

    vecs = encoder.encode_documents(texts, on_batch=progress)
    print(f"  encoded {len(texts)} passages in {time.perf_counter() - t0:.0f}s", flush=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vecs)
    return vecs


class VectorCache:
    """Per-passage late-interaction vectors (float16), filled on demand and kept under /tmp."""

    def __init__(self, key: str, size: int) -> None:
        self.path = CACHE / f"{key}-tokens.npz"
        self.items: list[TextVectors | None] = [None] * size
        if self.path.exists():
            with np.load(self.path) as z:
                index, tokens, pooled = z["index"], z["tokens"], z["pooled"]
            for i, (start, n) in enumerate(index):
                if n >= 0:
                    self.items[i] = TextVectors(tokens[start : start + n], pooled[i])

    def fill(self, reranker: LateInteractionReranker, texts: list[str], wanted: set[int]) -> None:
        missing = sorted(i for i in wanted if self.items[i] is None)
        if not missing:
            return
        t0 = time.perf_counter()
        for start in range(0, len(missing), 1024):
            part = missing[start : start + 1024]
            for i, v in zip(part, reranker.vectors([texts[i] for i in part]), strict=True):
                self.items[i] = TextVectors(v.tokens.astype(np.float16), v.pooled.astype(np.float16))
            done = start + len(part)
            print(f"  token vectors {done}/{len(missing)} ({time.perf_counter() - t0:.0f}s)", flush=True)
        self.save()

    def save(self) -> None:
        dim = next(v for v in self.items if v is not None).pooled.shape[0]
        index = np.full((len(self.items), 2), -1, dtype=np.int64)
        pooled = np.zeros((len(self.items), dim), dtype=np.float16)
        tokens, pos = [], 0
        for i, v in enumerate(self.items):
            if v is not None:
                index[i] = (pos, len(v.tokens))
                pooled[i] = v.pooled
                tokens.append(v.tokens)
                pos += len(v.tokens)
        np.savez(self.path, index=index, tokens=np.concatenate(tokens), pooled=pooled)


def build_store(tmp: Path, ids: list[str], texts: list[str], vecs: np.ndarray) -> tuple[EdgeStore, dict[str, str]]:
    store = EdgeStore(tmp)
    store.create_collection(COLLECTION, vecs.shape[1], {"bench": "rerank_eval"})
    point_ids = [str(uuid.uuid5(uuid.NAMESPACE_URL, cid)) for cid in ids]
    for start in range(0, len(ids), 512):
        store.upsert(
            COLLECTION,
            [
                PointData(point_ids[i], vecs[i].tolist(), document_vector(texts[i]), {"n": i})
                for i in range(start, min(start + 512, len(ids)))
            ],
        )
    return store, dict(zip(point_ids, ids, strict=True))


def metrics(ranked: list[str], rels: dict[str, int]) -> tuple[float, float]:
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(sorted(rels.values(), reverse=True)[:10]))
    mrr = next((1.0 / (i + 1) for i, d in enumerate(ranked[:10]) if d in rels), 0.0)
    return (dcg / idcg if idcg else 0.0), mrr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--limit-queries", type=int)
    ap.add_argument("--candidates", type=int, default=50)
    ap.add_argument("--latency-queries", type=int, default=20)
    args = ap.parse_args()

    encoder = SentenceTransformerEncoder()
    ids, texts, queries, qrels = load(args.dataset, args.limit_queries)
    print(f"{args.dataset.name}: {len(ids)} passages, {len(queries)} queries, encoder {encoder.name} "
          f"({encoder.dtype}), candidates {args.candidates}", flush=True)
    key = cache_key(args.dataset, encoder.name)
    vecs = dense_vectors(encoder, texts, key)
    qvecs = encoder.encode_queries([q for _, q, _ in queries])

    runs: dict[str, list[list[int]]] = {"hybrid": [], "dense": [], "sparse": []}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        store, by_point = build_store(Path(tmp), ids, texts, vecs)
        print(f"  store built in {time.perf_counter() - t0:.0f}s", flush=True)
        pos = {cid: i for i, cid in enumerate(ids)}
        try:
            for (_, text, _), qv in zip(queries, qvecs, strict=True):
                for mode, run in runs.items():
                    hits = store.query(
                        COLLECTION, dense=qv.tolist(), sparse=query_vector(text), mode=mode,  # type: ignore[arg-type]
                        limit=args.candidates if mode == "hybrid" else 10,
                        prefetch_limit=100,
                        fusion=HYBRID_FUSION,
                    )
                    run.append([pos[by_point[h.id]] for h in hits])
        finally:
            store.close()

    default = LateInteractionReranker(encoder)
    maxsim_only = LateInteractionReranker(encoder, pooled_weight=0.0)
    cache = VectorCache(key, len(ids))
    cache.fill(default, texts, {i for run in runs["hybrid"] for i in run})
    q_vecs = default.vectors([q for _, q, _ in queries])

    def late(r: LateInteractionReranker, qi: int, cands: list[int]) -> list[float]:
        return r.maxsim(q_vecs[qi], [cache.items[c] for c in cands])  # type: ignore[misc]

    variants: dict[str, Callable[[int, list[int]], list[float]]] = {
        "hybrid top-N re-scored by dense cosine (control)": lambda qi, c: (vecs[c] @ qvecs[qi]).tolist(),
        "late-interaction, MaxSim only": lambda qi, c: late(maxsim_only, qi, c),
        "late-interaction (MaxSim + pooled cosine)": lambda qi, c: late(default, qi, c),
    }
    for w in (1.0, 2.0, 3.0):
        fuse = RankFusionReranker(default, inner_weight=w)
        variants[f"RRF(hybrid order, late-interaction), weight {w:g}"] = (
            lambda qi, c, f=fuse: f.fuse(late(default, qi, c))
        )
    for name, fn in variants.items():
        runs[name] = []
        for qi, cands in enumerate(runs["hybrid"]):
            scores = fn(qi, cands)
            order = sorted(range(len(cands)), key=lambda i: (-scores[i], i))
            runs[name].append([cands[i] for i in order])

    latency = []
    for qi in range(min(args.latency_queries, len(queries))):
        cand_texts = [texts[c] for c in runs["hybrid"][qi]]
        t0 = time.perf_counter()
        default.score(queries[qi][1], cand_texts)
        latency.append((time.perf_counter() - t0) * 1000)

    groups = sorted({g for _, _, g in queries})
    recall = statistics.mean(
        len(set(qrels[qid]) & {ids[c] for c in run}) / len(qrels[qid])
        for (qid, _, _), run in zip(queries, runs["hybrid"], strict=True)
    )
    print(f"\nhybrid R@{args.candidates} (reranking ceiling) = {recall:.4f}")
    print(f"late-interaction latency over {len(latency)} queries x {args.candidates} candidates: "
          f"median {statistics.median(latency):.0f} ms, mean {statistics.mean(latency):.0f} ms\n")
    print("| variant | nDCG@10 | MRR@10 | " + " | ".join(f"nDCG@10 {g}" for g in groups) + " |")
    print("|---|---:|---:|" + "---:|" * len(groups))
    for name, run in runs.items():
        per = [metrics([ids[c] for c in r], qrels[qid]) for (qid, _, _), r in zip(queries, run, strict=True)]
        by_group = [
            statistics.mean(p[0] for p, (_, _, g2) in zip(per, queries, strict=True) if g2 == g) for g in groups
        ]
        print(f"| {name} | {statistics.mean(p[0] for p in per):.4f} | {statistics.mean(p[1] for p in per):.4f} | "
              + " | ".join(f"{v:.4f}" for v in by_group) + " |", flush=True)


if __name__ == "__main__":
    main()
