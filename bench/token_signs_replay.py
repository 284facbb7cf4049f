"""Late interaction over token signatures kept at ingest against the reranker's float tokens,
replayed over one eval collection's first-stage candidates.

    python bench/token_signs_replay.py DATASET_DIR --data-dir DIR -c COLLECTION [--depth 20] [--every N] [--cache FILE]

Each query's fused hybrid top `--depth` (the product's search with the prose step of search/late.py
left out) is fetched once from a collection `groundmcp eval` built (with signatures: prose 3 or
later), with, for each prose hit, three scores: the late-interaction reranker's in float32 (its
tokens encoded again from the hit's text, as `search(rerank=true)` does), the same score with the
hit's tokens read from its stored signature (what search/late.py orders by), and the dense cosine.
The lists are kept in --cache; every rule is then scored over the same lists, prose moved among
prose places as search/late.py moves it, with a paired bootstrap and a sign test against the
first stage. Encoding the candidates again is the cost (about 20 ms each on this CPU).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
from benchutil import cached, replay_ndcg

from groundmcp.encoders import token_signs
from groundmcp.engine import Engine
from groundmcp.eval.dataset import open_dataset
from groundmcp.eval.report import paired
from groundmcp.rerank.late_interaction import LateInteractionReranker
from groundmcp.search import query as search_query
from groundmcp.search.query import SearchRequest
from groundmcp.settings import Settings

# per query: [(path, kind, fused score, float late score, signature late score, cosine)], fused order
Cand = tuple[str, str, float, float, float, float]


def fetch(args) -> dict[str, list[Cand]]:
    engine = Engine(Settings(data_dir=args.data_dir))
    search_query.late_ordered = lambda store, encoder, collection, q, v, hits, tokens=None: hits  # the fused order
    try:
        ds = open_dataset(args.dataset)
        encoder, store = engine.encoder, engine.store
        reranker = LateInteractionReranker(encoder)
        out: dict[str, list[Cand]] = {}
        unsigned = 0
        for n, q in enumerate(ds.queries[:: args.every], 1):
            text = q.text.strip()
            hits = engine.search(SearchRequest(text, top_k=args.depth, mode="hybrid"), collection=args.collection)
            qv = encoder.encode_query(text)
            inputs = store.late_inputs(args.collection, [h.id for h in hits])
            floats = reranker.score(text, [h.embed_text for h in hits])
            cosines = [float(np.dot(inputs[h.id][0], qv)) for h in hits]
            signs = token_signs.late_scores(encoder.query_tokens(text), cosines, [inputs[h.id][1] for h in hits])
            unsigned += sum(h.kind == "doc" and not inputs[h.id][1] for h in hits)
            out[q.id] = [(h.path, h.kind, h.score, f, s, c) for h, f, s, c in zip(hits, floats, signs, cosines, strict=True)]
            if n % 50 == 0:
                print(f"  {n} queries", flush=True)
        if unsigned:
            print(f"  warning: {unsigned} prose hits had no signature (a collection made before prose 3?)")
        return out
    finally:
        engine.close()


def prose_moved(cands: list[Cand], key: int) -> list[int]:
    """Candidate indices in search/late.py's order with score field `key` (prose-led lists only)."""
    order = list(range(len(cands)))
    if sum(c[1] != "code" for c in cands) * 2 <= len(cands):
        return order
    slots = [i for i, c in enumerate(cands) if c[1] == "doc"]
    for slot, i in zip(slots, sorted(slots, key=lambda i: (-cands[i][key], i)), strict=True):
        order[slot] = i
    return order


def score(ds, cands: dict[str, list[Cand]], key: int | None) -> dict[str, float]:
    return replay_ndcg(ds, cands, lambda cs: list(range(len(cs))) if key is None else prose_moved(cs, key))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--data-dir", type=Path, required=True)
    ap.add_argument("-c", "--collection", required=True)
    ap.add_argument("--depth", type=int, default=20)
    ap.add_argument("--every", type=int, default=1, help="replay every N-th query only (a sample)")
    ap.add_argument("--cache", type=Path)
    args = ap.parse_args()
    began = time.perf_counter()
    cands = cached(args.cache, lambda: fetch(args))
    ds = open_dataset(args.dataset)
    ds.queries = [q for q in ds.queries if q.id in cands]
    print(f"{len(ds.queries)} queries, fused top {args.depth}, {time.perf_counter() - began:.0f} s")
    base = score(ds, cands, None)
    print("| order of the prose among the fused top | nDCG@10 | against the fused order |")
    print("|---|---:|---|")
    for name, key in (("fused (hybrid, no late step)", None), ("late interaction, float tokens encoded at search", 3),
                      ("late interaction, token signatures kept at ingest", 4), ("dense cosine alone", 5)):
        s = score(ds, cands, key)
        cmp = paired(base, s) if key is not None else None
        note = "" if cmp is None else f"{cmp.gain:+.4f} (CI {cmp.low:+.3f}..{cmp.high:+.3f}, {cmp.better}/{cmp.worse}, p={cmp.p_sign:.2g})"
        print(f"| {name} | {statistics.fmean(s.values()):.4f} | {note} |")


if __name__ == "__main__":
    main()
