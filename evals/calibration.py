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


def cross_validate(confidence: Sequence[float], answerable: Sequence[bool], folds: int = 5,
                   repeats: int = 10, seed: int = 0) -> dict[str, Any]:
    """Repeated stratified k-fold: fit on k-1 folds, score abstention on the held-out fold."""
    conf = np.asarray(confidence, dtype=float)
    ans = np.asarray(answerable, dtype=bool)
    rng = np.random.default_rng(seed)
    recalls, fars, thresholds = [], [], []
    for _ in range(repeats):
        fold_of = np.empty(len(conf), dtype=int)
        for cls in (True, False):  # stratify: each fold gets its share of both kinds
            idx = np.flatnonzero(ans == cls)
            rng.shuffle(idx)
            fold_of[idx] = np.arange(len(idx)) % folds
        refused = np.zeros(len(conf), dtype=bool)
        for f in range(folds):
            train, test = fold_of != f, fold_of == f
            t = fit_threshold(conf[train], ans[train])
            thresholds.append(t)
            refused[test] = conf[test] < t
        recalls.append(refused[~ans].mean() if (~ans).any() else 1.0)
        fars.append(refused[ans].mean() if ans.any() else 0.0)
    return {
        "folds": folds, "repeats": repeats, "seed": seed,
        "cv_abstain_recall": float(np.mean(recalls)),
        "cv_false_abstain_rate": float(np.mean(fars)),
        "fold_thresholds_median": float(np.median(thresholds)),
        "fold_thresholds_range": [float(np.min(thresholds)), float(np.max(thresholds))],
    }


def write_calibration(path: Path, threshold: float, cv: dict[str, Any],
                      context: dict[str, Any]) -> None:
    """Store the threshold where `Settings.load` reads it, atomically."""
    payload = {
        "settings": {"abstain_threshold": round(threshold, 4)},
        "method": (f"highest threshold refusing <= {MAX_FALSE_ABSTAIN:.0%} of answerable "
                   "questions, fitted on all questions; figures are cross-validated"),
        "cross_validation": cv,
        "fitted_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **context,
    }
    tmp = path.with_suffix(f".tmp-{os.getpid()}")
    tmp.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
