"""Build, print and save eval reports."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.metrics import HEADLINE, by_tag, summarise
from evals.risk_coverage import operating_point, risk_coverage, thin
from evals.runner import Outcome
from rag.pipeline import Pipeline


def build_report(pipeline: Pipeline, outcomes: Sequence[Outcome], mode: str,
                 eval_set: str) -> dict[str, Any]:
    """The JSON report of one run: metrics, settings, manifest and every question."""
    manifest = pipeline.index.manifest
    report = summarise(outcomes)
    report.update({
        "mode": mode,
        "eval_set": eval_set,
        "settings": pipeline.settings.replace(mode=mode).public(),
        "manifest": {k: manifest.get(k) for k in (
            "model", "dimension", "corpus_hash", "passage_count", "document_count",
            "index_settings", "library_versions", "built_at")},
        "by_tag": by_tag(outcomes),
        "risk_coverage": thin(risk_coverage(outcomes)),
        "operating_point": _point_dict(operating_point(outcomes)),
        "sure_point": _point_dict(operating_point(outcomes, sure_only=True)),
        "per_question": [o.to_dict() for o in outcomes],
    })
    return report


def _point_dict(point: tuple[float, float] | None) -> dict[str, float] | None:
    return None if point is None else {"coverage": round(point[0], 4),
                                       "risk": round(point[1], 4)}


def format_table(columns: dict[str, dict[str, Any]]) -> str:
    """Metrics as rows, one column per run (mode)."""
    names = list(columns)
    width = max(len(m) for m in HEADLINE) + 2
    lines = [" " * width + "".join(f"{n:>12}" for n in names)]
    first = next(iter(columns.values()))
    lines.append(f"{'n_questions':<{width}}" + "".join(
        f"{columns[n]['n_questions']:>12}" for n in names)
        + f"   ({first['n_unanswerable']} unanswerable)")
    for metric in HEADLINE:
        if not any(metric in c for c in columns.values()):
            continue
        fmt = ("{:>12.1f}" if metric.startswith(("latency_ms", "floor")) else "{:>12.3f}")
        # A dash where a report saved before this metric existed lacks it (rag eval --against).
        lines.append(f"{metric:<{width}}" + "".join(
            fmt.format(columns[n][metric]) if metric in columns[n] else f"{'-':>12}"
            for n in names))
    return "\n".join(lines)


TAG_COLUMNS = ("n", "passage_hit@1", "passage_hit@5", "answer_hit", "false_abstain_rate",
               "abstain_recall")


def format_tags(rows: dict[str, dict[str, float]]) -> str:
    """The by_tag breakdown of one run as a table (a dash where a figure does not apply)."""
    width = max([len(t) for t in rows] + [3]) + 2
    short = {"false_abstain_rate": "false_abst", "abstain_recall": "abst_recall"}
    lines = [f"{'tag':<{width}}" + "".join(f"{short.get(c, c):>15}" for c in TAG_COLUMNS)]
    for tag, row in rows.items():
        cells = [f"{int(row[c]):>15}" if c == "n" else
                 (f"{row[c]:>15.3f}" if c in row else f"{'-':>15}") for c in TAG_COLUMNS]
        lines.append(f"{tag:<{width}}" + "".join(cells))
    return "\n".join(lines)


def write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a crash never leaves half a report)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
