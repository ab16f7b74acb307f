"""Run several retrieval modes on the same questions and test whether they differ."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evals.runner import Outcome


def significance(by_mode: Mapping[str, Sequence[Outcome]]) -> dict[str, Any]:
    """Paired randomization (Fisher) tests between modes on passage-level ranking, via ranx."""
    from ranx import Qrels, Run, compare

    modes = list(by_mode)
    first = by_mode[modes[0]]
    answerable = [i for i, o in enumerate(first) if o.item.answerable]
    qrels: dict[str, dict[str, int]] = {}
    for i in answerable:
        rel: set[str] = set()
        for outs in by_mode.values():  # relevant = quote-bearing passages any mode found
            rel |= outs[i].relevant_passages
        qrels[first[i].item.id] = {p: 1 for p in rel} or {"<not retrieved>": 1}
    runs = []
    for mode, outs in by_mode.items():
        run = {outs[i].item.id: ({p: 1.0 / r for r, p in enumerate(outs[i].passage_ids, 1)}
                                 or {"<nothing>": 0.0}) for i in answerable}
        runs.append(Run(run, name=mode))
    result = compare(Qrels(qrels), runs=runs, metrics=["hit_rate@1", "hit_rate@5", "mrr@10"],
                     stat_test="fisher", max_p=0.05, make_comparable=True, random_seed=42)
    d = result.to_dict()
    return {
        "test": "paired randomization (Fisher), ranx, p < 0.05, passage level",
        "table": str(result),
        "p_values": {f"{a} vs {b}": {m: float(v) for m, v in d[a]["comparisons"][b].items()}
                     for a in modes for b in modes if a < b},
    }


def differing_questions(by_mode: Mapping[str, Sequence[Outcome]]) -> list[dict[str, Any]]:
    """Questions whose outcome (passage hit@5, answer hit or abstention) differs by mode."""
    modes = list(by_mode)
    rows = []
    for i, o in enumerate(by_mode[modes[0]]):
        outcome = {m: {"passage_hit@5": by_mode[m][i].hit(by_mode[m][i].passage_rank, 5),
                       "answer_hit": by_mode[m][i].answer_hit,
                       "abstained": by_mode[m][i].abstained} for m in modes}
        if len({tuple(v.values()) for v in outcome.values()}) > 1:
            rows.append({"id": o.item.id, "question": o.item.question, "outcomes": outcome})
    return rows
