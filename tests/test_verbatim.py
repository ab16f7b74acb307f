"""End to end with the real bundled model over the default corpus: every citation is
verbatim at its offsets, the acceptance questions behave, and reader comments are credited
to their writers. Slow: the model loads once per module."""

from __future__ import annotations

import os

import pytest

from corpus.collection import DEFAULT_CORPUS_DIR
from rag.pipeline import Pipeline
from rag.quotemarks import enclose
from rag.settings import Settings
from rag.types import Answer

pytestmark = pytest.mark.slow

LIH = "lih-all-power-to-the-soviets"

QUESTIONS = [
    "What does dvoevlastie translate to in English?",
    "Who first used the term dual power?",
    "What did Proudhon advocate as an alternative to capitalism?",
    "How does Beyond Resistance define dual power in its strategy paper?",
    "What organisation was Tom Wetzel part of?",
    "What were the soviets?",
    "What did Lenin say the state is?",
    "What does the Russian word sovet mean?",
    "When did Rheta Childe Dorr arrive in Russia?",
    "What was Order Number One issued by the Petrograd Soviet?",
    "What did the Old Bolshevik scenario say about the revolution?",
    "When did the slogan all power to the soviets first appear?",
    "When was State and Revolution published?",
    "Why did the Provisional Government want a Constituent Assembly?",
    "Who made up the Provisional Government?",
    "What did Mikhail Kalinin say about Lenin's April Theses?",
    "What did Sandino say about the workers and peasants going all the way to the end?",
    "What happened to the Kronstadt soviet in March 1921?",
    "Why do revolutionary anarchists not use dual power as a label for their strategy?",
    "What did Leon Trotsky argue about dual power in revolutionary situations?",
]
COMMENT_QUESTIONS = QUESTIONS[16:18]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    root = tmp_path_factory.mktemp("verbatim")
    empty_config = root / "rag.toml"
    empty_config.write_text("", encoding="utf-8")
    # The autouse data_dir fixture is per test; this module-wide index gets explicit paths.
    settings = Settings.load(config=empty_config, env={}, corpus=str(DEFAULT_CORPUS_DIR),
                             index=str(root / "index"), data_dir=str(root / "data"))
    assert settings.model == "all-MiniLM-L6-v2"
    return Pipeline.open(settings, status=lambda _msg: None, progress=False)


@pytest.fixture(scope="module")
def answers(pipeline: Pipeline) -> dict[str, Answer]:
    return {q: pipeline.ask(q) for q in QUESTIONS}


def _assert_verbatim(pipeline: Pipeline, answer: Answer) -> None:
    for c in answer.citations:
        doc = pipeline.documents[c.doc_id]
        assert doc.text[c.start:c.end] == c.quote, (answer.question, c)
        assert c.quote and c.quote == c.quote.strip()
        # A quote lies in a returned passage, or starts there with a lead-in ending it and
        # runs on into what the lead-in announces (`complete_lead_in`).
        sources = [h.passage for h in answer.passages
                   if h.passage.doc_id == c.doc_id and h.passage.start <= c.start
                   and (c.end <= h.passage.end
                        or doc.text[c.start:h.passage.end].rstrip().endswith(":"))]
        assert sources, f"quote {c.quote!r} is in none of the returned passages"
        # Within its passage, or the passage's tail (the lead-in) followed by the rest.
        assert any(c.quote in p.text or (c.end > p.end and c.quote.startswith(
            p.text[c.start - p.start:].rstrip())) for p in sources)
        assert (c.passage_start, c.passage_end) in {(p.start, p.end) for p in sources}
        author, role = doc.author_at(c.start)
        assert (c.author, c.role) == (author, role)


def test_twenty_questions_cite_verbatim(pipeline: Pipeline, answers: dict[str, Answer]) -> None:
    assert len(QUESTIONS) == 20
    answered = 0
    for answer in answers.values():
        _assert_verbatim(pipeline, answer)
        if not answer.abstained:
            answered += 1
            assert answer.citations
            assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
            for c in answer.citations:
                assert f"{enclose(c.quote, spaced=False)} [{c.n}]" in answer.text
        data = answer.to_dict()
        for c, d in zip(answer.citations, data["citations"], strict=True):
            assert (d["quote"], d["start"], d["end"]) == (c.quote, c.start, c.end)
    # These are all answerable from the readings; most of them must be answered.
    assert answered >= 15, answered


def test_dvoevlastie_is_double_sovereignty(answers: dict[str, Answer]) -> None:
    answer = answers["What does dvoevlastie translate to in English?"]
    assert not answer.abstained
    assert any(c.doc_id == "redpepper-dual-power" and "double sovereignty" in c.quote
               for c in answer.citations), [(c.doc_id, c.quote) for c in answer.citations]


def test_world_cup_abstains(pipeline: Pipeline) -> None:
    answer = pipeline.ask("Who won the 2018 FIFA World Cup?")
    assert answer.abstained
    assert answer.citations == ()
    assert answer.passages  # closest passages are still offered as "possibly related"
    assert answer.text.startswith("The readings don't seem to answer this.")
    assert answer.abstain_reason == "They never mention “FIFA” or “2018”."


def test_reader_comments_are_credited_to_commenters(pipeline: Pipeline,
                                                    answers: dict[str, Answer]) -> None:
    lih = pipeline.documents[LIH]
    comments_start = min(a.start for a in lih.attributions)
    commenters = {a.author for a in lih.attributions}
    from_comments = []
    for answer in answers.values():
        for c in answer.citations:
            if c.doc_id == LIH and c.start >= comments_start:
                from_comments.append(c)
                assert c.author in commenters and c.author != "Lars T. Lih", c
                assert c.role == "reader comment", c
            elif c.doc_id == LIH:
                assert (c.author, c.role) == ("Lars T. Lih", None), c
    cited = {c.author for q in COMMENT_QUESTIONS for c in answers[q].citations
             if c.doc_id == LIH and c.start >= comments_start}
    assert from_comments and cited, "no comment question was answered from the comments"
