"""Greetings and thanks are not questions (rag/smalltalk.py)."""

from __future__ import annotations

import pytest
from pipeline_helpers import tiny_pipeline

from rag.pipeline import Pipeline
from rag.smalltalk import SMALL_TALK, is_small_talk
from ui.render import render_answer


@pytest.mark.parametrize("message", [
    "hello", "Hi there!", "Good morning", "Thanks!", "thank you, that helps",
    "thanks a lot, bye", "ok", "Cheers, that was useful",
    "Who are you?", "What can you do?", "Are you a bot?",   # about the assistant
])
def test_greetings_thanks_and_goodbyes_are_small_talk(message: str) -> None:
    assert is_small_talk(message)


@pytest.mark.parametrize("message", [
    "Thanks, and what did Lenin argue?",   # a word of its own: a question
    "Hello, who was Lenin?",
    "What is good?",                       # no greeting, thanks or goodbye
    "great",
    "Can you help me with my essay on bees?",
    "Why do you say that?",                # a follow-up, not about the assistant
    "How do bees make honey?",
    "",
])
def test_a_message_with_a_question_in_it_is_not(message: str) -> None:
    assert not is_small_talk(message)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    # The threshold is off (-1): without the rule, "Thanks!" would get a quote.
    return tiny_pipeline(tmp_path_factory.mktemp("rag-data"), abstain_threshold=-1.0)


def test_thanks_is_refused_with_the_reason_and_nothing_related(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Thanks!", history=["How do bees make honey?"])
    assert answer.abstained and answer.abstain_reason == SMALL_TALK
    assert not answer.citations and not answer.passages and answer.followup_of is None
    assert answer.text == SMALL_TALK  # not "The readings don't seem to answer this."
    html = render_answer(answer.to_dict(), pipeline.documents)
    assert "Not a question" in html and "Not in the readings" not in html


def test_a_follow_up_after_thanks_points_back_at_the_real_question(pipeline: Pipeline) -> None:
    answer = pipeline.ask("And when?", history=["When did Mount Vesuvius bury Pompeii?",
                                                "thanks!"])
    assert answer.followup_of == "When did Mount Vesuvius bury Pompeii?"
    assert not answer.abstained and "79" in answer.citations[0].quote
