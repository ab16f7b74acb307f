"""Encoder backends compared on SciFact: torch vs ONNX fp32 vs ONNX int8 recipes.

    python -m evals.encoder_bench ../shared/benchmarks/scifact [--threads 2] [--limit N]

For each backend, in one process: build throughput (texts/s embedding the first 600 abstracts
"title. text", batch 32, sorted by length; best of interleaved rounds), ask latency (median
ms to embed one test claim alone), cosine of its abstract vectors to torch's (mean/min), and
dense nDCG@10 on the SciFact test claims at the abstract level. Prints a table, writes
evals/bench/encoder.json.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.beir_data import abstract_texts, load_beir
from evals.benchmark_metrics import ndcg10_of_rows
from index.embedder import BUNDLED_MODEL, Embedder, SentenceTransformerEmbedder, bundled_model_path
from index.onnx_encoder import RECIPES, OnnxEmbedder

OUT = Path(__file__).resolve().parent / "bench" / "encoder.json"


def ndcg_at_10(scores: np.ndarray, doc_ids: list[str], query_ids: list[str],
               qrels: dict[str, dict[str, int]]) -> float:
    """nDCG@10 of ranking every abstract by score, as `rag eval --beir` scores it (ranx)."""
    return ndcg10_of_rows(np.argsort(-scores, axis=1)[:, :10], doc_ids, query_ids, qrels)


def embed_all(name: str, emb: Embedder, docs: list[str], claims: list[str]) -> dict[str, Any]:
    """Quality pass (untimed): every abstract and every claim."""
    emb.embed(["warm up"])  # exports/quantises on first use, outside any timing
    print(f"  embedding with {name}", file=sys.stderr)
    return {"doc_vecs": emb.embed(docs), "claim_vecs": emb.embed(claims)}


def time_round(emb: Embedder, sample: list[str], claims: list[str]) -> tuple[float, float]:
    """(texts/s over the sample, median ms to embed one claim alone)."""
    start = time.perf_counter()
    emb.embed(sample)
    rate = len(sample) / (time.perf_counter() - start)
    times = []
    for c in claims:
        t = time.perf_counter()
        emb.embed([c])
        times.append(time.perf_counter() - t)
    return rate, 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path, help="SciFact folder (corpus.jsonl, queries, qrels)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit", type=int, default=0, help="only the first N abstracts (smoke)")
    ap.add_argument("--recipes", default=",".join(RECIPES))
    ap.add_argument("--speed-sample", type=int, default=600, help="abstracts timed per round")
    ap.add_argument("--latency-n", type=int, default=50, help="claims timed one by one")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds, backends interleaved; the best round counts (the "
                         "machine is shared, so the best is the least disturbed)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    try:
        doc_ids, docs = abstract_texts(args.folder)
        scifact = load_beir(args.folder, "test")  # judged test claims and their qrels
    except (OSError, ValueError) as e:
        print(f"error: cannot read SciFact from {args.folder}: {e}", file=sys.stderr)
        return 2
    if args.limit:
        doc_ids, docs = doc_ids[:args.limit], docs[:args.limit]
    qrels = scifact.qrels
    query_ids = list(scifact.queries)
    claims = [scifact.queries[q] for q in query_ids]

    path = bundled_model_path()
    backends: list[tuple[str, Embedder]] = [
        ("torch", SentenceTransformerEmbedder(BUNDLED_MODEL)),
        ("onnx-fp32", OnnxEmbedder(path, "onnx-fp32", threads=args.threads))]
    for r in args.recipes.split(","):
        backends.append((f"onnx-int8/{r}",
                         OnnxEmbedder(path, "onnx-int8", threads=args.threads, recipe=r)))
    results = {name: embed_all(name, emb, docs, claims) for name, emb in backends}
    sample = docs[:args.speed_sample]
    for _ in range(args.rounds):
        for name, emb in backends:
            rate, ms = time_round(emb, sample, claims[:args.latency_n])
            r = results[name]
            r["texts_per_s"] = max(rate, r.get("texts_per_s", 0.0))
            r["ask_ms"] = min(ms, r.get("ask_ms", math.inf))
            print(f"  {name}: {rate:.1f} texts/s, {ms:.2f} ms/ask", file=sys.stderr)
    ref = results["torch"]
    rows = []
    for name, r in results.items():
        cos = (r["doc_vecs"] * ref["doc_vecs"]).sum(axis=1)
        rows.append({"backend": name, "texts_per_s": round(r["texts_per_s"], 1),
                     "build_speedup": round(r["texts_per_s"] / ref["texts_per_s"], 2),
                     "ask_ms": round(r["ask_ms"], 2),
                     "ask_speedup": round(ref["ask_ms"] / r["ask_ms"], 2),
                     "cos_mean": round(float(cos.mean()), 4),
                     "cos_min": round(float(cos.min()), 4),
                     "ndcg@10": round(ndcg_at_10(r["claim_vecs"] @ r["doc_vecs"].T, doc_ids,
                                                 query_ids, qrels), 4)})
    head = f"{'backend':34} {'texts/s':>8} {'build×':>7} {'ask ms':>7} {'ask×':>5} " \
           f"{'cos mean':>8} {'cos min':>8} {'nDCG@10':>8}"
    print(head)
    for w in rows:
        print(f"{w['backend']:34} {w['texts_per_s']:8.1f} {w['build_speedup']:7.2f} "
              f"{w['ask_ms']:7.2f} {w['ask_speedup']:5.2f} {w['cos_mean']:8.4f} "
              f"{w['cos_min']:8.4f} {w['ndcg@10']:8.4f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "abstracts": len(docs), "claims": len(claims), "threads": args.threads,
        "speed_sample": len(sample), "latency_n": args.latency_n, "rounds": args.rounds,
        # Each backend at its own batch size (torch 32, onnxruntime 8: see OnnxEmbedder).
        "batch_size": {name: getattr(emb, "batch_size", None) for name, emb in backends},
        "rows": rows}, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
