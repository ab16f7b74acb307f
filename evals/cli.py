"""`rag eval`: the command-line face of the evals (the `ui.cli` parser hands over here)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from evals.against import compare_reports, format_comparison, load_report
from evals.calibration import (
    cross_validate,
    fit_confident_threshold,
    fit_threshold,
    write_calibration,
)
from evals.compare import differing_questions, significance
from evals.evalset import (
    DEFAULT_DEV_SET,
    DEFAULT_EVAL_SET,
    DEFAULT_FOLLOWUPS,
    EvalItem,
    load_eval_set,
    tags_of,
)
from evals.followups import format_followups, run_followups
from evals.report import build_report, format_table, format_tags, write_json
from evals.risk_coverage import format_table as format_risk_coverage
from evals.risk_coverage import operating_point, plot, risk_coverage
from evals.runner import Outcome, run_items
from rag.pipeline import Pipeline
from rag.settings import CALIBRATION_FILE, MODES, Settings, model_variant


def _status(msg: str) -> None:
    print(msg, file=sys.stderr)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Dispatch `rag eval` to a benchmark, a comparison, a calibration or a single run."""
    if args.beir:
        from evals.beir import run_beir

        return run_beir(args, settings)
    if getattr(args, "calibrate_with", None) and not args.calibrate:
        raise ValueError("--calibrate-with only goes with --calibrate")
    eval_path = Path(args.eval_set) if args.eval_set else DEFAULT_EVAL_SET
    pipeline = Pipeline.open(settings, status=_status)
    documents = {d.id: d.text for d in pipeline.documents.values()}
    items = load_eval_set(eval_path, documents)
    if args.limit:
        items = items[:args.limit]
    _status(f"{len(items)} questions from {eval_path} ({tags_of(items)})")
    if args.calibrate:
        return _calibrate(args, pipeline, items, eval_path, documents)
    against = getattr(args, "against", None)
    if against and args.compare:
        raise ValueError("--against compares one mode with a saved report; drop --compare")
    old = load_report(Path(against)) if against else None  # fail before the long run
    # As `rag serve` does at start-up, so that latency is the warm figure a student sees, and
    # the same for every mode of --compare whichever runs first.
    pipeline.warm_up()
    modes = list(MODES) if args.compare else [settings.mode]
    by_mode = {m: run_items(pipeline, items, m) for m in modes}
    reports = {m: build_report(pipeline, outs, m, str(eval_path)) for m, outs in by_mode.items()}
    if (followups := _followups_path(args)) is not None:
        for m, report in reports.items():
            # Apart from the main metrics (which these cases never change), plus the two
            # headline figures at the top level of the report.
            section = run_followups(pipeline, followups, m)
            report["followups"] = section
            report["followup_hit"] = section["followup_hit"]
            report["followup_hit_without_history"] = section["followup_hit_without_history"]
    if args.compare:
        sig = significance(by_mode)
        diffs = differing_questions(by_mode)
        result = {"modes": reports, "significance": sig, "differing_questions": diffs}
    else:
        result = reports[modes[0]]
    if args.out:
        write_json(Path(args.out), result)
    _plot(args, by_mode)
    if old is not None:
        comparison = compare_reports(old, result)
        if args.json:
            print(json.dumps(comparison, ensure_ascii=False, indent=2))
        else:
            print(format_comparison(old, result, comparison))
            _print_followups(reports)
        return 0
    if args.json:
        print(json.dumps(result, ensure_ascii=False, indent=2))
        return 0
    print(format_table(reports))
    if not args.compare:
        print("\nBy tag:\n" + format_tags(reports[modes[0]]["by_tag"]))
    else:
        print("\nSignificance (" + sig["test"] + "):\n" + sig["table"])
        print(f"\n{len(diffs)} questions differ between modes:")
        for row in diffs:
            flags = "  ".join(
                f"{m}: hit5={int(o['passage_hit@5'])} ans={int(o['answer_hit'])} "
                f"abst={int(o['abstained'])}" for m, o in row["outcomes"].items())
            print(f"  {row['id']}  {flags}  {row['question'][:70]}")
    for m, outs in by_mode.items():
        label = f" ({m})" if args.compare else ""
        print(f"\nRisk-coverage{label}, answering the most confident first:\n"
              + format_risk_coverage(risk_coverage(outs)))
    _print_followups(reports)
    return 0


def _followups_path(args: argparse.Namespace) -> Path | None:
    """The two-turn follow-up cases to run: --followups FILE, else the shipped ones along
    with the shipped eval set (they are written against the shipped readings); none with
    --no-followups or another eval set."""
    # getattr: the options are declared in ui/cli.py.
    if getattr(args, "no_followups", False):
        return None
    if getattr(args, "followups", None):
        return Path(args.followups)
    return DEFAULT_FOLLOWUPS if not args.eval_set and DEFAULT_FOLLOWUPS.exists() else None


def _print_followups(reports: dict[str, dict]) -> None:
    for m, report in reports.items():
        if "followups" in report:
            label = f" [{m}]" if len(reports) > 1 else ""
            print(f"\n{format_followups(report['followups'])}{label}")


def _plot_path(args: argparse.Namespace) -> Path | None:
    """--plot FILE, else `<out stem>-risk-coverage.png` beside --out, else no plot."""
    # getattr: the --plot option is declared in ui/cli.py, which may not have it yet.
    if getattr(args, "plot", None):
        return Path(args.plot)
    if args.out:
        out = Path(args.out)
        return out.with_name(f"{out.stem}-risk-coverage.png")
    return None


def _plot(args: argparse.Namespace, by_mode: dict[str, list[Outcome]]) -> None:
    """Write the risk-coverage PNG, one per mode (`<stem>-<mode>.png`) under --compare."""
    path = _plot_path(args)
    if path is None:
        return
    for m, outs in by_mode.items():
        target = path.with_name(f"{path.stem}-{m}{path.suffix}") if len(by_mode) > 1 else path
        plot(risk_coverage(outs), target, operating_point(outs), title=m,
             sure=operating_point(outs, sure_only=True))
        _status(f"risk-coverage plot: {target}")


def _calibration_sets(args: argparse.Namespace) -> list[Path]:
    """The question sets pooled with the eval set when calibrating: --calibrate-with FILE
    (repeatable), else the shipped dev set along with the shipped eval set. The eval set
    alone asks few questions of the kind that fools the scores most, near-topic ones about
    the readings' own people and events; fitted on it, answers shown as sure were right
    half of the time on the dev set (evals/BENCHMARKS.md, "Fourteenth session")."""
    # getattr: the option is declared in ui/cli.py.
    if (given := getattr(args, "calibrate_with", None)) is not None:
        return [Path(p) for p in given if p != "none"]
    return [DEFAULT_DEV_SET] if not args.eval_set and DEFAULT_DEV_SET.exists() else []


def _calibrate(args: argparse.Namespace, pipeline: Pipeline, items: list[EvalItem],
               eval_path: Path, documents: dict[str, str]) -> int:
    """Fit the abstention and confident thresholds by cross-validation and store them in
    rag/calibration.json."""
    mode = pipeline.settings.mode
    sets = {eval_path.name: items}
    for path in _calibration_sets(args):
        extra = load_eval_set(path, documents)
        _status(f"pooled with {len(extra)} questions from {path} ({tags_of(extra)})")
        # Named by the file, or by its whole path when another set has that name.
        sets[path.name if path.name not in sets else str(path)] = extra
    pooled = [item for extra in sets.values() for item in extra]
    if len({item.id for item in pooled}) < len(pooled):
        raise ValueError("the pooled question sets share question ids; give each set its own")
    outcomes = run_items(pipeline, pooled, mode)
    groups = [name for name, extra in sets.items() for _ in extra]
    # A question refused by an evidence check is refused whatever the threshold: it counts
    # against the false-refusal budget (if answerable) like the lowest possible score.
    conf = [-1.0 if o.response.get("abstain_reason") else o.confidence for o in outcomes]
    ans = [o.item.answerable for o in outcomes]
    # Right when answered: the answer quotes the expected sentence (an unanswerable
    # question's answer is never right). Scored at the run's own threshold: a question
    # refused there counts as not right, which only matters below any confident threshold.
    correct = [o.answer_hit for o in outcomes]
    # The abstention threshold is fitted on the eval set alone: its 152 answerable questions
    # of every kind say which of them a threshold refuses better than pooling them with the
    # dev set's 25 paraphrases (which all scored high, so that pooled, the 4% budget let one
    # more eval-set question be refused). The confident threshold is fitted on every set:
    # it is about how often answers are right, and the eval set has few of the near-topic
    # questions that are answered wrongly (evals/BENCHMARKS.md, "Fourteenth session").
    primary = np.asarray([g == eval_path.name for g in groups])
    cv = cross_validate(conf, ans, correct=correct,
                        groups=groups if len(sets) > 1 else None, abstain_fit=primary)

    threshold = fit_threshold(np.asarray(conf)[primary], np.asarray(ans)[primary])
    confident = fit_confident_threshold(np.asarray(conf), np.asarray(correct), threshold)
    out = Path(args.out) if args.out else model_variant(CALIBRATION_FILE,
                                                        pipeline.settings.model)
    write_calibration(out, threshold, cv, {
        "eval_set": eval_path.name, "n_questions": len(pooled),
        "question_sets": {name: len(extra) for name, extra in sets.items()},
        "abstain_threshold_fitted_on": [eval_path.name],
        "confident_threshold_fitted_on": list(sets),
        "n_unanswerable": sum(not a for a in ans), "mode": mode,
        "settings_used": pipeline.settings.public(),
        "corpus_hash": pipeline.index.manifest.get("corpus_hash"),
        "command": "rag eval --calibrate",
    }, confident)
    print(f"abstain_threshold = {threshold:.4f} (written to {out})")
    print(f"cross-validated ({cv['folds']}-fold x {cv['repeats']}): abstain_recall "
          f"{cv['cv_abstain_recall']:.3f}, false_abstain_rate {cv['cv_false_abstain_rate']:.3f}")
    print(f"confident_threshold = {confident:.4f}; cross-validated: answers shown as sure "
          f"right {cv['cv_confident_precision']:.3f}, tentative ones right "
          f"{cv['cv_tentative_precision']:.3f}, {cv['cv_tentative_share']:.1%} of answers "
          "tentative")
    for name, figures in cv.get("by_set", {}).items():
        print(f"  {name} ({figures['n_questions']} questions): abstain_recall "
              f"{figures['cv_abstain_recall']:.3f}, false_abstain_rate "
              f"{figures['cv_false_abstain_rate']:.3f}, sure right "
              f"{figures['cv_confident_precision']:.3f}, "
              f"{figures['cv_tentative_share']:.1%} tentative")
    return 0
