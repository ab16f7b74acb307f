"""Eval set parsing, quote matching, metrics and calibration, without any model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evals.calibration import (
    CONFIDENT_PRECISION,
    MAX_FALSE_ABSTAIN,
    MIN_CONFIDENT,
    cross_validate,
    fit_confident_threshold,
    fit_threshold,
)
from evals.evalset import EvalItem, EvalSetError, find_quote, load_eval_set, normalise
from evals.metrics import abstention_metrics, tentative_metrics
from evals.runner import Outcome, answer_overlap

DOCS = {"a": "The “soviet” — a council.  It met   daily.", "b": "Nothing here."}


def _write(tmp_path: Path, rows: list) -> Path:
    p = tmp_path / "set.jsonl"
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows),
                 encoding="utf-8")
    return p


def test_find_quote_ignores_case_space_quotes_and_dashes() -> None:
    spans = find_quote(DOCS["a"], 'the "SOVIET" - a council. it met daily')
    assert spans == [(0, len(DOCS["a"]) - 1)]


@given(st.text(min_size=1, max_size=200))
def test_normalise_offsets_point_into_the_original(text: str) -> None:
    norm, offsets = normalise(text)
    assert len(norm) == len(offsets)
    assert offsets == sorted(offsets)
    assert all(0 <= o < len(text) for o in offsets)


@given(st.text(max_size=80), st.text(min_size=1, max_size=30), st.text(max_size=80))
def test_an_embedded_quote_is_always_found(before: str, quote: str, after: str) -> None:
    if not normalise(quote)[0]:
        return
    text = before + " " + quote + " " + after
    assert find_quote(text, quote)


def test_malformed_lines_are_named(tmp_path: Path) -> None:
    good = {"id": "1", "question": "q?", "expected_sources": ["a"], "expected_quote": "council"}
    with pytest.raises(EvalSetError, match=r"set.jsonl:2: not valid JSON"):
        load_eval_set(_write(tmp_path, [good, "{oops"]), DOCS)
    with pytest.raises(EvalSetError, match=r":1: unknown doc id 'zzz'"):
        load_eval_set(_write(tmp_path, [{**good, "expected_sources": ["zzz"]}]), DOCS)
    with pytest.raises(EvalSetError, match=r":1: expected_quote not found"):
        load_eval_set(_write(tmp_path, [{**good, "expected_quote": "absent words"}]), DOCS)
    with pytest.raises(EvalSetError, match=r":2: duplicate id"):
        load_eval_set(_write(tmp_path, [good, good]), DOCS)
    with pytest.raises(EvalSetError, match=r":1: missing key 'question'"):
        load_eval_set(_write(tmp_path, [{"id": "x", "expected_sources": []}]), DOCS)
    with pytest.raises(EvalSetError, match="not found"):
        load_eval_set(tmp_path / "missing.jsonl")


def test_shipped_eval_set_meets_the_issue() -> None:
    items = load_eval_set(Path(__file__).resolve().parents[1] / "evals" / "eval_set.jsonl")
    answerable = [i for i in items if i.answerable]
    assert len(answerable) >= 80
    assert sum("paraphrase" in i.tags for i in answerable) >= 0.2 * len(answerable)
    assert sum(not i.answerable for i in items) >= 12
    assert any(len(i.expected_sources) >= 2 for i in items)
    assert any("comment" in i.tags for i in items)


def test_dev_set_is_checked_against_the_readings_and_apart_from_the_eval_sets() -> None:
    """The dev set may be tuned on; a question shared with an eval set would leak into it."""
    from corpus.collection import DEFAULT_CORPUS_DIR, load_corpus

    evals = Path(__file__).resolve().parents[1] / "evals"
    docs = {d.id: d.text for d in load_corpus(DEFAULT_CORPUS_DIR).documents}
    dev = load_eval_set(evals / "dev_set.jsonl", docs)
    assert sum(not i.answerable for i in dev) >= 20 and sum(i.answerable for i in dev) >= 20
    held = [i for f in ("eval_set.jsonl", "holdout.jsonl") for i in load_eval_set(evals / f)]
    assert not {normalise(i.question)[0] for i in held} & {normalise(i.question)[0] for i in dev}
    # Nor does it ask for a fact the eval sets ask for: no expected quote overlaps theirs.
    def spans(items: list[EvalItem]) -> set[tuple[str, int, int]]:
        return {(d, a, b) for i in items if i.expected_quote for d in i.expected_sources
                for a, b in find_quote(docs[d], i.expected_quote)}

    theirs = spans(held)
    for d, a, b in spans(dev):
        assert not any(d == d2 and a < b2 and a2 < b for d2, a2, b2 in theirs), (d, a, b)


def _outcome(answerable: bool, abstained: bool, overlap: float = 0.0) -> Outcome:
    item = EvalItem("q", "?", ("a",) if answerable else (), "council" if answerable else None)
    return Outcome(item, (), (), frozenset(), None, None, overlap, abstained, 0.0, 1.0, {})


def test_abstention_metrics() -> None:
    outs = [_outcome(False, True), _outcome(False, False), _outcome(True, True),
            _outcome(True, False), _outcome(True, False), _outcome(True, False)]
    m = abstention_metrics(outs)
    assert m["abstain_recall"] == 0.5
    assert m["abstain_precision"] == 0.5
    assert m["false_abstain_rate"] == 0.25


def test_answer_overlap_counts_characters_of_the_located_quote() -> None:
    item = EvalItem("q", "?", ("a",), "a council. It met daily")
    start = DOCS["a"].index("a council")
    resp = {"abstained": False, "citations": [{"doc_id": "a", "start": start, "end": start + 10}]}
    (s, e), = find_quote(DOCS["a"], item.expected_quote or "")
    assert DOCS["a"][s:e] == "a council.  It met   daily"
    assert answer_overlap(item, resp, DOCS) == pytest.approx(10 / (e - s))
    # A refusal is scored on the quote it would have given: its top passage's best sentence.
    refused = {"abstained": True, "citations": [], "passages": [
        {"doc_id": "a", "best_start": start, "best_end": start + 10},
        {"doc_id": "a", "best_start": s, "best_end": e}]}
    assert answer_overlap(item, refused, DOCS) == pytest.approx(10 / (e - s))
    assert answer_overlap(item, {**refused, "passages": []}, DOCS) == 0.0
    assert not _outcome(True, False, overlap=0.49).answer_hit
    assert _outcome(True, False, overlap=0.5).answer_hit
    assert not _outcome(True, True, overlap=1.0).answer_hit


def test_threshold_keeps_false_refusals_within_budget() -> None:
    rng = np.random.default_rng(1)
    conf = np.concatenate([rng.normal(0.8, 0.1, 200), rng.normal(0.4, 0.1, 40)])
    ans = np.array([True] * 200 + [False] * 40)
    t = fit_threshold(conf, ans)
    assert np.mean(conf[ans] < t) <= MAX_FALSE_ABSTAIN
    cv = cross_validate(conf, ans, repeats=2)
    assert cv["cv_abstain_recall"] > 0.8
    assert cv["cv_false_abstain_rate"] <= 0.06


def test_by_tag_breaks_the_metrics_down() -> None:
    from dataclasses import replace

    from evals.metrics import by_tag
    from evals.report import format_tags

    def tagged(o: Outcome, rank: int | None, *tags: str) -> Outcome:
        return replace(o, item=replace(o.item, tags=tags), passage_rank=rank)

    outs = [tagged(_outcome(True, False, overlap=1.0), 1, "lexical"),
            tagged(_outcome(True, False), 4, "paraphrase"),
            tagged(_outcome(True, True), None, "paraphrase", "comment"),
            tagged(_outcome(False, True), None, "unanswerable"),
            tagged(_outcome(False, False), None, "unanswerable")]
    rows = by_tag(outs)
    assert rows["lexical"] == {"n": 1, "passage_hit@1": 1.0, "passage_hit@5": 1.0,
                               "answer_hit": 1.0, "false_abstain_rate": 0.0}
    assert rows["paraphrase"] == {"n": 2, "passage_hit@1": 0.0, "passage_hit@5": 0.5,
                                  "answer_hit": 0.0, "false_abstain_rate": 0.5}
    assert rows["comment"]["n"] == 1
    assert rows["unanswerable"] == {"n": 2, "abstain_recall": 0.5}
    table = format_tags(rows)
    assert table.splitlines()[0].split()[:2] == ["tag", "n"]
    assert "unanswerable" in table and "0.500" in table


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=0, max_size=60),
       st.floats(0, 0.5))
def test_answers_above_the_confident_threshold_are_right_often_enough(
        rows: list[tuple[float, bool]], floor: float) -> None:
    conf = np.asarray([c for c, _ in rows], dtype=float)
    ok = np.asarray([k for _, k in rows], dtype=bool)
    t = fit_confident_threshold(conf, ok, floor)
    assert t >= floor
    sure = (conf >= t) & (conf >= floor)
    if sure.any():
        # What the fit promises on the data it saw: enough answers, right often enough.
        assert sure.sum() >= MIN_CONFIDENT
        assert ok[sure].mean() >= CONFIDENT_PRECISION
        # And it is the lowest such threshold: one more answer would break the promise
        # (or there is none below it).
        under = conf[(conf < t) & (conf >= floor)]
        if len(under):
            more = conf >= under.max()
            assert ok[more].mean() < CONFIDENT_PRECISION or more.sum() < MIN_CONFIDENT


def test_confident_threshold_splits_sure_answers_from_coin_flips() -> None:
    rng = np.random.default_rng(2)
    conf = rng.uniform(0, 1, 400)
    # Right 95% of the time above 0.5, half the time below.
    ok = rng.uniform(0, 1, 400) < np.where(conf > 0.5, 0.95, 0.5)
    t = fit_confident_threshold(conf, ok, 0.05)
    assert 0.3 < t < 0.6
    cv = cross_validate(conf, np.ones(400, dtype=bool), correct=ok, repeats=2)
    # Held out, the sure answers stay near the target, well above the tentative ones.
    assert cv["cv_confident_precision"] > 0.8
    assert cv["cv_tentative_precision"] < 0.7
    assert 0.2 < cv["cv_tentative_share"] < 0.7
    # Nothing reaches the target: every answer is tentative.
    assert fit_confident_threshold(conf, np.zeros(400, dtype=bool), 0.05) > conf.max()


def test_pooled_sets_are_reported_apart_and_abstention_fits_on_the_marked_ones() -> None:
    rng = np.random.default_rng(3)
    # Set "a": answerable questions score high, unanswerable ones low. Set "b": its
    # unanswerable questions score as high as answers (near-topic ones) and all its
    # answerable ones score higher still.
    conf = np.concatenate([rng.normal(0.6, 0.1, 150), rng.normal(0.1, 0.03, 30),
                           rng.normal(0.9, 0.02, 30), rng.normal(0.6, 0.1, 30)])
    ans = np.array([True] * 150 + [False] * 30 + [True] * 30 + [False] * 30)
    ok = ans.copy()
    groups = ["a"] * 180 + ["b"] * 60
    alone = cross_validate(conf[:180], ans[:180], correct=ok[:180], repeats=2)
    cv = cross_validate(conf, ans, correct=ok, repeats=2, groups=groups,
                        abstain_fit=[g == "a" for g in groups])
    by_set = cv["by_set"]
    assert by_set["a"]["n_questions"] == 180 and by_set["b"]["n_questions"] == 60
    # "a" alone fits the same abstention threshold: its own figures do not move ...
    assert by_set["a"]["cv_abstain_recall"] == pytest.approx(alone["cv_abstain_recall"],
                                                             abs=0.05)
    assert by_set["a"]["cv_false_abstain_rate"] <= 0.06
    # ... and "b"'s near-topic questions, which no threshold on "a" refuses, show apart.
    assert by_set["b"]["cv_abstain_recall"] < 0.5
    # The pooled figures weigh both sets.
    n_unans = 60
    assert cv["cv_abstain_recall"] == pytest.approx(
        (by_set["a"]["cv_abstain_recall"] * 30 + by_set["b"]["cv_abstain_recall"] * 30)
        / n_unans)
    # Without groups there is no breakdown, and the default fits abstention on all.
    assert "by_set" not in cross_validate(conf, ans, correct=ok, repeats=1)


def test_tentative_metrics_split_the_answers() -> None:
    from dataclasses import replace

    right, wrong = _outcome(True, False, overlap=1.0), _outcome(True, False)
    outs = [right, right, replace(wrong, response={"tentative": False}),
            replace(right, response={"tentative": True}),
            replace(wrong, response={"tentative": True})]
    m = tentative_metrics(outs)
    assert m["confident_precision"] == pytest.approx(2 / 3)
    assert m["tentative_precision"] == 0.5
    assert m["tentative_share"] == 0.4
