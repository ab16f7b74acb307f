"""Evidence checks: names the readings never use, the kind of answer a question wants, and
the months it asks about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pipeline_helpers import tiny_pipeline

from index.lexicon import words_of
from rag.evidence import (
    Demands,
    answer_kind,
    asked_months,
    gives,
    other_months,
    shares_no_word,
    unknown_names,
    unknown_years,
)
from rag.pipeline import Pipeline, QuestionError, validate_question
from rag.settings import Settings

VOCAB = words_of(["Lenin returned to Petrograd in April. Kamenev drafted the editorial.",
                    "The Brest treaty."])


@pytest.mark.parametrize(("question", "unknown"), [
    ("What did Lenin say in April?", []),
    ("What did Makhno say?", ["Makhno"]),
    ("What did Makhno's army do in Ukraine?", ["Makhno", "Ukraine"]),
    ("Makhno? What did he say?", []),                # the first word is capitalised anyway
    ("What did Kamanev draft?", []),                 # a close spelling of a known name
    ("What did Lenin's comrades think?", []),        # possessive of a known name
    ("What were the terms of Brest-Litovsk?", ["Brest-Litovsk"]),  # one half unknown
    ("what did makhno say?", []),                    # no capitals: nothing to go on
    ("Did Lenin meet Ed in the USSR?", ["USSR"]),    # two letters are too few to decide
    ("Why did “Zimmerwald” matter?", ["Zimmerwald"]),
])
def test_unknown_names(question: str, unknown: list[str]) -> None:
    assert unknown_names(question, VOCAB) == unknown


@pytest.mark.parametrize(("question", "none"), [
    ("What did Lenin say in April?", False),
    ("Что такое двоевластие?", True),                # another language
    ("Quelle est la capitale?", True),
    ("What is photosynthesis?", True),               # another subject entirely
    ("What did Lennin draft?", False),               # a close spelling of a known word
    ("What is it?", False),                          # only stopwords: nothing to go on
    ("What about photosynthesis in April?", False),  # one known word is enough
])
def test_shares_no_word(question: str, none: bool) -> None:
    assert shares_no_word(question, VOCAB) is none


@pytest.mark.parametrize("question", ["?", "...", " ?! ", "—", "__"])
def test_a_question_without_a_letter_or_digit_is_bad_input(question: str) -> None:
    with pytest.raises(QuestionError, match="^question has no words$"):
        validate_question(question)


@pytest.mark.parametrize("question", ["1917?", "Lenin", "Что?"])
def test_a_question_with_a_letter_or_digit_is_asked(question: str) -> None:
    validate_question(question)  # does not raise


@pytest.mark.parametrize(("question", "kind"), [
    ("When did Lenin return?", "time"),
    ("In which year was the slogan first used?", "time"),
    ("On what date was the editorial published?", "time"),
    ("How many governments were there?", "quantity"),
    ("What share of the vote did they win?", "quantity"),
    ("What was the population of Petrograd?", "quantity"),
    ("How long did she stay in Russia?", "duration"),
    ("How long is the Rhine?", "duration"),
    ("How much influence did the Bolsheviks have?", None),  # a degree, not a number
    ("How tall was Trotsky?", "quantity"),                  # a measure
    ("How old was Lenin in 1917?", "quantity"),
    ("How large was the Petrograd garrison?", "quantity"),
    ("How far did the news travel?", None),                 # answered in words too
    ("Who drafted the editorial?", None),
    ("Why did the slogan matter when it was issued?", None),
])
def test_answer_kind(question: str, kind: str | None) -> None:
    assert answer_kind(question) == kind


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("He returned in April, after the February days.", "time", True),
    ("It began in the spring of 1918.", "time", True),
    ("The soviets may take power.", "time", False),   # the modal "may" is not a month
    ("He returned after a long journey.", "time", False),
    ("There were in fact two governments.", "quantity", True),
    ("Over 1,500 delegates came.", "quantity", True),
    ("The elections were held in 1917.", "quantity", False),  # a year is not a count
    ("Bolshevik influence was very small.", "quantity", False),
    # A list item's or a note's number is not an answer.
    ("2. Lars T. Lih wrote that the slogan mattered.", "quantity", False),
    ("3) The government was formed by liberals.", "time", False),
    ("The soviets kept power.[12]", "quantity", False),
    ("2. It won 24 percent of the vote.", "quantity", True),
    ("3. It met in March.", "time", True),
    ("2.5 million workers struck.", "quantity", True),
    # Nor is a cited page, or a page reference closing a quotation.
    ("Every town has its council, which settles every question” (10, 19).", "quantity", False),
    ("As cited in Lih, Ironic Triumph, p. 222.", "quantity", False),
    ("She knew it would need bloodshed (pp. 34, 38).", "quantity", False),
    ("Twelve of the council (12 in all) voted.", "quantity", True),
    ("She wrote “it met daily” (p. 10) and counted 300 delegates.", "quantity", True),
    # A day of the month is a date, not a count.
    ("They held power up to the revolution in November 7 in 1917.", "quantity", False),
    ("It took place on 27 February 1917, the 3rd of March.", "quantity", False),
    ("Over 1,500 delegates came on 3 May.", "quantity", True),
    ("She stayed in Russia only until the end of August.", "duration", True),
    ("The talks lasted three weeks.", "duration", True),
    ("The river is 1,230 km long.", "duration", True),
    ("The new world is built while fighting the current one.", "duration", False),
    ("Worker bees fan their wings over the honey.", "duration", False),
])
def test_gives(text: str, kind: str, expected: bool) -> None:
    assert gives(text, kind) is expected


@pytest.mark.parametrize(("question", "months"), [
    ("What happened in July 1917?", ("July",)),
    ("What did the Bolsheviks do in April and June?", ("April", "June")),
    ("What happened after July?", ()),              # a time relative to the month
    ("What changed between February and October?", ()),
    ("May the soviets take power?", ()),            # a first "May" is the verb
    ("What did Lenin say in April? And in July?", ("July",)),  # the follow-up decides
    ("What happened in July? And the soldiers?", ("July",)),   # ...when it names one
    ("What did the soviets do?", ()),
])
def test_asked_months(question: str, months: tuple[str, ...]) -> None:
    assert asked_months(question) == months


@pytest.mark.parametrize(("text", "expected"), [
    ("On 27 February 1917 the tsarist vlast collapsed.", True),
    ("In April, June and most dramatically in July, the workers rose.", False),
    ("The workers rose again.", False),              # no month: it may be about July
    ("May it be so.", False),                        # a first "May" is not a month
])
def test_other_months(text: str, expected: bool) -> None:
    assert other_months(text, ("July",)) is expected


def test_demands_join_the_kind_and_the_months() -> None:
    demands = Demands.of("When in July did the workers rise?")
    assert demands == Demands("time", ("July",), counts_time=False) and demands
    assert demands.met_by("They rose on 3 July.", "They rose on 3 July.")
    assert not demands.met_by("They rose again.", "They rose again.")           # no date
    assert not demands.met_by("They rose in 1917.", "In February they rose in 1917.")
    assert not Demands.of("Why did the workers rise?")
    assert Demands.of("What happened in July?").unmet() == (
        "None of the closest passages is about “July”.")
    assert demands.unmet() == "None of the closest passages gives a date."


def test_unknown_years() -> None:
    vocab = words_of(["The slogan of 1917 (not 1920s, nor 1,905) was new.", "In 1905, too."])
    assert {"1917", "1905"} <= vocab and "1920" not in vocab
    assert unknown_years("What happened in 1917 and in 2015?", vocab) == ["2015"]
    assert unknown_years("What happened in 1905?", vocab) == []
    assert unknown_years("What happened in the 1930s?", vocab) == []   # a decade
    assert unknown_years("Who wrote issue 2577?", vocab) == []         # not a year
    # An index stored before years were kept: no year counts as unknown.
    assert unknown_years("What happened in 2015?", words_of(["The slogan was new."])) == []


def test_a_question_about_a_year_the_readings_never_name_is_refused(
        pipeline: Pipeline) -> None:
    answer = pipeline.ask("What did the high-speed trains in Japan do in 1990?")
    assert answer.abstained and answer.abstain_reason == "They never mention “1990”."
    assert not pipeline.ask("What did the high-speed trains in Japan do in 1964?").abstained


@pytest.mark.parametrize(("text", "counts_time", "expected"), [
    ("In March 1921, half a year after the war, the base was crushed.", False, False),
    ("Her outlook was a peculiar one.", False, False),
    ("The current one will fall within two weeks.", False, False),
    ("In March 1921, half a year after the war, the base was crushed.", True, True),
    ("Over 1,500 delegates came within two weeks.", False, True),
    ("One delegate in three was a Bolshevik.", False, True),
])
def test_a_length_of_time_is_no_count_unless_time_is_counted(
        text: str, counts_time: bool, expected: bool) -> None:
    assert gives(text, "quantity", counts_time) is expected


def test_an_age_may_be_a_length_of_time() -> None:
    old = Demands.of("How old was Lenin in 1917?")
    assert old.kind == "quantity" and old.met_by("Lenin was then 47 years old.", "")
    tall = Demands.of("How tall was Trotsky?")
    assert tall.met_by("He stood six feet tall.", "")
    assert not tall.met_by("Trotsky argued for soviet power for half a year.", "")


def test_a_question_counting_time_may_be_answered_by_a_length_of_time() -> None:
    assert Demands.of("How many years did the war last?").counts_time
    assert not Demands.of("How many Bolsheviks sat in the Soviet?").counts_time
    delegates = Demands.of("How many delegates came?")
    assert not delegates.met_by("It lasted half a year.", "It lasted half a year.")
    assert delegates.met_by("Some 1,500 delegates came.", "Some 1,500 delegates came.")


def test_gives_rejects_an_unknown_kind() -> None:
    with pytest.raises(ValueError):
        gives("text", "colour")


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return tiny_pipeline(tmp_path_factory.mktemp("rag-data"), abstain_threshold=-1.0)


def test_a_question_about_an_unknown_name_is_refused_with_the_reason(pipeline: Pipeline) -> None:
    # The threshold is off (-1): only the check can refuse.
    answer = pipeline.ask("How did Krakatoa erupt compared with Vesuvius?")
    assert answer.abstained and not answer.citations
    assert answer.abstain_reason == "They never mention “Krakatoa”."
    data = answer.to_dict()
    assert data["abstain_reason"] == answer.abstain_reason
    assert data["answer"].endswith("They never mention “Krakatoa”.")
    assert data["passages"]  # still offered as possibly related


def test_a_question_in_words_the_readings_never_use_is_refused_with_the_reason(
        pipeline: Pipeline) -> None:
    answer = pipeline.ask("Как извергался вулкан?")  # the threshold is off: only the check
    assert answer.abstained and not answer.citations
    assert answer.abstain_reason == "They use none of the question's words."
    assert answer.to_dict()["passages"]


def test_a_when_question_is_answered_with_a_sentence_that_has_a_date(pipeline: Pipeline) -> None:
    answer = pipeline.ask("When did the volcano bury the town under ash?")
    assert not answer.abstained and answer.abstain_reason is None
    assert all(gives(c.quote, "time") for c in answer.citations)
    assert "79" in answer.citations[0].quote


def test_a_how_long_question_without_a_length_of_time_nearby_is_refused(
        tmp_path: Path) -> None:
    narrow = tiny_pipeline(tmp_path, abstain_threshold=-1.0, k=1, rerank_depth=1)
    answer = narrow.ask("How long do worker bees fan their wings over the nectar?")
    assert answer.abstained and not answer.citations
    assert answer.abstain_reason == "None of the closest passages gives a length of time."


def test_checks_can_be_switched_off(pipeline: Pipeline) -> None:
    off = Pipeline(pipeline.settings.replace(evidence_checks="off"), pipeline.index,
                   pipeline.embedder)
    answer = off.ask("How did Krakatoa erupt compared with Vesuvius?")
    assert not answer.abstained and answer.citations
    assert answer.settings["evidence_checks"] == "off"


def _months_pipeline(folder: Path, summer: str, **overrides: Any) -> Pipeline:
    readings = folder / "readings"
    readings.mkdir()
    (readings / "spring.md").write_text(
        "In February the workers of the capital rose and the tsar fell.\n\n"
        "The soviets of workers met in the capital in April.\n", encoding="utf-8")
    (readings / "summer.md").write_text(summer + "\n", encoding="utf-8")
    settings = Settings.load(env={}, model="hash", corpus=str(readings),
                             data_dir=str(folder / "data"), abstain_threshold=-1.0,
                             **overrides)
    return Pipeline.open(settings, status=lambda _: None, progress=False)


def test_a_question_about_a_month_is_not_answered_about_another(tmp_path: Path) -> None:
    # Only the closest passage is searched: the readings speak of July elsewhere.
    narrow = _months_pipeline(tmp_path, "Bees swarm in July.", k=1, rerank_depth=1)
    answer = narrow.ask("What did the workers of the capital do in July?")
    assert answer.passages[0].passage.doc_id == "spring"
    assert answer.abstained and not answer.citations
    assert answer.abstain_reason == "None of the closest passages is about “July”."


def test_a_question_about_a_month_quotes_that_month(tmp_path: Path) -> None:
    pipeline = _months_pipeline(tmp_path, "In July the workers of the capital rose again.")
    answer = pipeline.ask("What did the workers of the capital do in July?")
    assert not answer.abstained
    assert [c.doc_id for c in answer.citations] == ["summer"]
