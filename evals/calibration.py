"""Fit the abstention threshold from an eval set by cross-validation, so that the reported
figures come from questions the threshold was not fitted on."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

# The most answerable questions we accept refusing when fitting. Issue 11 allows a
# false_abstain_rate of at most 0.05 in exchange for abstain_recall >= 0.90; fitting at 0.04
# leaves room for the spread between cross-validation folds.
MAX_FALSE_ABSTAIN = 0.04
# Answers scoring at or above the confident threshold should be right this often (issue
# 11's answer_precision target); those under it are shown as tentative.
CONFIDENT_PRECISION = 0.85
# Fewer answers than this above a threshold say too little about its precision.
MIN_CONFIDENT = 10


def fit_threshold(confidence: np.ndarray, answerable: np.ndarray,
                  max_false_abstain: float = MAX_FALSE_ABSTAIN) -> float:
    """The highest threshold that refuses at most `max_false_abstain` of answerable questions.

    Abstaining means confidence < threshold, so a higher threshold refuses more; the highest
    one within the false-refusal budget catches the most unanswerable questions.
    """
    ans = np.sort(confidence[answerable])
    if len(ans) == 0:
        return float(np.max(confidence)) + 1e-6
    allowed = int(np.floor(max_false_abstain * len(ans)))  # answerable ones we may refuse
    # Refusing exactly `allowed` answerable questions: put the threshold just above the
    # allowed-th lowest answerable confidence, midway to the next one.
    lo = ans[allowed - 1] if allowed > 0 else ans[0] - 0.05
    hi = ans[allowed] if allowed < len(ans) else ans[-1] + 0.05
    return float((lo + hi) / 2)


def fit_confident_threshold(confidence: np.ndarray, correct: np.ndarray, floor: float,
                            target: float = CONFIDENT_PRECISION,
                            min_answers: int = MIN_CONFIDENT) -> float:
    """The lowest threshold (at least `floor`, the abstention threshold) above which the
    answered questions were right at least `target` of the time, counting from the most
    confident down, with at least `min_answers` of them. `correct[i]`: question i's answer
    was right (an answered unanswerable question is wrong). Above every confidence when no
    threshold reaches the target (or fewer than `min_answers` were answered at all): then
    every answer is tentative.
    """
    keep = confidence >= floor
    conf, ok = confidence[keep], correct[keep]
    order = np.argsort(-conf, kind="stable")
    conf, ok = conf[order], ok[order]
    precision = np.cumsum(ok) / np.arange(1, len(ok) + 1)
    best = None
    for i in range(min_answers - 1, len(conf)):
        # Cut only between different scores: a tie is answered alike.
        if i + 1 < len(conf) and conf[i + 1] == conf[i]:
            continue
        if precision[i] >= target:
            best = i
    if best is None:
        return float(conf.max()) + 1e-6 if len(conf) else float(floor)
    below = conf[best + 1] if best + 1 < len(conf) else floor
    return float((conf[best] + below) / 2)


def _fold_ids(ans: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A fold for each question, stratified: each fold gets its share of both kinds."""
    fold_of = np.empty(len(ans), dtype=int)
    for cls in (True, False):
        idx = np.flatnonzero(ans == cls)
        rng.shuffle(idx)
        fold_of[idx] = np.arange(len(idx)) % folds
    return fold_of


def _held_out_figures(refused: np.ndarray, sure: np.ndarray, ans: np.ndarray,
                      ok: np.ndarray | None) -> dict[str, float]:
    """Abstention and sure/tentative precision of held-out decisions, summed over repeats:
    `refused[r, i]` and `sure[r, i]` are question i's decisions in repeat r."""
    out = {"cv_abstain_recall": float(refused[:, ~ans].mean()) if (~ans).any() else 1.0,
           "cv_false_abstain_rate": float(refused[:, ans].mean()) if ans.any() else 0.0}
    if ok is not None:
        unsure = ~refused & ~sure
        right = np.broadcast_to(ok, sure.shape)
        sure_n, unsure_n = int(sure.sum()), int(unsure.sum())
        out |= {
            "cv_confident_precision": float(right[sure].sum()) / sure_n if sure_n else 1.0,
            "cv_tentative_precision": (float(right[unsure].sum()) / unsure_n
                                       if unsure_n else 1.0),
            "cv_tentative_share": unsure_n / max(1, sure_n + unsure_n),
        }
    return out


def cross_validate(confidence: Sequence[float], answerable: Sequence[bool], folds: int = 5,
                   repeats: int = 10, seed: int = 0,
                   correct: Sequence[bool] | None = None,
                   groups: Sequence[str] | None = None,
                   abstain_fit: Sequence[bool] | np.ndarray | None = None) -> dict[str, Any]:
    """Repeated stratified k-fold: fit on k-1 folds, score abstention on the held-out fold.
    With `correct` (each question's answer was right), the confident threshold is fitted in
    the same folds, above each fold's abstention threshold, and its held-out answers scored:
    how often those shown as sure, and those shown as tentative, were right. With `groups`
    (the set each question came from, when several are pooled), the held-out figures are
    also given for each set, under "by_set": pooling a set of one kind of question must not
    hide that the thresholds serve another kind badly. With `abstain_fit`, the abstention
    threshold is fitted on the marked questions only (the confident one on all)."""
    conf = np.asarray(confidence, dtype=float)
    ans = np.asarray(answerable, dtype=bool)
    ok = np.asarray(correct, dtype=bool) if correct is not None else None
    names = np.asarray(groups) if groups is not None else None
    fit_on = (np.asarray(abstain_fit, dtype=bool) if abstain_fit is not None
              else np.ones(len(conf), dtype=bool))
    rng = np.random.default_rng(seed)
    thresholds, sure_thresholds = [], []
    refused = np.zeros((repeats, len(conf)), dtype=bool)
    sure = np.zeros((repeats, len(conf)), dtype=bool)
    for r in range(repeats):
        fold_of = _fold_ids(ans, folds, rng)
        for f in range(folds):
            train, test = fold_of != f, fold_of == f
            t = fit_threshold(conf[train & fit_on], ans[train & fit_on])
            thresholds.append(t)
            refused[r, test] = conf[test] < t
            if ok is not None:
                sure_t = fit_confident_threshold(conf[train], ok[train], t)
                sure_thresholds.append(sure_t)
                sure[r, test] = (conf[test] >= t) & (conf[test] >= sure_t)
    out: dict[str, Any] = {
        "folds": folds, "repeats": repeats, "seed": seed,
        **_held_out_figures(refused, sure, ans, ok),
        "fold_thresholds_median": float(np.median(thresholds)),
        "fold_thresholds_range": [float(np.min(thresholds)), float(np.max(thresholds))],
    }
    if ok is not None:
        out |= {
            "fold_confident_thresholds_median": float(np.median(sure_thresholds)),
            "fold_confident_thresholds_range": [float(np.min(sure_thresholds)),
                                                float(np.max(sure_thresholds))],
        }
    if names is not None:
        out["by_set"] = {}
        for g in dict.fromkeys(names.tolist()):
            of = names == g
            out["by_set"][str(g)] = {
                "n_questions": int(of.sum()),
                **_held_out_figures(refused[:, of], sure[:, of], ans[of],
                                    ok[of] if ok is not None else None)}
    return out


def write_calibration(path: Path, threshold: float, cv: dict[str, Any],
                      context: dict[str, Any], confident: float | None = None) -> None:
    """Store the thresholds where `Settings.load` reads them, atomically."""
    settings = {"abstain_threshold": round(threshold, 4)}
    method = (f"highest threshold refusing <= {MAX_FALSE_ABSTAIN:.0%} of answerable "
              "questions")
    if confident is not None:
        settings["confident_threshold"] = round(confident, 4)
        method += (f"; confident_threshold: lowest above which >= {CONFIDENT_PRECISION:.0%} of "
                   f"answers were right (at least {MIN_CONFIDENT} answers)")
    payload = {
        "settings": settings,
        "method": method + "; fitted on all questions, figures are cross-validated",
        "cross_validation": cv,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **context,
    }
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
