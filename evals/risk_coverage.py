"""Risk–coverage curve of the answer confidence (selective prediction, Geifman & El-Yaniv 2017).

Sort every question by confidence, highest first, and answer the top n as if the abstention
threshold sat at the n-th confidence. Coverage is n over all questions; risk is the share of
those n that are wrong. The run's own abstentions are ignored on purpose: the curve shows what
the score could do at any operating point, not only at the one the settings picked. AURC, the
mean risk over n = 1..N, sums the curve up in one number (lower is better).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from evals.runner import Outcome

LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


@dataclass(frozen=True)
class RiskPoint:
    """One operating point: answer every question whose confidence is >= `threshold`."""

    threshold: float
    coverage: float
    risk: float
    answered: int
    correct: int


def is_correct(o: Outcome) -> bool:
    """Whether answering this question would be right: answerable and its quote was quoted.

    Uses `answer_overlap`, not `answer_hit`, because the curve answers questions the run
    refused: for a refusal the runner scores the quote it would have given (the best
    sentence of its top passage).
    """
    return o.item.answerable and o.answer_overlap >= 0.5


def risk_coverage(outcomes: Sequence[Outcome]) -> list[RiskPoint]:
    """One point per n = 1..N, answering the n most confident questions (see module doc).

    Ties in confidence keep eval-set order (a stable sort), so the curve is reproducible.
    """
    ranked = sorted(outcomes, key=lambda o: o.confidence, reverse=True)
    total = len(ranked)
    points: list[RiskPoint] = []
    correct = 0
    for n, o in enumerate(ranked, 1):
        correct += is_correct(o)
        points.append(RiskPoint(o.confidence, n / total, 1.0 - correct / n, n, correct))
    return points


def aurc(points: Sequence[RiskPoint]) -> float:
    """Area under the risk–coverage curve: the mean risk over all N points (0.0 if none).

    Needs every point from `risk_coverage`, not a thinned list, or the mean is skewed.
    """
    return sum(p.risk for p in points) / len(points) if points else 0.0


def operating_point(outcomes: Sequence[Outcome], sure_only: bool = False
                    ) -> tuple[float, float] | None:
    """The run's own (coverage, risk) on the curve's axes, or None if it answered nothing;
    with `sure_only`, of the answers not marked tentative (`Answer.tentative`): where the
    confident threshold sits on the curve."""
    answered = [o for o in outcomes if not o.abstained
                and not (sure_only and o.response.get("tentative"))]
    if not answered:
        return None
    correct = sum(is_correct(o) for o in answered)
    return len(answered) / len(outcomes), 1.0 - correct / len(answered)


def at_level(points: Sequence[RiskPoint], level: float) -> RiskPoint:
    """The first point whose coverage reaches `level` (the smallest n with n/N >= level)."""
    # The tolerance keeps 0.3 * 10 from rounding up to 4.
    n = min(max(math.ceil(level * len(points) - 1e-9), 1), len(points))
    return points[n - 1]


def format_table(points: Sequence[RiskPoint], levels: Sequence[float] = LEVELS) -> str:
    """Coverage levels as rows: questions answered, risk, and the threshold that gets there."""
    if not points:
        return "(no questions)"
    total = len(points)
    lines = [f"{'coverage':>8}  {'answered':>9}  {'risk':>6}  {'threshold':>9}"]
    for level in levels:
        p = at_level(points, level)
        lines.append(f"{level:>8.2f}  {f'{p.answered}/{total}':>9}  {p.risk:>6.3f}  "
                     f"{p.threshold:>9.4f}")
    lines.append(f"AURC {aurc(points):.4f} (mean risk over all {total} points; lower is better)")
    return "\n".join(lines)


def thin(points: Sequence[RiskPoint], max_points: int = 101) -> list[dict[str, Any]]:
    """At most `max_points` evenly spaced points, always the last, as rounded dicts for JSON."""
    if len(points) <= max_points:
        chosen = list(points)
    else:
        step = (len(points) - 1) / (max_points - 1)
        chosen = [points[round(i * step)] for i in range(max_points)]
    return [{k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(p).items()}
            for p in chosen]


def plot(points: Sequence[RiskPoint], path: Path,
         operating: tuple[float, float] | None = None, title: str = "",
         sure: tuple[float, float] | None = None) -> None:
    """Save the curve as a PNG, with the AURC in the title, the run's operating point and
    the point of its answers shown as sure."""
    # The object API with the Agg canvas, not pyplot: no global backend switch and no figure
    # left open in pyplot's registry when this runs inside a long-lived process.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.6), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.plot([p.coverage for p in points], [p.risk for p in points], lw=1.5,
            drawstyle="steps-post", label="risk at coverage")
    if operating is not None:
        ax.plot(*operating, "o", ms=7, color="tab:red",
                label=f"this run ({operating[0]:.2f}, {operating[1]:.2f})")
    if sure is not None and sure != operating:
        ax.plot(*sure, "s", ms=6, color="tab:green",
                label=f"shown as sure ({sure[0]:.2f}, {sure[1]:.2f})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("coverage (share of questions answered)")
    ax.set_ylabel("risk (share of answers wrong)")
    ax.set_title(f"{title + ': ' if title else ''}risk–coverage, AURC = {aurc(points):.3f}",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, format="png")
