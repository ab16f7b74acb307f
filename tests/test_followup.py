"""Follow-up questions (rag/followup.py): detection, resolution, refusal without history, and
the same through `Pipeline.ask`, `POST /api/ask`, the chat, the renderer and the eval set."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from pipeline_helpers import tiny_pipeline

from evals.evalset import DEFAULT_EVAL_SET, DEFAULT_FOLLOWUPS, EvalSetError, load_eval_set
from evals.followups import format_followups, run_followups
from rag.followup import MAX_CHAIN, MAX_HISTORY, NO_HISTORY, Resolution, leans_on_earlier, resolve
from rag.pipeline import MAX_QUESTION_CHARS, Pipeline, QuestionError, validate_history
from ui.chat import ChatApp, earlier_questions
from ui.render import render_answer
from ui.server import create_app

HOLDOUT = DEFAULT_EVAL_SET.with_name("holdout.jsonl")

FOLLOW_UPS = [
    "What did he mean by that?",
    "And in July?",
    "Who opposed it?",
    "Why?",
    "How so?",
    "But why?",
    "What about the Mensheviks?",
    "When did she arrive?",
    "What did they want?",
    "Did he agree?",
    "What does that mean?",
    "What happened there?",
    "Who was in charge then?",
    "Was it premature?",
    "By whom?",
    "And Kamenev?",
    "And in 1917?",
]
STAND_ALONE = [
    "What did Lenin mean by dual power?",
    "And what did Lenin mean by dual power?",
    "What does the Russian word sovet mean?",
    "How many governments did Lenin say there were in Petrograd?",
    "What did the Menshevik party think it could do with respect to the two powers?",
    "Why did the ministers of the interim cabinet doubt their own right to rule?",
    "Though their aims are revolutionary, how does Price classify the co-op anarchists?",
    "Besides standing against government, what else is this approach meant to ready people for?",
    "Who argued that the soviets were the highest form of democratism?",
    "How do bees make honey?",
    "dvoevlastie",
    # A year says when, as a month's name does.
    "What happened in 1917?",
    "Who won in 1905?",
]


@pytest.mark.parametrize("question", FOLLOW_UPS)
def test_leaning_questions_are_detected(question: str) -> None:
    assert leans_on_earlier(question) is not None


@pytest.mark.parametrize("question", STAND_ALONE)
def test_self_contained_questions_are_not(question: str) -> None:
    assert leans_on_earlier(question) is None


def test_eval_set_questions_are_not_taken_for_follow_ups() -> None:
    """A false-positive check, not tuning: the eval sets' questions were written to stand
    alone, and a follow-up without history is refused, so any hit here would change them."""
    questions = [it.question for p in (DEFAULT_EVAL_SET, HOLDOUT) for it in load_eval_set(p)]
    assert len(questions) > 150
    flagged = [q for q in questions if leans_on_earlier(q)]
    assert len(flagged) <= len(questions) // 50, flagged


def test_a_follow_up_is_searched_with_the_previous_question() -> None:
    r = resolve("And in July?", ["Who spoke first?", "What did Kamenev fear in March?"])
    assert r == Resolution("And in July?", "What did Kamenev fear in March? And in July?",
                           True, r.rule, followup_of="What did Kamenev fear in March?")
    assert r.rule and "And" in r.rule


def test_a_chain_of_follow_ups_goes_back_to_a_real_question() -> None:
    r = resolve("Why?", ["What did Kamenev fear?", "And in July?"])
    assert r.query == "What did Kamenev fear? And in July? Why?"
    assert r.followup_of == "And in July?"
    many = resolve("Why?", ["Why?"] * 8)
    assert many.query.count("Why?") == MAX_CHAIN + 1


def test_a_follow_up_without_history_is_refused_with_the_reason() -> None:
    for history in ([], ["", "   "]):
        r = resolve("What did he mean by that?", history)
        assert r.leans and r.refusal == NO_HISTORY and r.followup_of is None
        assert r.query == "What did he mean by that?"


def test_a_follow_up_with_its_own_question_word_asks_for_its_own_kind_of_answer() -> None:
    by_whom = resolve("By whom?", ["When was the Petrograd Soviet created?"])
    assert by_whom.query == "When was the Petrograd Soviet created? By whom?"
    assert by_whom.asks == "By whom?"  # a person, not the date the first question wanted
    and_july = resolve("And in July?", ["When did Lenin return?"])
    assert and_july.asks == and_july.query  # still a "when" question
    plain = resolve("When did Lenin return?")
    assert plain.asks == plain.question


def test_a_self_contained_question_ignores_history() -> None:
    r = resolve("What did Lenin mean by dual power?", ["When did Dorr arrive?"])
    assert r == Resolution("What did Lenin mean by dual power?",
                           "What did Lenin mean by dual power?")


@given(st.text(max_size=300), st.lists(st.text(max_size=100), max_size=12))
def test_resolution_never_crashes_and_keeps_the_question(question: str,
                                                         history: list[str]) -> None:
    r = resolve(question, history)
    assert r.question == question
    assert r.query.endswith(question.strip()) or r.query == question
    if r.followup_of is not None:
        assert r.leans and r.followup_of in history and r.refusal is None
    if r.refusal is not None:
        assert r.leans and r.query == question


def test_history_is_validated_in_one_line() -> None:
    validate_history([])
    validate_history(["a question"] * MAX_HISTORY)
    for bad, msg in [("one string", "list"), (["q"] * (MAX_HISTORY + 1), "more than"),
                     ([1], "strings"), (["x" * (MAX_QUESTION_CHARS + 1)], "longer")]:
        with pytest.raises(QuestionError, match=msg):
            validate_history(bad)


# -- through the pipeline, the API and the chat (tiny corpus, hash embedder) -------------

@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    return tiny_pipeline(tmp_path_factory.mktemp("rag-data"))


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline)) as c:
        yield c


def test_pipeline_answers_a_follow_up_as_the_joined_question(pipeline: Pipeline) -> None:
    first = "How do bees make honey?"
    answer = pipeline.ask("And what do they seal it with?", history=[first])
    joined = pipeline.ask(f"{first} And what do they seal it with?")
    assert answer.question == "And what do they seal it with?"
    assert answer.followup_of == first
    assert answer.to_dict()["followup_of"] == first
    # The same quotes as the joined question (the quotes are chosen for what was searched).
    assert [c.quote for c in answer.citations] == [c.quote for c in joined.citations]
    assert answer.citations and not answer.abstained


def test_pipeline_checks_a_follow_up_for_the_kind_of_answer_it_asks(
        pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    monkeypatch.setattr("rag.evidence.answer_kind", lambda q: asked.append(q))
    first = "When do bees seal the honey?"
    pipeline.ask("By whom?", history=[first])
    pipeline.ask("And the nectar?", history=[first])
    assert asked == ["By whom?", f"{first} And the nectar?"]


def test_pipeline_refuses_a_follow_up_with_nothing_to_go_on(pipeline: Pipeline) -> None:
    answer = pipeline.ask("What did he mean by that?")
    assert answer.abstained and answer.abstain_reason == NO_HISTORY
    assert answer.citations == () and answer.passages == ()
    assert NO_HISTORY in answer.text and answer.to_dict()["followup_of"] is None


def test_pipeline_without_history_is_unchanged(pipeline: Pipeline) -> None:
    plain = pipeline.ask("How do bees make honey?").to_dict()
    assert plain == pipeline.ask("How do bees make honey?", history=["Why?"]).to_dict()
    assert plain["followup_of"] is None


def test_api_takes_history(client: TestClient, pipeline: Pipeline) -> None:
    question, history = "And what do they seal it with?", ["How do bees make honey?"]
    r = client.post("/api/ask", json={"question": question, "history": history})
    assert r.status_code == 200, r.text
    data = r.json()
    assert data["followup_of"] == "How do bees make honey?" and data["citations"]
    assert data == json.loads(json.dumps(pipeline.ask(question, history=history).to_dict()))
    alone = client.post("/api/ask", json={"question": "What did he mean by that?"}).json()
    assert alone["abstained"] and alone["abstain_reason"] == NO_HISTORY
    null = client.post("/api/ask", json={"question": "How do bees make honey?", "history": None})
    assert null.status_code == 200 and null.json()["followup_of"] is None


@pytest.mark.parametrize("history", [
    "How do bees make honey?", [1], [None], ["q"] * (MAX_HISTORY + 1),
    ["x" * (MAX_QUESTION_CHARS + 1)], {"q": 1}])
def test_api_refuses_bad_history_in_one_line(client: TestClient, history: Any) -> None:
    r = client.post("/api/ask", json={"question": "Why?", "history": history})
    assert r.status_code == 422
    assert set(r.json()) == {"error"} and "history" in r.json()["error"]
    assert "\n" not in r.json()["error"]


def test_api_schema_documents_history(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "history" in schema["AskRequest"]["properties"]
    assert "followup_of" in schema["AnswerOut"]["properties"]


class _Request:
    headers = {"host": "chat.example.edu", "x-forwarded-proto": "https"}
    url = "http://chat.example.edu/"


def _turn(chat: ChatApp, question: str, stored: list[Any]) -> tuple[Any, list[Any]]:
    *_, (update, records, _) = chat.respond(question, stored, "hybrid", 3.0,
                                            _Request())  # type: ignore[arg-type]
    return update, records


def test_chat_reads_a_follow_up_against_the_stored_conversation(pipeline: Pipeline) -> None:
    chat = ChatApp(pipeline)
    _, records = _turn(chat, "How do bees make honey?", [])
    update, records = _turn(chat, "And what do they seal it with?", records)
    assert records[-1]["a"]["followup_of"] == "How do bees make honey?"
    content = update.value[-1]["content"]
    html = content if isinstance(content, str) else "".join(p["text"] for p in content)
    assert 'class="cr-followup"' in html and "How do bees make honey?" in html
    _, alone = _turn(ChatApp(pipeline), "What did he mean by that?", [])
    assert alone[-1]["a"]["abstain_reason"] == NO_HISTORY


def test_chat_history_skips_errors_and_keeps_the_last_few() -> None:
    records: list[dict[str, Any]] = [{"q": f"q{i}", "a": {}} for i in range(15)]
    records.insert(14, {"q": "too long", "error": "question is too long"})
    got = earlier_questions(records)
    assert got == [f"q{i}" for i in range(5, 15)] and len(got) == MAX_HISTORY


def test_render_shows_the_follow_up_note_escaped() -> None:
    answer = {"abstained": False, "followup_of": "<b>Why</b>?", "citations": [
        {"n": 1, "doc_id": "x", "quote": "Bees make honey.", "start": 0, "end": 16,
         "passage_start": 0, "passage_end": 16, "title": "T"}]}
    html = render_answer(answer, {})
    assert "Read as a follow-up to: “&lt;b&gt;Why&lt;/b&gt;?”" in html and "<b>" not in html
    refused = render_answer({**answer, "abstained": True, "citations": []}, {})
    assert "cr-followup" in refused
    assert "cr-followup" not in render_answer({**answer, "followup_of": None}, {})


def test_cli_ask_after(tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ui.cli import main

    common = ["--corpus", str(tiny_corpus), "--model", "hash", "--json"]
    code = main(["ask", "--after", "How do bees make honey?", "And what do they seal it with?",
                 *common])
    assert code == 0
    assert json.loads(capsys.readouterr().out)["followup_of"] == "How do bees make honey?"
    assert main(["ask", "Why?", "--after", "x" * (MAX_QUESTION_CHARS + 1), *common]) == 2
    assert "earlier question is longer" in capsys.readouterr().err


# -- the eval cases -------------------------------------------------------------------

def test_shipped_follow_up_cases_meet_the_issue() -> None:
    items = load_eval_set(DEFAULT_FOLLOWUPS)
    two_turn = [it for it in items if it.history and it.answerable]
    assert len(two_turn) >= 10
    assert all(len(it.history) == 1 and "followup" in it.tags for it in items)
    # The first turns stand alone; the eval set's own items have no history.
    assert not any(leans_on_earlier(it.history[0]) for it in items)
    assert not any(it.history for it in load_eval_set(DEFAULT_EVAL_SET))


def test_eval_loader_checks_history(tmp_path: Path) -> None:
    good = {"id": "f1", "question": "And in July?", "expected_sources": [], "history": ["Q?"]}
    path = tmp_path / "f.jsonl"
    path.write_text(json.dumps(good) + "\n", encoding="utf-8")
    assert load_eval_set(path)[0].history == ("Q?",)
    for bad in ("Q?", [1], [""]):
        path.write_text(json.dumps({**good, "history": bad}) + "\n", encoding="utf-8")
        with pytest.raises(EvalSetError, match="history"):
            load_eval_set(path)


def test_follow_up_run_reports_with_and_without_history(pipeline: Pipeline,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    rows = [{"id": "t1", "history": ["How do bees make honey?"],
             "question": "And what do they seal it with?", "expected_sources": ["bees"],
             "expected_quote": "they seal the cell with wax"},
            {"id": "t2", "history": ["How do bees make honey?"],
             "question": "What did he mean by that?", "expected_sources": []}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    section = run_followups(pipeline, path, "hybrid", progress=False)
    assert section["n_cases"] == 2 and section["n_answerable"] == 1
    assert section["read_as_followup"] == 1.0
    assert section["followup_hit"] == 1.0
    row = section["per_question"][0]
    assert row["history"] == rows[0]["history"] and row["followup_of"] == rows[0]["history"][0]
    assert row["abstain_reason_without_history"] == NO_HISTORY
    assert section["followup_hit_without_history"] == 0.0
    assert "followup_hit" in format_followups(section)


def test_a_follow_up_without_history_is_not_shown_as_missing_from_the_readings() -> None:
    from ui.render import render_answer

    refused = {"question": "What did he mean by that?", "abstained": True,
               "abstain_reason": NO_HISTORY, "citations": [], "passages": []}
    html = render_answer(refused, {})
    assert "Needs an earlier question" in html and "Not in the readings" not in html
    assert NO_HISTORY in html
    other = render_answer({**refused, "abstain_reason": "They never mention “Bakunin”."}, {})
    assert "Not in the readings" in other
