"""The two-turn follow-up cases of `rag eval` (evals/followups.jsonl): each second turn asked
with its earlier question as history, and again without it, so the gain is visible.

Reported apart from the main eval set, whose figures these cases never touch."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.evalset import EvalItem, load_eval_set
from evals.runner import Outcome, run_items
from rag.pipeline import Pipeline


def _rate(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def summarise_followups(with_history: Sequence[Outcome],
                        without_history: Sequence[Outcome]) -> dict[str, Any]:
    """Answer hit rate of the answerable second turns, with and without their history; how
    many were read as follow-ups; and refusals of the unanswerable ones."""
    def answerable(outs: Sequence[Outcome]) -> list[Outcome]:
        return [o for o in outs if o.item.answerable]

    def refused_right(outs: Sequence[Outcome]) -> float:
        return _rate([o.abstained for o in outs if not o.item.answerable])

    return {
        "n_cases": len(with_history),
        "n_answerable": len(answerable(with_history)),
        "followup_hit": round(_rate([o.answer_hit for o in answerable(with_history)]), 4),
        "followup_hit_without_history": round(
            _rate([o.answer_hit for o in answerable(without_history)]), 4),
        "read_as_followup": round(
            _rate([o.response.get("followup_of") is not None for o in with_history]), 4),
        "abstain_recall": round(refused_right(with_history), 4),
        "abstain_recall_without_history": round(refused_right(without_history), 4),
        "per_question": [
            {**w.to_dict(), "history": list(w.item.history),
             "followup_of": w.response.get("followup_of"),
             "answer_hit_without_history": wo.answer_hit,
             "abstain_reason_without_history": wo.response.get("abstain_reason")}
            for w, wo in zip(with_history, without_history, strict=True)],
    }


def run_followups(pipeline: Pipeline, path: Path, mode: str,
                  progress: bool = True) -> dict[str, Any]:
    """Load and run the follow-up cases at `path`; the `followups` section of the report."""
    documents = {d.id: d.text for d in pipeline.documents.values()}
    items: list[EvalItem] = load_eval_set(path, documents)
    with_history = run_items(pipeline, items, mode, progress=progress)
    alone = [dataclasses.replace(it, history=()) for it in items]
    without_history = run_items(pipeline, alone, mode, progress=progress)
    return {"eval_set": str(path), **summarise_followups(with_history, without_history)}


def format_followups(section: dict[str, Any]) -> str:
    """The follow-up figures as a few lines under the main table."""
    return "\n".join([
        f"Follow-ups ({section['n_cases']} two-turn cases, {section['n_answerable']} answerable, "
        f"from {Path(section['eval_set']).name}):",
        f"  followup_hit                   {section['followup_hit']:.3f}  "
        "(second turn asked with its earlier question)",
        f"  followup_hit_without_history   {section['followup_hit_without_history']:.3f}  "
        "(the same second turn asked alone)",
        f"  read_as_followup               {section['read_as_followup']:.3f}",
        f"  abstain_recall                 {section['abstain_recall']:.3f}  "
        f"(without history {section['abstain_recall_without_history']:.3f})",
    ])
