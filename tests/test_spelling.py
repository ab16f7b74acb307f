"""Misspelt question words read as the readings' words (rag/spelling.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipeline_helpers import tiny_pipeline

from index.lexicon import words_of
from rag.pipeline import Pipeline
from rag.spelling import Respeller, is_english
from ui.render import render_answer

VOCAB = words_of(["Kerensky and Trotsky spoke to the Provisional Government.",
                  "The soviets met; the least said, the last word. Never again."])
R = Respeller(VOCAB)


@pytest.mark.parametrize(("question", "read", "changes"), [
    ("Who was Kerensy?", "Who was Kerensky?", (("Kerensy", "Kerensky"),)),
    ("What did Trotksy say?", "What did Trotsky say?", (("Trotksy", "Trotsky"),)),
    # Two edits for a long word; the case of each word as asked is kept.
    ("What did the provisonal goverment do?", "What did the provisional government do?",
     (("provisonal", "provisional"), ("goverment", "government"))),
    ("KERENSY?", "KERENSKY?", (("KERENSY", "KERENSKY"),)),
    # The same misspelling twice is one change, replaced everywhere.
    ("Kerensy, Kerensy!", "Kerensky, Kerensky!", (("Kerensy", "Kerensky"),)),
])
def test_misspelt_words_are_read_as_the_readings_words(
        question: str, read: str, changes: tuple[tuple[str, str], ...]) -> None:
    assert R.respell(question) == (read, changes)


@pytest.mark.parametrize("question", [
    "Who was Kerensky?",            # a word of the readings
    "What did the sovietss do?",    # plural of one: known
    "Why did he sever ties?",       # English, though one edit from "never"
    "Who was Lenon?",               # no word of the readings within one edit
    "Was it elast?",                # "least" and "last" are as close: ambiguous
    "Who was Kren?",                # too short to judge
    "Who was Gerensky?",            # a first letter is rarely the typo
    "Why doesn't it work?",         # "doesn" is half of "doesn't"
])
def test_other_words_are_left_as_asked(question: str) -> None:
    assert R.respell(question) == (question, ())


def test_the_english_list_knows_common_words() -> None:
    assert is_english("sever") and is_english("boast")
    assert not is_english("kerensy") and not is_english("goverment")


_WORDS = st.sampled_from(["Kerensy", "trotksy", "soviets", "elast", "the", "Who", "was",
                          "Goverment", "sever", "x", "Provisonal", "Ωμέγα"])
_GAPS = st.sampled_from([" ", ", ", "? ", " — ", "'", "“"])


@given(st.lists(st.tuples(_WORDS, _GAPS), max_size=12))
def test_respelling_changes_only_whole_words(parts: list[tuple[str, str]]) -> None:
    question = "".join(w + g for w, g in parts)
    read, changes = R.respell(question)
    word = re.compile(r"[^\W\d_]+")
    # Everything between the words is kept exactly, and the words stay as many.
    assert word.split(read) == word.split(question)
    asked_words, read_words = word.findall(question), word.findall(read)
    assert len(asked_words) == len(read_words)
    mapping = dict(changes)
    for a, r in zip(asked_words, read_words, strict=True):
        assert r == mapping.get(a, a)
    assert all(r.lower() in VOCAB for r in mapping.values())


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return tiny_pipeline(tmp_path_factory.mktemp("rag-data"), abstain_threshold=-1.0)


def test_a_misspelt_name_is_read_as_the_readings_spell_it(pipeline: Pipeline) -> None:
    answer = pipeline.ask("When did Mount Vesuvuis bury Pompei?")
    assert answer.question == "When did Mount Vesuvuis bury Pompei?"  # as the student wrote
    assert answer.respelled == (("Vesuvuis", "Vesuvius"), ("Pompei", "Pompeii"))
    assert not answer.abstained and "Vesuvius erupted" in answer.citations[0].quote
    data = answer.to_dict()
    assert data["respelled"] == [{"asked": "Vesuvuis", "read_as": "Vesuvius"},
                                 {"asked": "Pompei", "read_as": "Pompeii"}]
    html = render_answer(data, pipeline.documents)
    assert 'class="cr-respelled"' in html and "“Vesuvuis” as “Vesuvius”" in html


def test_a_well_spelt_question_says_nothing_was_respelled(pipeline: Pipeline) -> None:
    data = pipeline.ask("When did Mount Vesuvius bury Pompeii?").to_dict()
    assert data["respelled"] == []
    assert "cr-respelled" not in render_answer(data, pipeline.documents)


def test_respelling_can_be_switched_off(pipeline: Pipeline) -> None:
    off = Pipeline(pipeline.settings.replace(respell="off"), pipeline.index,
                   pipeline.embedder)
    answer = off.ask("When did Mount Vesuvuis bury Pompei?")
    assert answer.respelled == () and answer.settings["respell"] == "off"


def test_a_follow_up_is_joined_to_its_respelled_question(pipeline: Pipeline) -> None:
    answer = pipeline.ask("And when?", history=["What did Mount Vesuvuis bury?"])
    assert answer.followup_of == "What did Mount Vesuvuis bury?"
    assert not answer.abstained and "79" in answer.citations[0].quote


def test_respell_setting_is_validated(tmp_path: Path) -> None:
    from rag.settings import Settings, SettingsError
    with pytest.raises(SettingsError, match="respell must be on or off"):
        Settings.load(env={}, respell="maybe", data_dir=str(tmp_path))


def test_api_documents_and_returns_respelled(pipeline: Pipeline) -> None:
    from fastapi.testclient import TestClient

    from ui.server import create_app

    client = TestClient(create_app(pipeline))
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "respelled" in schema["AnswerOut"]["properties"]
    data = client.post("/api/ask", json={"question": "What did Vesuvuis bury?"}).json()
    assert data["respelled"] == [{"asked": "Vesuvuis", "read_as": "Vesuvius"}]
