"""How chunking choices move dense retrieval on a BEIR dataset, measured without the store.

Each variant turns every passage into chunks (through groundmcp's own chunkers), the chunks are
encoded with groundmcp's encoder (cached on disk by text, so variants that share chunks share the
cost), and each query is scored by exact brute-force cosine against every chunk; a passage scores as
its best chunk, as in `groundmcp eval`. This isolates the chunking from HNSW and fusion, so a
variant's gain here is the chunking's own.

    python bench/chunk_sweep.py /tmp/eval-public/docs --variants current,noheader,whole --json sweep.json

Variants:
- current: what `groundmcp eval` feeds the pipeline (plain text, header = the document's name);
- noheader: the same chunks with no header line;
- title: no path; the passage title as the header of every chunk (the title leaves the text);
- balanced: as noheader, but a passage that must be split is split into pieces of even size;
- whole: one text per passage, title first, cut by the encoder at its window (the README baseline's way);
- tailN, current_tailN: as noheader and current, but a last piece that adds fewer than N tokens beyond its overlap is folded into
  the piece before it (which then runs past the window; the encoder cuts it, the sparse side sees it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchutil import machine  # noqa: E402

from groundmcp.chunking import Chunk, chunk_file  # noqa: E402
from groundmcp.chunking.docs import chunk_text  # noqa: E402
from groundmcp.encoders.factory import load_encoder  # noqa: E402
from groundmcp.eval.dataset import doc_name, open_dataset, render  # noqa: E402
from groundmcp.eval.metrics import mean, score_query  # noqa: E402
from groundmcp.ingest.pipeline import chunk_budget  # noqa: E402
from groundmcp.settings import Settings  # noqa: E402

VARIANTS = ("current", "noheader", "title", "balanced", "whole", "tail64", "tail128", "current_tail64", "current_tail128")


def chunk_texts(variant: str, record: dict, *, count, budget: int, overlap: int) -> list[str]:
    name = doc_name(record)
    text = render(record)
    if variant == "current":
        return [c.embed_text for c in chunk_file(name, text.encode(), count_tokens=count, max_tokens=budget,
                                                 overlap_tokens=overlap)]
    if variant == "whole":
        return [text]
    if variant == "noheader":
        return [c.embed_text for c in chunk_text("", text, count_tokens=count, max_tokens=budget,
                                                 overlap_tokens=overlap)]
    if variant == "title":
        title = (record.get("title") or "").strip()
        body = record.get("text") or ""
        return [c.embed_text for c in chunk_text(title, body, count_tokens=count, max_tokens=budget,
                                                 overlap_tokens=overlap)]
    if variant == "balanced":
        total = count(text)
        if total <= budget:
            return [text]
        n = math.ceil((total - overlap) / (budget - overlap))
        target = min(budget, math.ceil((total - overlap) / n) + overlap + 8)
        return [c.embed_text for c in chunk_text("", text, count_tokens=count, max_tokens=target,
                                                 overlap_tokens=overlap)]
    if variant.startswith(("tail", "current_tail")):
        limit = int(variant.rpartition("tail")[2])
        header = name if variant.startswith("current") else ""
        chunks = chunk_text(header, text, count_tokens=count, max_tokens=budget, overlap_tokens=overlap)
        if len(chunks) > 1 and count(chunks[-1].text) - overlap < limit:
            lines = text.split("\n")
            merged = "\n".join(lines[chunks[-2].start_line - 1 : chunks[-1].end_line])
            chunks = [*chunks[:-2], Chunk("", "text", "doc", "", chunks[-2].start_line, chunks[-1].end_line,
                                          merged, header)]
        return [c.embed_text for c in chunks]
    raise SystemExit(f"unknown variant {variant!r}: choose from {', '.join(VARIANTS)}")


class VectorCache:
    """Vectors by sha1 of the text, in one .npy per encode call plus an index (append-only)."""

    def __init__(self, folder: Path, tag: str):
        self.dir = folder / tag
        self.dir.mkdir(parents=True, exist_ok=True)
        self.index: dict[str, tuple[int, int]] = {}
        self.parts: list[np.ndarray] = []
        for k, f in enumerate(sorted(self.dir.glob("part-*.npy"))):
            keys = json.loads(f.with_suffix(".json").read_text())
            arr = np.load(f)
            self.parts.append(arr)
            for row, key in enumerate(keys):
                self.index[key] = (k, row)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(text.encode()).hexdigest()

    def missing(self, texts: list[str]) -> list[str]:
        seen, out = set(), []
        for t in texts:
            k = self.key(t)
            if k not in self.index and k not in seen:
                seen.add(k)
                out.append(t)
        return out

    def add(self, texts: list[str], vectors: np.ndarray) -> None:
        k = len(self.parts)
        f = self.dir / f"part-{k:04d}.npy"
        keys = [self.key(t) for t in texts]
        np.save(f, vectors)
        f.with_suffix(".json").write_text(json.dumps(keys))
        self.parts.append(vectors)
        for row, key in enumerate(keys):
            self.index[key] = (k, row)

    def get(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.parts[p][r] for p, r in (self.index[self.key(t)] for t in texts)])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "groundmcp-bench" / "sweep")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()

    settings = Settings(precision=args.precision)
    encoder = load_encoder(settings)
    budget = chunk_budget(encoder, settings.chunk_tokens)
    ds = open_dataset(args.dataset)
    records = [json.loads(line) for line in open(args.dataset / "corpus.jsonl", encoding="utf-8") if line.strip()]
    cache = VectorCache(args.cache, f"{settings.model.replace('/', '_')}-{args.precision}")
    queries = encoder.encode_queries([q.text for q in ds.queries])
    rows = []
    for variant in args.variants.split(","):
        t0 = time.perf_counter()
        owners: list[int] = []
        texts: list[str] = []
        for i, rec in enumerate(records):
            for t in chunk_texts(variant, rec, count=encoder.count_tokens, budget=budget,
                                 overlap=settings.chunk_overlap):
                owners.append(i)
                texts.append(t)
        todo = cache.missing(texts)
        print(f"{variant}: {len(texts)} chunks for {len(records)} passages; encoding {len(todo)}",
              file=sys.stderr, flush=True)
        step = 2048
        for a in range(0, len(todo), step):
            part = todo[a:a + step]
            cache.add(part, encoder.encode_documents(part))
            print(f"  {min(a + step, len(todo))}/{len(todo)}", file=sys.stderr, flush=True)
        vectors = cache.get(texts)
        sims = queries @ vectors.T  # queries x chunks
        owner = np.asarray(owners)
        best = np.full((len(ds.queries), len(records)), -np.inf, dtype=np.float32)
        np.maximum.at(best.T, owner, sims.T)  # passage score = its best chunk's
        per_query = []
        for qi, q in enumerate(ds.queries):
            top = np.argsort(-best[qi], kind="stable")[:100]
            ranked = [str(records[j]["_id"]) for j in top]
            per_query.append(score_query(ranked, ds.qrels[q.id]))
        overall = {k: round(v, 4) for k, v in mean(per_query).items()}
        counts = np.bincount(owner, minlength=len(records))
        row = {
            "variant": variant,
            "chunks": len(texts),
            "split_passages": int((counts > 1).sum()),
            **overall,
            "seconds": round(time.perf_counter() - t0, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "dataset": str(args.dataset), "rows": rows},
                                        indent=2))


if __name__ == "__main__":
    main()
