"""Trust metrics: answer precision, coverage, and the risk–coverage curve with its AURC."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evals.evalset import EvalItem
from evals.metrics import HEADLINE, summarise, trust_metrics
from evals.report import format_table as format_metrics
from evals.risk_coverage import (
    aurc,
    format_table,
    is_correct,
    operating_point,
    plot,
    risk_coverage,
    thin,
)
from evals.runner import Outcome


def _outcome(confidence: float, answerable: bool = True, hit: bool = True,
             abstained: bool = False, qid: str = "q") -> Outcome:
    item = EvalItem(qid, "?", ("a",) if answerable else (), "council" if answerable else None)
    overlap = 1.0 if hit and answerable else 0.0
    return Outcome(item, (), (), frozenset(), None, None, overlap, abstained, confidence,
                   1.0, {})


def test_aurc_of_a_four_question_example_by_hand() -> None:
    # By confidence: right, wrong (unanswerable), right, wrong (quote missed).
    outs = [_outcome(0.4, hit=False), _outcome(0.9), _outcome(0.6),
            _outcome(0.8, answerable=False)]
    pts = risk_coverage(outs)
    assert [p.threshold for p in pts] == [0.9, 0.8, 0.6, 0.4]
    assert [p.coverage for p in pts] == [0.25, 0.5, 0.75, 1.0]
    assert [p.correct for p in pts] == [1, 1, 2, 2]
    # risks 0, 1/2, 1/3, 1/2 -> mean (0 + 0.5 + 0.3333 + 0.5) / 4 = 0.2083
    assert [p.risk for p in pts] == pytest.approx([0.0, 0.5, 1 / 3, 0.5])
    assert aurc(pts) == pytest.approx((0 + 1 / 2 + 1 / 3 + 1 / 2) / 4)


def test_a_refused_question_counts_as_wrong_on_the_curve() -> None:
    # The run refused it, so nothing was cited and its overlap is 0.
    refused = _outcome(0.9, hit=False, abstained=True)
    assert not is_correct(refused)
    assert risk_coverage([refused])[0].risk == 1.0


def test_answer_precision_counts_an_answered_unanswerable_as_wrong() -> None:
    outs = [_outcome(0.9), _outcome(0.8, hit=False), _outcome(0.7, answerable=False),
            _outcome(0.2, abstained=True, hit=False),
            _outcome(0.1, answerable=False, abstained=True)]
    m = trust_metrics(outs)
    assert m["answer_precision"] == pytest.approx(1 / 3)  # 3 answered, 1 right
    assert m["coverage"] == pytest.approx(2 / 3)  # 2 of 3 answerable answered
    assert operating_point(outs) == pytest.approx((3 / 5, 2 / 3))
    full = summarise(outs)
    assert {"answer_precision", "coverage", "aurc"} <= set(HEADLINE)
    assert full["aurc"] == pytest.approx(aurc(risk_coverage(outs)))
    assert full["coverage"] == pytest.approx(1 - full["false_abstain_rate"])


def test_trust_metrics_when_nothing_is_answered() -> None:
    outs = [_outcome(0.1, abstained=True, hit=False)]
    assert trust_metrics(outs)["answer_precision"] == 1.0
    assert trust_metrics(outs)["coverage"] == 0.0
    assert operating_point(outs) is None
    assert risk_coverage([]) == [] and aurc([]) == 0.0


def test_table_reads_the_curve_at_each_coverage_level() -> None:
    outs = [_outcome(c / 10, hit=c >= 5, qid=str(c)) for c in range(10)]
    table = format_table(risk_coverage(outs), levels=(0.3, 0.5, 1.0))
    lines = table.splitlines()
    assert lines[1].split() == ["0.30", "3/10", "0.000", "0.7000"]
    assert lines[2].split() == ["0.50", "5/10", "0.000", "0.5000"]
    assert lines[3].split() == ["1.00", "10/10", "0.500", "0.0000"]
    assert lines[-1].startswith("AURC ")


def test_thin_keeps_both_ends_and_at_most_the_limit() -> None:
    pts = risk_coverage([_outcome(i / 500, hit=i % 3 == 0) for i in range(500)])
    rows = thin(pts)
    assert len(rows) == 101
    assert rows[0]["coverage"] == pytest.approx(pts[0].coverage, abs=1e-4)
    assert rows[-1]["coverage"] == 1.0 and rows[-1]["answered"] == 500
    assert len(thin(pts[:7])) == 7


def test_metrics_table_shows_a_dash_for_a_report_without_the_new_metrics() -> None:
    new = summarise([_outcome(0.9), _outcome(0.1, answerable=False, abstained=True)])
    old = {k: v for k, v in new.items() if k not in ("answer_precision", "coverage", "aurc")}
    table = format_metrics({"before": old, "after": new})
    row = next(line for line in table.splitlines() if line.startswith("aurc"))
    assert row.split()[1] == "-"


@st.composite
def _runs(draw: st.DrawFn) -> list[Outcome]:
    rows = draw(st.lists(st.tuples(st.floats(0, 1), st.booleans(), st.booleans(),
                                   st.booleans()), min_size=1, max_size=40))
    return [_outcome(c, answerable=a, hit=h, abstained=x, qid=str(i))
            for i, (c, a, h, x) in enumerate(rows)]


@given(_runs())
def test_curve_properties(outs: list[Outcome]) -> None:
    pts = risk_coverage(outs)
    assert len(pts) == len(outs)
    cov = [p.coverage for p in pts]
    assert cov == sorted(cov) and cov[-1] == 1.0
    assert all(0.0 <= p.risk <= 1.0 for p in pts)
    assert all(a.threshold >= b.threshold for a, b in zip(pts, pts[1:], strict=False))
    assert 0.0 <= aurc(pts) <= 1.0
    # Whatever the run did, the last point answers everything.
    assert pts[-1].correct == sum(is_correct(o) for o in outs)


@given(st.lists(st.booleans(), min_size=1, max_size=40).flatmap(
    lambda c: st.tuples(st.just(c), st.permutations(c))))
def test_a_perfect_ranking_beats_any_other(pair: tuple[list[bool], list[bool]]) -> None:
    # The same questions three ways: right answers most confident, least confident, shuffled.
    correct, shuffled = pair

    def run(order: list[bool]) -> float:
        outs = [_outcome(1 - i / len(order), hit=c, qid=str(i)) for i, c in enumerate(order)]
        return aurc(risk_coverage(outs))

    best = run(sorted(correct, reverse=True))
    assert best <= run(sorted(correct)) + 1e-12
    assert best <= run(shuffled) + 1e-12


def test_the_sure_point_counts_only_answers_not_marked_tentative() -> None:
    from dataclasses import replace

    outs = [_outcome(0.9), _outcome(0.5, hit=False), _outcome(0.2, answerable=False),
            _outcome(0.1, abstained=True, hit=False)]
    outs[1:3] = [replace(o, response={"tentative": True}) for o in outs[1:3]]
    assert operating_point(outs) == pytest.approx((3 / 4, 2 / 3))
    assert operating_point(outs, sure_only=True) == pytest.approx((1 / 4, 0.0))
    # Nothing tentative: the same point as the run's.
    plain = [replace(o, response={}) for o in outs]
    assert operating_point(plain, sure_only=True) == operating_point(plain)


def test_plot_writes_a_png(tmp_path: Path) -> None:
    outs = [_outcome(0.9), _outcome(0.5, hit=False), _outcome(0.2, answerable=False)]
    path = tmp_path / "sub" / "rc.png"
    plot(risk_coverage(outs), path, operating_point(outs), title="hybrid",
         sure=(1 / 3, 0.0))
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
