"""`rag eval --calibrate` with question sets pooled (`--calibrate-with`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from pipeline_helpers import TINY_EVAL_ROWS

from evals.cli import _calibration_sets
from evals.evalset import DEFAULT_DEV_SET
from ui.cli import main


def _write(path: Path, rows: list[dict]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    return path


def test_the_dev_set_is_pooled_only_with_the_shipped_eval_set() -> None:
    def sets(**kw: object) -> list[Path]:
        return _calibration_sets(argparse.Namespace(**({"eval_set": None} | kw)))

    assert sets() == [DEFAULT_DEV_SET]
    # Another eval set is written for other readings: the dev set would not load there.
    assert sets(eval_set="mine.jsonl") == []
    assert sets(calibrate_with=["x.jsonl", "y.jsonl"]) == [Path("x.jsonl"), Path("y.jsonl")]
    assert sets(calibrate_with=["none"]) == []


def test_calibrating_on_pooled_sets_reports_each(tiny_corpus: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    first = _write(tmp_path / "first.jsonl", TINY_EVAL_ROWS)
    second = _write(tmp_path / "second.jsonl", [
        {"id": "s-b1", "question": "What do honey bees collect?",
         "expected_sources": ["bees"], "expected_quote": "Honey bees collect nectar"},
        {"id": "s-u1", "question": "Who ruled Pompeii?", "expected_sources": [],
         "expected_quote": None}])
    out = tmp_path / "calibration.json"
    common = ["--eval-set", str(first), "--corpus", str(tiny_corpus), "--model", "hash"]
    assert main(["eval", *common, "--calibrate", "--calibrate-with", str(second),
                 "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "first.jsonl (3 questions)" in printed and "second.jsonl (2 questions)" in printed
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert saved["question_sets"] == {"first.jsonl": 3, "second.jsonl": 2}
    assert saved["n_questions"] == 5 and saved["n_unanswerable"] == 2
    assert saved["abstain_threshold_fitted_on"] == ["first.jsonl"]
    assert saved["confident_threshold_fitted_on"] == ["first.jsonl", "second.jsonl"]
    by_set = saved["cross_validation"]["by_set"]
    assert set(by_set) == {"first.jsonl", "second.jsonl"}
    assert by_set["second.jsonl"]["n_questions"] == 2
    assert {"abstain_threshold", "confident_threshold"} <= set(saved["settings"])

    # The same set twice shares its ids: one line, no traceback, nothing written.
    out.unlink()
    assert main(["eval", *common, "--calibrate", "--calibrate-with", str(first),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "share question ids" in err and "Traceback" not in err
    assert not out.exists()

    # Without --calibrate it would be ignored: say so instead.
    assert main(["eval", *common, "--calibrate-with", str(first)]) == 2
    assert "only goes with --calibrate" in capsys.readouterr().err
