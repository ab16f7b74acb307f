"""The reader's answer-cut pairs: the answer sentence without its answer, and a control."""

from __future__ import annotations

import random
import re

from hypothesis import given
from hypothesis import strategies as st

from evals.reader_data import SquadQuestion, answer_cut_pairs, without_span
from index.chunking import sentences

WORD = re.compile(r"\w+")
DANGLING = {"in", "on", "at", "by", "of", "from", "to", "for", "with", "during", "about",
            "as", "than", "since", "until", "into", "the", "a", "an"}


def test_the_cut_takes_the_words_left_dangling_and_mends_the_punctuation() -> None:
    text = "Einstein was born in Ulm in 1879."
    assert without_span(text, 21, 24) == "Einstein was born in 1879."
    text = "Sky picked up the remaining four for £1.3bn."
    assert without_span(text, 37, 43) == "Sky picked up the remaining four."
    text = "It was renamed Sky UK Limited, still trading as Sky."
    assert without_span(text, 15, 29) == "It was renamed, still trading as Sky."


@given(st.lists(st.sampled_from(["in", "the", "Ulm", "born", "1879", ",", ".", "was",
                                 "of", "Sky", "(", ")"]), min_size=1, max_size=14),
       st.data())
def test_the_cut_keeps_every_word_but_the_cut_ones_and_their_function_words(
        words: list[str], data: st.DataObject) -> None:
    text = " ".join(words)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    # A cut falls between words, as the pairs cut whole answers and whole words.
    start = text.rfind(" ", 0, start) + 1 if start else 0
    end = text.find(" ", end) if text.find(" ", end) >= 0 else len(text)
    before = text[:start].split()
    while before and before[-1].lower() in DANGLING:
        before.pop()
    assert (WORD.findall(without_span(text, start, end))
            == WORD.findall(" ".join(before)) + WORD.findall(text[end:]))


def _question(text: str, question: str, answer: str) -> SquadQuestion:
    start = text.index(answer)
    spans = tuple(sentences(text))
    sent = next(i for i, (s, e) in enumerate(spans) if s <= start < e)
    return SquadQuestion("1", "A", question, text, spans, frozenset({sent}), False,
                         ((start, start + len(answer)),))


def test_answer_cut_pairs_remove_the_answer_from_the_negative_only() -> None:
    q = _question("The railway opened in 1825. It ran from Stockton to Darlington in the "
                  "north of England.", "Where did the railway run to?", "Darlington")
    neg, pos = answer_cut_pairs([q], random.Random(0))
    assert (neg.label, pos.label) == (0.0, 1.0)
    assert neg.text == "It ran from Stockton in the north of England."
    assert "Darlington" in pos.text and pos.text != q.context[28:]
    assert len(WORD.findall(pos.text)) < len(WORD.findall(q.context[28:]))


def test_impossible_questions_and_answers_that_leave_too_little_give_no_pairs() -> None:
    q = _question("Sky won.", "Who won?", "Sky")
    assert answer_cut_pairs([q], random.Random(0)) == []
    impossible = SquadQuestion("2", "A", "Who lost?", "Sky won the race.", ((0, 17),),
                               frozenset({0}), True)
    assert answer_cut_pairs([impossible], random.Random(0)) == []
