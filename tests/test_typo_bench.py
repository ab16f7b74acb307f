"""`python -m evals.typo_bench`: the typos it makes, and its command line."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rapidfuzz.distance import DamerauLevenshtein

from evals.reader_data import SquadQuestion
from evals.typo_bench import main, misspelt, typo


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABC", min_size=2, max_size=15),
       st.integers(0, 10_000))
def test_a_typo_is_one_edit(word: str, seed: int) -> None:
    assert DamerauLevenshtein.distance(word, typo(word, random.Random(seed))) == 1


def test_only_a_longer_word_of_the_article_is_misspelt() -> None:
    q = SquadQuestion(id="1", article="A", question="Who built the railway in Stockton?",
                      context="", sentences=(), answer_sentences=frozenset(), impossible=False)
    vocab = frozenset({"railway", "stockton", "built"})
    for seed in range(20):
        out = misspelt(q, vocab, random.Random(seed))
        assert out is not None and out != q.question
        changed = [w for w, v in zip(out.split(), q.question.split(), strict=True) if w != v]
        assert len(changed) == 1 and changed[0].strip("?").lower() not in {"who", "the", "in"}
    assert misspelt(q, frozenset({"who"}), random.Random(0)) is None


def test_cli_refuses_a_missing_file_in_one_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no such file: {tmp_path / 'nope.json'}"
