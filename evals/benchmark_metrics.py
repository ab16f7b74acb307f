"""Benchmark scoring as BEIR and trec_eval define it: passage hits folded into document
rankings, ranking metrics via ranx, and the SQuAD check of a quoted sentence against gold
answers. Pure functions over plain mappings, so tests can check them by hand."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence

from rag.types import Hit

# The BEIR paper's three headline metrics, plus the SQuAD retrieval cut-off.
BEIR_METRICS = ("ndcg@10", "recall@100", "mrr@10")

Qrels = Mapping[str, Mapping[str, int]]
Ranking = Mapping[str, Sequence[str]]


def first_occurrence(hits: Iterable[Hit], depth: int) -> list[str]:
    """Document ids in the order their best passage appears (max aggregation), up to `depth`."""
    seen: dict[str, None] = {}
    for hit in hits:
        seen.setdefault(hit.passage.doc_id, None)
        if len(seen) >= depth:
            break
    return list(seen)


def drop_identical(run: Ranking) -> dict[str, list[str]]:
    """Remove a document whose id equals the query id, as BEIR's evaluator does by default
    (`ignore_identical_ids=True`), for corpora where queries are also documents."""
    return {qid: [d for d in docs if d != qid] for qid, docs in run.items()}


def rank_scores(docs: Sequence[str]) -> dict[str, float]:
    """Scores that strictly fall with rank, so that ranx, trec_eval and a TREC run file
    all see exactly our order (raw fused scores tie often, and tools break ties differently)."""
    n = len(docs)
    return {d: float(n - i) for i, d in enumerate(docs)}


def ranking_metrics(qrels: Qrels, run: Ranking, metrics: Sequence[str] = BEIR_METRICS
                    ) -> dict[str, float]:
    """Mean of each metric over all judged queries; a query with no hits scores 0 (trec_eval -c).

    nDCG uses trec_eval's linear gain and log2 discount, recall@k counts relevant documents
    in the top k over all relevant ones, and mrr@10 is BEIR's: 1/rank of the first relevant
    document in the top 10, else 0. Judgements of 0 or less are not relevant.
    """
    from ranx import Qrels as RQrels  # slow import (numba JIT); only on the benchmark path
    from ranx import Run, evaluate

    judged = {q: {d: int(r) for d, r in rels.items() if int(r) > 0} for q, rels in qrels.items()}
    judged = {q: rels for q, rels in judged.items() if rels}
    if not judged:
        raise ValueError("no query has a relevant document in the qrels")
    # ranx drops queries with an empty ranking; a placeholder that is never relevant keeps
    # them in the mean with a score of 0, as trec_eval -c does.
    ranked = {q: rank_scores(run.get(q, ())) or {"<no hits>": 0.0} for q in judged}
    with warnings.catch_warnings():
        # numba warns about an int cast inside ranx's recall on first compile; harmless here.
        warnings.simplefilter("ignore")
        scores = evaluate(RQrels(judged), Run(ranked), list(metrics), make_comparable=True)
    if len(metrics) == 1:
        return {metrics[0]: float(scores)}  # type: ignore[arg-type]
    return {m: float(scores[m]) for m in metrics}  # type: ignore[index]


_SPACE = re.compile(r"\s+")


def _norm(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def contains_answer(sentence: str, answers: Iterable[str]) -> bool:
    """True when any gold answer occurs in the sentence, ignoring case and whitespace runs."""
    norm = _norm(sentence)
    return any((a := _norm(answer)) and a in norm for answer in answers)


def ndcg10_of_rows(rows: Iterable[Iterable[int]], doc_ids: Sequence[str],
                   query_ids: Sequence[str], qrels: Qrels) -> float:
    """nDCG@10 of each query's ranked rows (indices into `doc_ids`; FAISS's -1 for an empty
    slot is skipped), scored as `rag eval --beir` scores (ranx)."""
    run = {q: [doc_ids[r] for r in found if 0 <= r < len(doc_ids)]
           for q, found in zip(query_ids, rows, strict=True)}
    return ranking_metrics(qrels, run, ["ndcg@10"])["ndcg@10"]

