"""`rag eval --against`: before/after on the same questions, with paired tests."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import TINY_EVAL_ROWS

from evals.against import ReportError, compare_reports, load_report, mcnemar
from ui.cli import main


def _row(qid: str, answerable: bool = True, hit1: bool = False, hit5: bool = False,
         answer: bool = False, abstained: bool = False) -> dict[str, Any]:
    return {"id": qid, "question": f"question {qid}?", "answerable": answerable,
            "passage_hit@1": hit1, "passage_hit@5": hit5, "answer_hit": answer,
            "abstained": abstained}


def _report(rows: list[dict[str, Any]], **settings: Any) -> dict[str, Any]:
    return {"per_question": rows, "settings": {"mode": "hybrid", "rrf_k": 10, **settings},
            "manifest": {"model": "m"}}


def test_mcnemar_counts_flips_both_ways() -> None:
    t = mcnemar([True, True, False, False, True], [True, False, True, True, True])
    assert (t["fixed"], t["broken"]) == (2, 1)
    assert 0.0 < t["p_value"] <= 1.0 and not t["significant"]
    assert mcnemar([True], [True]) == {"fixed": 0, "broken": 0, "p_value": 1.0,
                                       "significant": False}
    many = mcnemar([False] * 12, [True] * 12)
    assert many["fixed"] == 12 and many["significant"]


def test_compare_reports_lists_fixed_and_broken_questions() -> None:
    old = _report([_row("a", hit1=True, hit5=True, answer=True), _row("b"),
                   _row("u", answerable=False, abstained=False), _row("gone")])
    new = _report([_row("a", hit5=True), _row("b", hit5=True, answer=True),
                   _row("u", answerable=False, abstained=True), _row("new")], rrf_k=60)
    result = compare_reports(old, new)
    assert result["questions"] == {"shared": 3, "only_before": ["gone"], "only_after": ["new"]}
    changes = {r["id"]: r["changes"] for r in result["changed_questions"]}
    assert changes["a"] == {"passage_hit@1": [True, False], "answer_hit": [True, False]}
    assert changes["b"] == {"passage_hit@5": [False, True], "answer_hit": [False, True]}
    assert changes["u"] == {"refused_right": [False, True]}
    assert result["tests"]["answer_hit"]["fixed"] == 1
    assert result["tests"]["answer_hit"]["broken"] == 1
    # Unanswerable questions count only for refusals.
    assert result["tests"]["passage_hit@5"]["fixed"] == 1
    assert result["settings_changed"] == {"rrf_k": [10, 60]}
    assert result["index_changed"] == {}


def test_reports_that_cannot_be_compared(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="report not found"):
        load_report(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="cannot read report"):
        load_report(bad)
    bad.write_text(json.dumps({"modes": {}}), encoding="utf-8")
    with pytest.raises(ReportError, match="no per_question"):
        load_report(bad)
    with pytest.raises(ReportError, match="none of these question ids"):
        compare_reports(_report([_row("x")]), _report([_row("y")]))


def test_cli_compares_a_run_with_a_saved_report(tiny_corpus: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    eval_set = tmp_path / "set.jsonl"
    eval_set.write_text("\n".join(json.dumps(r) for r in TINY_EVAL_ROWS), encoding="utf-8")
    common = ["--eval-set", str(eval_set), "--corpus", str(tiny_corpus), "--model", "hash"]
    saved = tmp_path / "before.json"
    assert main(["eval", *common, "--out", str(saved), "--json"]) == 0
    capsys.readouterr()

    assert main(["eval", *common, "--against", str(saved)]) == 0
    out = capsys.readouterr().out
    assert "before" in out and "after" in out and "0 questions changed" in out

    doctored = copy.deepcopy(json.loads(saved.read_text(encoding="utf-8")))
    row = next(r for r in doctored["per_question"] if r["id"] == "b1")
    row["passage_hit@5"] = not row["passage_hit@5"]
    saved.write_text(json.dumps(doctored), encoding="utf-8")
    assert main(["eval", *common, "--against", str(saved), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["id"] for r in result["changed_questions"]] == ["b1"]

    assert main(["eval", *common, "--against", str(tmp_path / "nope.json")]) == 2
    assert "report not found" in capsys.readouterr().err
    assert main(["eval", *common, "--against", str(saved), "--compare"]) == 2
