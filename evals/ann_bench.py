"""Where a flat FAISS scan stops being cheap, and what IVF (or HNSW) costs in recall: the
measurements behind `index.ann`'s threshold and parameters.

    python -m evals.ann_bench ../shared/benchmarks/scifact [--sizes 5183,100000,1000000]

It embeds the SciFact corpus and its test claims with the bundled model (cached beside the
benchmark indexes), then, for each size, a vector set of that many rows: the real abstracts,
then copies of them with Gaussian noise added and renormalised (cosine about 0.9 to their
original, so each real vector has near neighbours, as paraphrased passages do). For each set
it times a flat scan and IVF at several `nprobe` values (`--kinds ivf,hnsw` adds HNSW at
several `efSearch` values), one query at a time as a question is asked, and gives each one's
recall@10 against the flat result. On the real abstracts it also
gives dense nDCG@10 on SciFact test, flat against the approximate ones.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from evals.beir_data import abstract_texts, load_beir
from evals.benchmark_metrics import ndcg10_of_rows
from index import ann
from index.embedder import BUNDLED_MODEL, make_embedder
from index.paths import default_data_dir

EF_SEARCH = (32, 64, 128, 256)
NPROBE = (8, 16, 32, 64, 128)
NOISE = 0.02  # per dimension; 384-d unit vectors end up at cosine ~0.9 to their original
QUERIES = 300


def _embedded(data: Path, cache: Path) -> tuple[np.ndarray, list[str], np.ndarray, list[str]]:
    """Corpus ("title. text") and test-claim vectors, embedded once and cached as .npy."""
    beir = load_beir(data, "test")
    doc_ids, texts = abstract_texts(data)
    query_ids = list(beir.queries)
    cache.mkdir(parents=True, exist_ok=True)
    embedder = None
    corpus_file, queries_file = cache / "corpus.npy", cache / "queries.npy"
    if not corpus_file.exists():
        embedder = make_embedder(BUNDLED_MODEL)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vecs = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        for b in range(0, len(order), 64):
            chunk = order[b:b + 64]
            vecs[chunk] = embedder.embed([texts[i] for i in chunk])
            print(f"\rembedding the corpus: {b + len(chunk)}/{len(texts)}", end="",
                  file=sys.stderr, flush=True)
        print(file=sys.stderr)
        np.save(corpus_file, vecs)
    if not queries_file.exists():
        embedder = embedder or make_embedder(BUNDLED_MODEL)
        np.save(queries_file, embedder.embed([beir.queries[q] for q in query_ids]))
    return np.load(corpus_file), doc_ids, np.load(queries_file), query_ids


def grow(vectors: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """`size` rows: the real ones, then noisy copies of them."""
    if size <= len(vectors):
        return vectors[:size]
    rng = np.random.default_rng(seed)
    out = np.empty((size, vectors.shape[1]), dtype=np.float32)
    out[:len(vectors)] = vectors
    for start in range(len(vectors), size, 50_000):
        stop = min(size, start + 50_000)
        rows = vectors[rng.integers(0, len(vectors), stop - start)]
        noisy = rows + rng.normal(0, NOISE, rows.shape).astype(np.float32)
        out[start:stop] = noisy / np.linalg.norm(noisy, axis=1, keepdims=True)
    return out


def _timed_search(index: faiss.Index, queries: np.ndarray, k: int = 10
                  ) -> tuple[np.ndarray, float]:
    """Rows found for each query, asked one at a time, and the median milliseconds."""
    rows, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        _, r = index.search(q[None, :], k)
        times.append((time.perf_counter() - t0) * 1000)
        rows.append(r[0])
    return np.stack(rows), statistics.median(times)


def recall_at(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k found."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth,
                                                                        strict=True)]))


def bench(data: Path, sizes: list[int], cache: Path,
          kinds: tuple[str, ...] = ("ivf",)) -> dict[str, Any]:
    """The figures for each size, as one JSON-ready dict."""
    corpus, doc_ids, queries, query_ids = _embedded(data, cache)
    queries = queries[:QUERIES]
    query_ids = query_ids[:QUERIES]
    qrels = load_beir(data, "test").qrels
    faiss.omp_set_num_threads(1)  # a question is answered on one thread
    out: dict[str, Any] = {"model": BUNDLED_MODEL, "queries": len(queries), "noise": NOISE,
                           "sizes": []}
    for size in sizes:
        vecs = grow(corpus, size)
        flat = ann.build(vecs, ann.VectorIndexSpec())
        truth, flat_ms = _timed_search(flat, queries)
        row: dict[str, Any] = {"size": size, "flat_ms_p50": round(flat_ms, 3)}
        if size == len(corpus):
            row["flat_ndcg10"] = round(ndcg10_of_rows(truth, doc_ids, query_ids, qrels), 4)
        del flat
        for kind in kinds:
            spec = ann.choose(size, ivf_from=0) if kind == "ivf" else ann.hnsw()
            faiss.omp_set_num_threads(2)  # building uses both cores
            t0 = time.perf_counter()
            index = ann.build(vecs, spec)
            build_s = time.perf_counter() - t0
            faiss.omp_set_num_threads(1)
            row[kind] = {"build_s": round(build_s, 1), **spec.to_dict(), "search": []}
            for knob in (NPROBE if kind == "ivf" else EF_SEARCH):
                ann.configure(index, replace(spec, nprobe=knob) if kind == "ivf"
                              else replace(spec, ef_search=knob))
                found, ms = _timed_search(index, queries)
                entry = {("nprobe" if kind == "ivf" else "ef_search"): knob,
                         "ms_p50": round(ms, 3), "recall10": round(recall_at(found, truth), 4)}
                if size == len(corpus):
                    entry["ndcg10"] = round(ndcg10_of_rows(found, doc_ids, query_ids, qrels), 4)
                row[kind]["search"].append(entry)
            del index
        out["sizes"].append(row)
        print(_row_text(row), file=sys.stderr, flush=True)
        del vecs
    return out


def _row_text(row: dict[str, Any]) -> str:
    parts = [f"{row['size']:>9,} vectors: flat {row['flat_ms_p50']:.2f} ms"]
    if "flat_ndcg10" in row:
        parts.append(f"flat nDCG@10 {row['flat_ndcg10']:.4f}")
    for kind in ("ivf", "hnsw"):
        if kind not in row:
            continue
        r = row[kind]
        knob = "nprobe" if kind == "ivf" else "ef_search"
        parts.append(f"{kind.upper()} build {r['build_s']} s"
                     + (f" (nlist {r['nlist']})" if kind == "ivf" else ""))
        parts += [f"{knob} {e[knob]}: {e['ms_p50']:.2f} ms, recall@10 {e['recall10']:.3f}"
                  + (f", nDCG@10 {e['ndcg10']:.4f}" if "ndcg10" in e else "")
                  for e in r["search"]]
    return " | ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """`python -m evals.ann_bench`: print one line per size; `--out` saves the JSON."""
    p = argparse.ArgumentParser(prog="python -m evals.ann_bench", description=__doc__.split(
        "\n\n")[0])
    p.add_argument("data", type=Path, help="a BEIR folder (SciFact)")
    p.add_argument("--sizes", default="5183,20000,50000,100000,1000000",
                   help="comma-separated vector counts")
    p.add_argument("--kinds", default="ivf",
                   help="comma-separated ANN kinds to measure: ivf, hnsw (default ivf)")
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    args = p.parse_args(argv)
    try:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes must be comma-separated whole numbers")
    if not (args.data / "corpus.jsonl").exists():
        print(f"error: no BEIR corpus.jsonl in {args.data}", file=sys.stderr)
        return 2
    kinds = tuple(k.strip() for k in args.kinds.split(",") if k.strip())
    if not kinds or not set(kinds) <= {"ivf", "hnsw"}:
        p.error("--kinds takes ivf, hnsw or both")
    report = bench(args.data, sizes, default_data_dir() / "benchmarks" / "ann-vectors", kinds)
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
