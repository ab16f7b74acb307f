"""`python -m evals.wrap_bench`: answer sentences of hard-wrapped text stay quotable whole."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_chunking import PROSE

from evals.wrap_bench import main, measure, measure_pages


def _squad(tmp_path: Path) -> Path:
    start = PROSE.index("Lenin argued")
    data = {"data": [{"title": "T", "paragraphs": [{"context": PROSE, "qas": [
        {"id": "1", "question": "What did Lenin argue?",
         "answers": [{"text": "Lenin argued", "answer_start": start}]}]}]}]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_wrapped_answer_sentence_is_quotable_whole(tmp_path: Path) -> None:
    report = measure(_squad(tmp_path), width=45, sample=10, seed=1)
    assert report == {"width": 45, "paragraphs": 1, "answer_sentences": 1,
                      "quotable_whole": 1.0}


def test_an_answer_sentence_across_a_page_break_is_quotable_whole(tmp_path: Path) -> None:
    # Two lines a page: the answer sentence runs from one page on to the next, between a
    # page number and a running header.
    report = measure_pages(_squad(tmp_path), width=45, per_page=2, sample=10, seed=1)
    assert report["pages"] >= 3 and report["answer_sentences"] == 1
    assert report["quotable_whole"] == 1.0 and report["units_with_header"] == 0


def test_cli_prints_one_line_per_width_and_refuses_a_missing_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(_squad(tmp_path)), "--width", "50", "--width", "80"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["width"] for line in lines] == [50, 80]
    assert main([str(_squad(tmp_path)), "--width", "50", "--page-lines", "3"]) == 0
    assert json.loads(capsys.readouterr().out)["page_lines"] == 3
    assert main([str(tmp_path / "missing.json")]) == 2
    assert capsys.readouterr().err.startswith("error: no such file")
