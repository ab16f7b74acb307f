"""`python -m evals.beir_tune DIR --split train ...`: the sweep on a benchmark's training split
that chose the benchmark defaults in evals/beir.py (passage size, title mode, fusion, rrf_k,
weights). Refuses the test split, which is for reporting only."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.beir import (
    BEIR_FUSION,
    BEIR_MAX_CHARS,
    BEIR_RRF_K,
    FUSIONS,
    document_retriever,
    open_pipeline,
    rank_documents,
    with_title_mode,
)
from evals.beir_data import BEIR_TITLE, BenchmarkError, load_beir
from evals.benchmark_metrics import BEIR_METRICS, drop_identical, ranking_metrics
from rag.pipeline import Pipeline
from rag.retrieval import Retriever
from rag.settings import Settings
from rag.types import Hit


class _Memo:
    """Remembers each query's deepest passage ranking, so a sweep retrieves once per query."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.cache: dict[str, tuple[int, list[Hit]]] = {}

    def search(self, query: str, k: int) -> list[Hit]:
        """The inner retriever's top k, from the cache when a deep enough ranking is there."""
        asked, hits = self.cache.get(query, (0, []))
        if asked < k:
            hits = self.inner.search(query, k)
            self.cache[query] = (k, hits)
        return hits[:k]


def tune(path: Path | str, settings: Settings, split: str = "train",
         max_chars: Sequence[int] = (BEIR_MAX_CHARS,), rrf_ks: Sequence[int] = (BEIR_RRF_K,),
         bm25_weights: Sequence[float] = (1.0,), fusions: Sequence[str] = FUSIONS,
         title_modes: Sequence[str] = (BEIR_TITLE,), limit: int | None = None,
         progress: bool = True) -> list[dict[str, Any]]:
    """Score every combination of the grid on a training split; one row per combination.

    Each passage size and title mode gets its own index under
    `<data dir>/tuning/max_chars-N-TITLE`, and each
    query is retrieved once per passage retriever; fusion variants reuse those rankings.
    """
    if split == "test":
        raise BenchmarkError("tune on a training split; the test split is for reporting only")
    rows: list[dict[str, Any]] = []
    for title, mc in [(t, mc) for t in title_modes for mc in max_chars]:
        bset = load_beir(path, split, limit, title)
        s = with_title_mode(settings.replace(max_chars=mc, data_dir=str(
            settings.data_path / "tuning" / f"max_chars-{mc}-{title}")), title)
        pipeline = open_pipeline(bset, s, progress=progress)
        memo: dict[str, Retriever] = {m: _Memo(pipeline.retriever(m)) for m in ("dense", "bm25")}
        configs: list[tuple[str, str, int, float]] = [("dense", "-", 0, 0.0),
                                                      ("bm25", "-", 0, 0.0)]
        configs += [("hybrid", f, k, w) for f in fusions for k in rrf_ks for w in bm25_weights]
        for mode, fusion, k, w in configs:
            p = Pipeline(s.replace(rrf_k=k or s.rrf_k), pipeline.index, pipeline.embedder)
            retriever = document_retriever(p, mode, fusion if mode == "hybrid" else BEIR_FUSION,
                                           (1.0, w), passage_retrievers=memo)
            run = drop_identical(rank_documents(retriever, bset.queries, progress=progress,
                                                desc=f"max_chars {mc} {mode} {fusion} {k} {w}"))
            rows.append({"title": title, "max_chars": mc, "mode": mode, "fusion": fusion,
                         "rrf_k": k, "bm25_weight": w, **ranking_metrics(bset.qrels, run)})
    return rows


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    """The command line: one row per configuration, best nDCG@10 first."""
    parser = argparse.ArgumentParser(prog="python -m evals.beir_tune")
    parser.add_argument("dir", help="BEIR folder")
    parser.add_argument("--split", default="train")
    parser.add_argument("--max-chars", default=str(BEIR_MAX_CHARS), help="e.g. 700,1200")
    parser.add_argument("--rrf-k", default=str(BEIR_RRF_K), help="e.g. 10,30,60")
    parser.add_argument("--bm25-weight", default="1", help="dense weight is 1; e.g. 0.5,1,2")
    parser.add_argument("--fusion", default=",".join(FUSIONS))
    parser.add_argument("--title", default=BEIR_TITLE, help="text,header")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--model")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    settings = Settings.load(model=args.model)
    t0 = time.perf_counter()
    rows = tune(args.dir, settings, args.split, [int(x) for x in _floats(args.max_chars)],
                [int(x) for x in _floats(args.rrf_k)], _floats(args.bm25_weight),
                [f.strip() for f in args.fusion.split(",")],
                [t.strip() for t in args.title.split(",")], args.limit)
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(f"{'title':>6} {'max_chars':>9} {'mode':>7} {'fusion':>9} {'rrf_k':>5} {'w_bm25':>6} "
              + " ".join(f"{m:>10}" for m in BEIR_METRICS))
        for r in sorted(rows, key=lambda r: -r["ndcg@10"]):
            print(f"{r['title']:>6} {r['max_chars']:>9} {r['mode']:>7} {r['fusion']:>9} "
                  f"{r['rrf_k']:>5} {r['bm25_weight']:>6} "
                  + " ".join(f"{r[m]:>10.4f}" for m in BEIR_METRICS))
    print(f"{len(rows)} configurations in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
