"""The regression gate: the shipped eval set must not fall below the committed baseline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.evalset import DEFAULT_EVAL_SET, load_eval_set
from evals.metrics import summarise
from evals.runner import run_items
from rag.pipeline import Pipeline
from rag.settings import Settings

BASELINE = Path(__file__).resolve().parents[1] / "evals" / "baseline.json"
GATED = ("passage_hit@5", "answer_hit", "abstain_recall")


@pytest.mark.slow
def test_shipped_eval_set_does_not_regress(data_dir: Path) -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    margin = baseline["margin"]
    pipeline = Pipeline.open(Settings.load(), progress=False)
    items = load_eval_set(DEFAULT_EVAL_SET, {d.id: d.text for d in pipeline.documents.values()})
    metrics = summarise(run_items(pipeline, items, baseline["mode"], progress=False))
    failures = [f"{m}: {metrics[m]:.3f} < baseline {baseline['metrics'][m]:.3f} - {margin}"
                for m in GATED if metrics[m] < baseline["metrics"][m] - margin]
    assert not failures, "retrieval regressed: " + "; ".join(failures)
