"""`rag eval --beir DIR`: score the system on a standard benchmark in BEIR layout, through the
same index, retrievers and quoting code that the chat uses.

A BEIR folder holds `corpus.jsonl`, `queries.jsonl` (or `queries_test.jsonl` for the test
split) and `qrels/<split>.tsv`; a folder that also has `qa.jsonl` (SQuAD) gets the quote check
too. The benchmark's own index lives under `<data dir>/benchmarks/<folder name>` and is reused
while the corpus and settings are unchanged. A TREC run file per mode, and the qrels in TREC
form, are written next to `--out`, or else under `<data dir>/benchmarks/runs/`.
Method, figures and the commands that printed them: evals/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from evals.beir_data import BeirSet, BenchmarkError, default_title_mode, load_beir
from evals.benchmark_metrics import (
    BEIR_METRICS,
    contains_answer,
    drop_identical,
    first_occurrence,
    ranking_metrics,
)
from evals.trec import write_qrels, write_run
from index.embedder import Embedder, make_embedder
from index.store import build_index, load_index, staleness
from rag.pipeline import Pipeline
from rag.rerank import RerankingRetriever
from rag.retrieval import HybridRetriever, Retriever
from rag.settings import MODES, Settings
from rag.types import Hit

# The hybrid ranking with its first `rerank_depth` passages reordered by the reader and
# combiner (`rag.rerank`), as the chat does: `rag eval --beir DIR --rerank`.
RERANKED = "hybrid+reader"

# Ranking depth per query: recall@100 needs 100 distinct documents.
DOC_DEPTH = 100
# SQuAD's 10,570 questions through the quoting path take hours on two cores, so the answer
# check runs on a fixed random sample; retrieval metrics always use every question.
ANSWER_SAMPLE = 1000
ANSWER_SEED = 13

# Benchmark defaults, chosen on the SciFact *train* split only (809 claims), never on test:
#   python -m evals.beir_tune /work/shared/benchmarks/scifact --split train --title text,header \
#       --max-chars 700 --rrf-k 10,30,60,100 --bm25-weight 0.5,0.75,1,1.5,2
# Best train nDCG@10: 0.7305 with the title as context header, 700-character passages,
# passage-level fusion, equal weights and rrf_k 10 (rrf_k 60: 0.7210; title in the text:
# 0.7199). Every table is in evals/BENCHMARKS.md. A setting the user moved off the rag
# default wins over these.
BEIR_MAX_CHARS = 700
BEIR_RRF_K = 10
# Weights of (dense, bm25) in reciprocal rank fusion; other weights did no better on train.
BEIR_WEIGHTS = (1.0, 1.0)
# "passage": fuse passages with the chat's own hybrid retriever, then fold into documents;
# "document": fold each retriever's passages into documents, then fuse the two rankings.
BEIR_FUSION = "passage"
FUSIONS = ("passage", "document")


def benchmark_settings(settings: Settings, title_mode: str | None = None) -> Settings:
    """The benchmark defaults, except where the user moved a setting off the rag default."""
    defaults = {f.name: f.default for f in fields(Settings)}
    tuned = {"max_chars": BEIR_MAX_CHARS, "rrf_k": BEIR_RRF_K}
    settings = settings.replace(**{k: v for k, v in tuned.items()
                                   if getattr(settings, k) == defaults[k]})
    return with_title_mode(settings, title_mode or default_title_mode())


def with_title_mode(settings: Settings, title_mode: str) -> Settings:
    """Context headers on for the "header" title mode, off for "text" (no doubled title)."""
    if "context_headers" not in {f.name for f in fields(Settings)}:
        if title_mode == "header":
            raise BenchmarkError("title mode 'header' needs the context_headers setting")
        return settings
    return settings.replace(context_headers="on" if title_mode == "header" else "off")


def benchmark_index_path(settings: Settings, name: str) -> Path:
    """Where a benchmark's index lives: apart from the readings' index, one per benchmark."""
    return settings.data_path / "benchmarks" / name


def open_pipeline(bset: BeirSet, settings: Settings, progress: bool = True) -> Pipeline:
    """A pipeline over the benchmark's own index, built (or updated) first if needed."""
    embedder = make_embedder(settings.embedder_key)
    path = benchmark_index_path(settings, bset.name)
    reason = staleness(path, bset.documents, settings.embedder_key, settings.index_settings())
    if reason is not None:
        print(f"Building the {bset.name} index at {path} ({reason}).", file=sys.stderr)
        build_index(path, bset.documents, embedder, settings.embedder_key,
                    settings.index_settings(), settings.public(), progress=progress)
    return Pipeline(settings, load_index(path), embedder)


class DocumentRetriever:
    """One hit per document, at the rank of its best passage (max aggregation, as for
    passage-level BEIR runs). `Hit.row` becomes a document number, so that fusion counts
    each document once."""

    def __init__(self, inner: Retriever, n_passages: int, doc_rows: Mapping[str, int]) -> None:
        self.inner = inner
        self.n_passages = n_passages
        self.doc_rows = doc_rows

    def search(self, query: str, k: int) -> list[Hit]:
        """The best k documents, asking the passage retriever for more until k are found."""
        n = min(k * 4, self.n_passages)
        while True:
            hits = self.inner.search(query, n)
            docs = first_occurrence(hits, k)
            # Fewer hits than asked means the retriever has nothing more to give.
            if len(docs) >= k or len(hits) < n or n >= self.n_passages:
                break
            n = min(n * 4, self.n_passages)
        best: dict[str, Hit] = {}
        for h in hits:
            best.setdefault(h.passage.doc_id, h)
        return [Hit(best[d].passage, best[d].score, self.doc_rows[d]) for d in docs]


class QueryVectors:
    """An embedder that embeds all benchmark queries up front, in batches, and passes any
    other text through. One query at a time costs ~10x more on CPU, which for SQuAD's
    10,570 questions is the difference between minutes and an hour."""

    def __init__(self, inner: Embedder, queries: Sequence[str], progress: bool = True,
                 batch: int = 256) -> None:
        self.inner = inner
        texts = list(dict.fromkeys(queries))
        self.vectors: dict[str, np.ndarray] = {}
        for b in tqdm(range(0, len(texts), batch), desc="Embedding queries", unit="batch",
                      disable=not progress or not texts):
            self.vectors.update(zip(texts[b:b + batch], inner.embed(texts[b:b + batch]),
                                    strict=True))

    def embed(self, texts: list[str]) -> np.ndarray:
        """Stored vectors for known queries; the inner embedder for anything else."""
        if all(t in self.vectors for t in texts) and texts:
            return np.stack([self.vectors[t] for t in texts])
        return self.inner.embed(texts)


def document_retriever(pipeline: Pipeline, mode: str, fusion: str = BEIR_FUSION,
                       weights: Sequence[float] = BEIR_WEIGHTS,
                       passage_retrievers: Mapping[str, Retriever] | None = None) -> Retriever:
    """A document-level retriever for a mode, built from the pipeline's own retrievers."""
    if fusion not in FUSIONS:
        raise ValueError(f"unknown fusion {fusion!r}; choose one of {', '.join(FUSIONS)}")
    if mode not in (*MODES, RERANKED):
        raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    base = dict(passage_retrievers or {})
    for m in ("dense", "bm25") if mode in ("hybrid", RERANKED) else (mode,):
        base.setdefault(m, pipeline.retriever(m))  # builds BM25 only for modes that use it
    n = len(pipeline.index.passages)
    rows = {doc_id: i for i, doc_id in enumerate(pipeline.index.documents)}
    rrf_k = pipeline.settings.rrf_k
    if mode in ("dense", "bm25"):
        return DocumentRetriever(base[mode], n, rows)
    if fusion == "passage" or mode == RERANKED:
        # The chat's hybrid as `make_retriever` builds it, with the weights made explicit
        # (the sentence channel, when on, weighs 1).
        parts, w = [base["dense"], base["bm25"]], list(weights)
        if pipeline.settings.sentence_channel == "on":
            parts.append(pipeline.sentence_retriever())
            w.append(1.0)
        fused: Retriever = HybridRetriever(parts, rrf_k=rrf_k, weights=w)
        if mode == RERANKED:
            fused = RerankingRetriever(fused, _judged(pipeline).best_quotes,
                                       pipeline.settings.rerank_depth)
        return DocumentRetriever(fused, n, rows)
    return HybridRetriever([DocumentRetriever(base["dense"], n, rows),
                            DocumentRetriever(base["bm25"], n, rows)],
                           rrf_k=rrf_k, depth=DOC_DEPTH, weights=weights)


def _judged(pipeline: Pipeline) -> Pipeline:
    """The same pipeline with the reader and combiner that its settings ask for."""
    from rag.pipeline import make_judge

    judged = Pipeline(pipeline.settings, pipeline.index, pipeline.embedder,
                      make_judge(pipeline.settings))
    if judged.judge is None:
        raise BenchmarkError("--rerank needs a reader and a combiner (setting reader is off)")
    return judged


def rank_documents(retriever: Retriever, queries: Mapping[str, str], depth: int = DOC_DEPTH,
                   desc: str = "", progress: bool = True) -> dict[str, list[str]]:
    """The top `depth` document ids for every query."""
    return {qid: [h.passage.doc_id for h in retriever.search(text, depth)]
            for qid, text in tqdm(queries.items(), desc=desc, unit="query",
                                  disable=not progress)}


def answer_sample(bset: BeirSet, size: int = ANSWER_SAMPLE, seed: int = ANSWER_SEED
                  ) -> list[str]:
    """A fixed random sample of the answerable query ids, in file order."""
    qids = [q for q in bset.queries if bset.answers.get(q)]
    if len(qids) <= size:
        return qids
    chosen = set(random.Random(seed).sample(qids, size))
    return [q for q in qids if q in chosen]


def answer_metrics(pipeline: Pipeline, bset: BeirSet, qids: Sequence[str], mode: str,
                   progress: bool = True) -> dict[str, float]:
    """How often the top quote, and any quote, of `Pipeline.ask` contains a gold answer.

    The threshold is switched off (-inf) so that the top quote is the best candidate
    sentence even where the chat's score would say "not in the readings"; how often it
    would have abstained at the real threshold is reported beside it. The evidence checks
    stay as in the chat: a question they refuse has no quote, and counts as a miss.
    """
    threshold = pipeline.settings.abstain_threshold
    pipeline = Pipeline(pipeline.settings.replace(abstain_threshold=float("-inf")),
                        pipeline.index, pipeline.embedder)
    top = anywhere = abstain = 0
    for qid in tqdm(qids, desc=f"{mode} answers", unit="question", disable=not progress):
        answer = pipeline.ask(bset.queries[qid], mode=mode)
        golds = bset.answers[qid]
        quotes = [c.quote for c in answer.citations]
        top += bool(quotes) and contains_answer(quotes[0], golds)
        anywhere += any(contains_answer(q, golds) for q in quotes)
        abstain += answer.abstain_reason is not None or answer.confidence < threshold
    n = max(len(qids), 1)
    return {"answer_sentence_rate": top / n, "answer_in_quotes_rate": anywhere / n,
            "would_abstain_rate": abstain / n}



def evaluate(bset: BeirSet, settings: Settings, modes: Sequence[str] = MODES,
             run_dir: Path | None = None, answers: bool = True, progress: bool = True,
             fusion: str = BEIR_FUSION, weights: Sequence[float] = BEIR_WEIGHTS
             ) -> dict[str, Any]:
    """Score each mode on one split; write a TREC run file per mode into `run_dir`."""
    settings = benchmark_settings(settings, bset.title_mode)
    t0 = time.perf_counter()
    pipeline = open_pipeline(bset, settings, progress=progress)
    index_seconds = time.perf_counter() - t0
    metrics = list(BEIR_METRICS) + (["recall@5"] if bset.answers else [])
    sample = answer_sample(bset) if bset.answers and answers else []
    t0 = time.perf_counter()
    if sample or any(m != "bm25" for m in modes):  # BM25 alone never embeds a query
        pipeline = Pipeline(settings, pipeline.index, QueryVectors(
            pipeline.embedder, list(bset.queries.values()), progress))
    query_seconds = time.perf_counter() - t0
    tag = f"{bset.name}-{bset.split}"
    if run_dir is not None:
        write_qrels(run_dir / f"{tag}.qrels", bset.qrels)
    results: dict[str, dict[str, Any]] = {}
    for mode in modes:
        t = time.perf_counter()
        retriever = document_retriever(pipeline, mode, fusion, weights)
        run = drop_identical(rank_documents(retriever, bset.queries, desc=f"{mode} ranking",
                                            progress=progress))
        seconds = round(time.perf_counter() - t, 1)  # ranking only: ranx loads slowly once
        row: dict[str, Any] = ranking_metrics(bset.qrels, run, metrics)
        row["seconds"] = seconds
        if run_dir is not None:
            row["run_file"] = str(write_run(run_dir / f"{tag}-{mode}.trec", run, f"rag-{mode}"))
        if sample and mode in MODES:
            t = time.perf_counter()
            row.update(answer_metrics(pipeline, bset, sample, mode, progress=progress))
            row["answer_seconds"] = round(time.perf_counter() - t, 1)
        results[mode] = row
    manifest = pipeline.index.manifest
    return {
        "benchmark": bset.name, "split": bset.split, "n_queries": len(bset.queries),
        "n_documents": len(bset.documents), "n_passages": len(pipeline.index.passages),
        "answer_sample": ({"size": len(sample), "seed": ANSWER_SEED,
                           "of": sum(1 for q in bset.queries if bset.answers.get(q))}
                          if sample else None),
        "fusion": {"method": fusion, "weights": list(weights), "rrf_k": settings.rrf_k,
                   "depth": DOC_DEPTH},
        "title": bset.title_mode,
        "settings": settings.public(),
        "manifest": {k: manifest.get(k) for k in ("model", "corpus_hash", "passage_count",
                                                  "index_settings", "built_at")},
        "index_path": str(pipeline.index.path), "index_seconds": round(index_seconds, 1),
        "query_embedding_seconds": round(query_seconds, 1),
        "modes": results,
    }


def format_report(report: Mapping[str, Any]) -> str:
    """The report as a plain-text table: one column per mode."""
    modes = list(report["modes"])
    keys = [k for k in report["modes"][modes[0]] if k != "run_file"]
    lines = [f"{report['benchmark']} ({report['split']}): {report['n_queries']} queries, "
             f"{report['n_documents']} documents, {report['n_passages']} passages; "
             f"model {report['settings']['model']}, max_chars {report['settings']['max_chars']}, "
             f"{report['fusion']['method']} fusion rrf_k {report['fusion']['rrf_k']} "
             f"weights {report['fusion']['weights']}, sentence channel "
             f"{report['settings'].get('sentence_channel', 'off')}, "
             f"title as {report.get('title', '?')}",
             f"{'metric':<24}" + "".join(f"{m:>14}" for m in modes)]
    for key in keys:
        cells = [report["modes"][m].get(key) for m in modes]
        fmt = "{:>14.1f}" if key.endswith("seconds") else "{:>14.4f}"
        lines.append(f"{key:<24}" + "".join(fmt.format(c) if c is not None else f"{'-':>14}"
                                          for c in cells))
    lines.append(f"index ready in {report['index_seconds']:.1f} s; queries embedded in "
                 f"{report.get('query_embedding_seconds', 0.0):.1f} s")
    if report["answer_sample"]:
        a = report["answer_sample"]
        lines.append(f"answer rates: seeded sample of {a['size']} of {a['of']} questions "
                     f"(seed {a['seed']}); top quote from `rag ask` with abstention off")
    for m in modes:
        if "run_file" in report["modes"][m]:
            lines.append(f"run file ({m}): {report['modes'][m]['run_file']}")
    return "\n".join(lines)


def run_dir_for(args: argparse.Namespace, settings: Settings) -> Path:
    """TREC files go next to --out when given, else under `<data dir>/benchmarks/runs`."""
    if getattr(args, "out", None):
        return Path(args.out).expanduser().resolve().parent
    return settings.data_path / "benchmarks" / "runs"


def run_beir(args: argparse.Namespace, settings: Settings) -> int:
    """`rag eval --beir DIR [--split S] [--mode M] [--limit N] [--json] [--out FILE]`."""
    mode = getattr(args, "mode", None)
    if mode is not None and mode not in MODES:
        raise BenchmarkError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    bset = load_beir(args.beir, getattr(args, "split", None) or "test",
                     getattr(args, "limit", None))
    modes = [mode] if mode else list(MODES)
    if getattr(args, "rerank", False):
        modes.append(RERANKED)
    report = evaluate(bset, settings, modes, run_dir_for(args, settings))
    text = json.dumps(report, indent=2, ensure_ascii=False)
    if getattr(args, "out", None):
        Path(args.out).expanduser().write_text(text + "\n", encoding="utf-8")
    print(text if getattr(args, "json", False) else format_report(report))
    return 0
