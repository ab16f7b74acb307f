"""Aggregate per-question outcomes into the report's metrics. Ranking metrics come from ranx;
abstention, trust (precision, coverage, AURC) and latency are counted here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from evals.risk_coverage import aurc, risk_coverage
from evals.runner import Outcome


def _ranking_metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Document- and passage-level metrics over answerable questions, via ranx."""
    from ranx import Qrels, Run, evaluate  # slow import (numba); kept off the question path

    answerable = [o for o in outcomes if o.item.answerable]
    if not answerable:
        return {}
    doc_qrels = {o.item.id: {d: 1 for d in o.item.expected_sources} for o in answerable}
    doc_run = {o.item.id: {d: 1.0 / r for r, d in enumerate(o.doc_ranking, 1)}
               for o in answerable}
    # A question whose quote is in no retrieved passage still needs a relevant id in the
    # qrels, or ranx would drop it; the placeholder can never be retrieved.
    p_qrels = {o.item.id: ({p: 1 for p in o.relevant_passages} or {"<not retrieved>": 1})
               for o in answerable}
    p_run = {o.item.id: {p: 1.0 / r for r, p in enumerate(o.passage_ids, 1)}
             for o in answerable}
    for run in (doc_run, p_run):  # ranx rejects empty rankings
        for ranking in run.values():
            if not ranking:
                ranking["<nothing>"] = 0.0
    doc = evaluate(Qrels(doc_qrels), Run(doc_run),
                   ["hit_rate@1", "hit_rate@5", "mrr@10", "ndcg@10"], make_comparable=True)
    psg = evaluate(Qrels(p_qrels), Run(p_run), ["hit_rate@1", "hit_rate@5", "mrr@10"],
                   make_comparable=True)
    # "recall@k" here means: any expected source among the top-k passages' documents.
    return {
        "recall@1": float(doc["hit_rate@1"]), "recall@5": float(doc["hit_rate@5"]),
        "mrr@10": float(doc["mrr@10"]), "ndcg@10": float(doc["ndcg@10"]),
        "passage_hit@1": float(psg["hit_rate@1"]), "passage_hit@5": float(psg["hit_rate@5"]),
        "passage_mrr@10": float(psg["mrr@10"]),
    }


def abstention_metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """Precision/recall of abstaining on unanswerable questions, and false refusals."""
    unans = [o for o in outcomes if not o.item.answerable]
    ans = [o for o in outcomes if o.item.answerable]
    abstained = [o for o in outcomes if o.abstained]
    correct = sum(1 for o in unans if o.abstained)
    return {
        "abstain_precision": correct / len(abstained) if abstained else 1.0,
        "abstain_recall": correct / len(unans) if unans else 1.0,
        "false_abstain_rate": (sum(1 for o in ans if o.abstained) / len(ans)) if ans else 0.0,
    }


def trust_metrics(outcomes: Sequence[Outcome]) -> dict[str, float]:
    """How far an answer can be trusted: precision of what was answered, coverage, AURC."""
    answered = [o for o in outcomes if not o.abstained]
    ans = [o for o in outcomes if o.item.answerable]
    return {
        # answer_hit is False for unanswerable questions, so answering one counts as wrong.
        "answer_precision": (sum(o.answer_hit for o in answered) / len(answered)
                             if answered else 1.0),
        # Same figure as 1 - false_abstain_rate, named for the trust view.
        "coverage": (sum(not o.abstained for o in ans) / len(ans)) if ans else 1.0,
        "aurc": aurc(risk_coverage(outcomes)),
        **tentative_metrics(answered),
    }


def tentative_metrics(answered: Sequence[Outcome]) -> dict[str, float]:
    """Answers shown as sure against those marked tentative (`Answer.tentative`): how often
    each kind was right, and the share of answers marked tentative."""
    sure = [o for o in answered if not o.response.get("tentative")]
    unsure = [o for o in answered if o.response.get("tentative")]
    return {
        "confident_precision": (sum(o.answer_hit for o in sure) / len(sure)) if sure else 1.0,
        "tentative_precision": ((sum(o.answer_hit for o in unsure) / len(unsure))
                                if unsure else 1.0),
        "tentative_share": len(unsure) / len(answered) if answered else 0.0,
    }


def summarise(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """All headline metrics of one run."""
    ans = [o for o in outcomes if o.item.answerable]
    lat = np.array([o.latency_ms for o in outcomes]) if outcomes else np.zeros(1)
    out: dict[str, Any] = {
        "n_questions": len(outcomes),
        "n_unanswerable": len(outcomes) - len(ans),
    }
    out.update(_ranking_metrics(outcomes))
    out["answer_hit"] = (sum(o.answer_hit for o in ans) / len(ans)) if ans else 0.0
    out.update(abstention_metrics(outcomes))
    out.update(trust_metrics(outcomes))
    out["latency_ms_p50"] = float(np.percentile(lat, 50))
    out["latency_ms_p95"] = float(np.percentile(lat, 95))
    floor = np.array([o.floor_ms for o in outcomes]) if outcomes else np.zeros(1)
    out["floor_ms_p50"] = float(np.percentile(floor, 50))
    # Median of per-question ratios: both timings share each question's machine noise.
    ratios = lat / np.maximum(floor, 1e-3)
    out["latency_ratio_p50"] = float(np.percentile(ratios, 50))
    return out


def by_tag(outcomes: Sequence[Outcome]) -> dict[str, dict[str, float]]:
    """Per tag of the eval set (lexical, paraphrase, comment, ...): how many questions, and
    passage_hit@1/@5, answer_hit and false refusals for answerable tags, or the refusal rate
    for unanswerable ones. Averages hide where a change helped; this shows it."""
    tags = sorted({t for o in outcomes for t in o.item.tags})
    out: dict[str, dict[str, float]] = {}
    for tag in tags:
        group = [o for o in outcomes if tag in o.item.tags]
        ans = [o for o in group if o.item.answerable]
        row: dict[str, float] = {"n": len(group)}
        if ans:
            row["passage_hit@1"] = sum(o.hit(o.passage_rank, 1) for o in ans) / len(ans)
            row["passage_hit@5"] = sum(o.hit(o.passage_rank, 5) for o in ans) / len(ans)
            row["answer_hit"] = sum(o.answer_hit for o in ans) / len(ans)
            row["false_abstain_rate"] = sum(o.abstained for o in ans) / len(ans)
        if len(ans) < len(group):
            unans = [o for o in group if not o.item.answerable]
            row["abstain_recall"] = sum(o.abstained for o in unans) / len(unans)
        out[tag] = row
    return out


HEADLINE = ("recall@1", "recall@5", "mrr@10", "ndcg@10", "passage_hit@1", "passage_hit@5",
            "passage_mrr@10", "answer_hit", "abstain_precision", "abstain_recall",
            "false_abstain_rate", "answer_precision", "coverage", "aurc",
            "confident_precision", "tentative_precision", "tentative_share", "latency_ms_p50",
            "latency_ms_p95", "floor_ms_p50", "latency_ratio_p50")
