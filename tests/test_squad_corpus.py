"""SQuAD articles as a corpus (`evals.squad_corpus`): exact gold offsets, and reader pairs
mined from the pipeline's own candidates, with the hashing embedder (no model)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from evals.reader_data import SquadQuestion, load_squad
from evals.squad_corpus import article_documents, retrieval_pairs, sample, squad_pipeline
from index.chunking import sentences
from rag.settings import Settings

_WORD = st.text(alphabet="abcdefghij", min_size=2, max_size=7)
_SENTENCE = st.lists(_WORD, min_size=2, max_size=8).map(lambda w: " ".join(w).capitalize() + ".")
_PARAGRAPH = st.lists(_SENTENCE, min_size=1, max_size=5).map(" ".join)


def _question(qid: str, article: str, context: str, answer: int | None) -> SquadQuestion:
    spans = tuple(sentences(context))
    return SquadQuestion(qid, article, f"question {qid}", context, spans,
                         frozenset() if answer is None else frozenset({answer}),
                         answer is None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), _PARAGRAPH), min_size=1,
                max_size=8))
def test_gold_spans_slice_the_answer_sentence_out_of_the_article(
        paras: list[tuple[str, str]]) -> None:
    questions = []
    for n, (article, context) in enumerate(paras):
        last = len(sentences(context)) - 1
        questions.append(_question(f"q{n}", article, context, last))
    docs, gold = article_documents(questions)
    by_id = {d.id: d for d in docs}
    assert sorted(by_id) == sorted({a for a, _ in paras})
    for q in questions:
        (start, end), = gold[q.id]
        i, = q.answer_sentences
        s, e = q.sentences[i]
        assert by_id[q.article].text[start:end] == q.context[s:e]


def _squad_file(tmp_path: Path) -> Path:
    paragraphs = [
        ("The river Rhine rises in the Swiss Alps. It flows north to the North Sea. "
         "Barges carry coal and grain along it."),
        ("Warsaw is the capital of Poland. Its old town was rebuilt after the war. "
         "The Vistula crosses the city."),
    ]
    qas = [
        [{"id": "r1", "question": "Where does the Rhine rise?", "is_impossible": False,
          "answers": [{"text": "Swiss Alps", "answer_start": 29}]},
         {"id": "r2", "question": "Where does the Rhine freeze?", "is_impossible": True,
          "answers": [], "plausible_answers": [{"text": "North Sea", "answer_start": 63}]}],
        [{"id": "w1", "question": "What is the capital of Poland?", "is_impossible": False,
          "answers": [{"text": "Warsaw", "answer_start": 0}]}],
    ]
    data = {"data": [{"title": t, "paragraphs": [{"context": c, "qas": q}]}
                     for t, c, q in zip(["Rhine", "Warsaw"], paragraphs, qas, strict=True)]}
    path = tmp_path / "dev.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_retrieval_pairs_label_the_pipelines_own_candidates(tmp_path: Path) -> None:
    questions = load_squad(_squad_file(tmp_path))
    s = Settings.load(env={}, model="hash", reader="off", data_dir=str(tmp_path / "data"))
    pipe, gold = squad_pipeline(questions, tmp_path / "index", s)
    pairs = retrieval_pairs(pipe, gold, questions, negatives=2)
    by_q: dict[str, list[tuple[str, float]]] = {}
    for p in pairs:
        by_q.setdefault(p.question, []).append((p.text, p.label))
    rise = by_q["Where does the Rhine rise?"]
    # Every unit holding the answer sentence is a positive, and only those.
    assert {t for t, y in rise if y == 1.0} == {
        t for t, _ in rise if "The river Rhine rises in the Swiss Alps." in t}
    assert sum(y == 0.0 for _, y in rise) <= 2
    # An unanswerable question's candidates are all negatives.
    freeze = by_q["Where does the Rhine freeze?"]
    assert freeze and all(y == 0.0 for _, y in freeze)
    # Every pair's text is a verbatim slice of an article.
    texts = "\n".join(d.text for d in pipe.index.documents.values())
    assert all(p.text in texts for p in pairs)


def test_sample_is_seeded_and_all_when_small() -> None:
    qs = [_question(f"q{i}", "A", "One two. Three four.", 0) for i in range(10)]
    assert sample(qs, 0, 1) == qs and sample(qs, 20, 1) == qs
    assert sample(qs, 4, 7) == sample(qs, 4, 7) and len(sample(qs, 4, 7)) == 4
