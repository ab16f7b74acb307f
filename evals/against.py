"""`rag eval --against OLD.json`: did a change make things better or worse?

Compares this run with a report saved earlier (`rag eval --out OLD.json`) on the same
questions: each metric before and after, an exact McNemar test per outcome (the questions
that flipped, not the averages, decide), the settings and index that differ, and every
question whose outcome changed, as fixed or broken.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scipy.stats import binomtest

from evals.report import format_table

# Per-question outcomes compared; "refused_right" is True when an unanswerable question was
# refused or an answerable one was not.
OUTCOMES = ("passage_hit@1", "passage_hit@5", "answer_hit", "refused_right")
ALPHA = 0.05


class ReportError(ValueError):
    """A saved report that cannot be compared; the message is one line for the user."""


def load_report(path: Path) -> dict[str, Any]:
    """A report written by `rag eval --out` (one mode, with `per_question`)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"report not found: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportError(f"cannot read report {path}: {e}") from None
    if not isinstance(report, dict) or not isinstance(report.get("per_question"), list):
        raise ReportError(f"{path} is not a single-mode `rag eval --out` report "
                          "(no per_question list)")
    return report


def _outcomes(row: Mapping[str, Any]) -> dict[str, bool]:
    answerable = bool(row.get("answerable"))
    out = {k: bool(row.get(k)) for k in OUTCOMES[:3]}
    out["refused_right"] = bool(row.get("abstained")) != answerable
    return out


def mcnemar(before: Sequence[bool], after: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test: how many flipped each way, and the two-sided p-value."""
    fixed = sum(1 for b, a in zip(before, after, strict=True) if a and not b)
    broken = sum(1 for b, a in zip(before, after, strict=True) if b and not a)
    n = fixed + broken
    p = 1.0 if n == 0 else float(binomtest(fixed, n, 0.5).pvalue)
    return {"fixed": fixed, "broken": broken, "p_value": p, "significant": p < ALPHA}


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    return {k: [old.get(k), new.get(k)] for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)}


def compare_reports(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """Metrics before/after, paired tests over the shared questions, and what changed."""
    old_rows = {r["id"]: r for r in old["per_question"]}
    new_rows = {r["id"]: r for r in new["per_question"]}
    shared = [i for i in new_rows if i in old_rows]
    if not shared:
        raise ReportError("the saved report has none of these question ids")
    tests: dict[str, Any] = {}
    for name in OUTCOMES:
        rows = [i for i in shared if name == "refused_right" or new_rows[i].get("answerable")]
        tests[name] = mcnemar([_outcomes(old_rows[i])[name] for i in rows],
                              [_outcomes(new_rows[i])[name] for i in rows])
    changed = []
    for i in shared:
        before, after = _outcomes(old_rows[i]), _outcomes(new_rows[i])
        flips = {k: [before[k], after[k]] for k in OUTCOMES if before[k] != after[k]}
        if flips:
            changed.append({"id": i, "question": new_rows[i].get("question", ""),
                            "changes": flips})
    return {
        "questions": {"shared": len(shared),
                      "only_before": sorted(set(old_rows) - set(new_rows)),
                      "only_after": sorted(set(new_rows) - set(old_rows))},
        "tests": tests,
        "settings_changed": _diff(old.get("settings") or {}, new.get("settings") or {}),
        "index_changed": _diff(old.get("manifest") or {}, new.get("manifest") or {}),
        "changed_questions": changed,
    }


def format_comparison(old: Mapping[str, Any], new: Mapping[str, Any],
                      result: Mapping[str, Any]) -> str:
    """The before/after table, the tests, what changed, and the questions that flipped."""
    lines = [format_table({"before": dict(old), "after": dict(new)}), "",
             "Paired exact McNemar tests on the shared questions (p < 0.05 is marked *):"]
    for name, t in result["tests"].items():
        mark = "*" if t["significant"] else " "
        lines.append(f"  {name:<15} fixed {t['fixed']:>3}  broken {t['broken']:>3}  "
                     f"p = {t['p_value']:.3f} {mark}")
    for label, key in (("Settings", "settings_changed"), ("Index", "index_changed")):
        for k, (a, b) in result[key].items():
            if k != "built_at":
                lines.append(f"{label} changed: {k}: {a!r} -> {b!r}")
    q = result["questions"]
    if q["only_before"] or q["only_after"]:
        lines.append(f"Not compared: {len(q['only_before'])} questions only before, "
                     f"{len(q['only_after'])} only after.")
    lines.append(f"\n{len(result['changed_questions'])} questions changed:")
    for row in result["changed_questions"]:
        flips = ", ".join(f"{k} {'fixed' if b else 'broken'}"
                          for k, (_, b) in row["changes"].items())
        lines.append(f"  {row['id']}  {flips}  {row['question'][:70]}")
    return "\n".join(lines)
