"""The score combiner: a logistic regression over a candidate quote's signals, fitted on
training data (`python -m evals.fit_combiner`), never hand-set and never fitted on the eval
sets. Its output is the probability that the quote answers the question; the pipeline
quotes, orders and refuses by it. Weights live in `rag/combiner.json`, readable by anyone.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.evidence import answer_kind, gives
from rag.settings import fitted_file

COMBINER_FILE = Path(__file__).resolve().parent / "combiner.json"
FEATURES = ("cosine", "reader", "overlap", "rank_prior", "pair", "type_asked", "type_given")

# Plurals too: "Which countries had dual power?" asks for places as much as "Which country".
_PERSON_Q = re.compile(r"^\W*(who|whom|whose)\b|\bwhich (persons?|people|m[ae]n|wom[ae]n|"
                       r"leaders?)\b", re.I)
_PLACE_Q = re.compile(r"^\W*where\b|\b(what|which) (cit(y|ies)|countr(y|ies)|places?|towns?|"
                      r"regions?)\b", re.I)
# A capitalised word after the first: a name or a place, at this grain.
_NAME = re.compile(r"(?<=\s)[“‘\"(]*[A-Z][a-z]+")


def question_type(question: str) -> str | None:
    """The kind of answer asked for: "time", "quantity", "person", "place" or None. ("How
    long" is None here: the shipped combiner was fitted before that kind was told apart,
    and the evidence check already keeps only quotes that give a length of time.)"""
    if (kind := answer_kind(question)) in ("time", "quantity"):
        return kind
    if _PERSON_Q.search(question):
        return "person"
    if _PLACE_Q.search(question):
        return "place"
    return None


def type_features(kind: str | None, text: str) -> tuple[float, float]:
    """(asked, given): whether a type is asked for, and whether `text` offers one."""
    if kind is None:
        return 0.0, 0.0
    if kind in ("time", "quantity"):
        return 1.0, float(gives(text, kind))
    return 1.0, float(bool(_NAME.search(" " + text)))


def logit(p: float) -> float:
    """log(p / (1 - p)), clipped so that 0 and 1 stay finite."""
    p = min(max(p, 1e-4), 1 - 1e-4)
    return math.log(p / (1 - p))


@dataclass(frozen=True)
class Combiner:
    """Standardised features times weights, plus a bias, through a sigmoid."""

    features: tuple[str, ...]
    weights: tuple[float, ...]
    bias: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]

    def _z(self, x: np.ndarray) -> np.ndarray:
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """P(answers) for each row of features (columns in `self.features` order)."""
        z = self._z(np.atleast_2d(np.asarray(x, dtype=np.float64))) @ np.asarray(self.weights)
        return 1.0 / (1.0 + np.exp(-(z + self.bias)))

    def parts(self, row: Mapping[str, float]) -> dict[str, float]:
        """Each feature's contribution to the log-odds, plus the bias: why it scored so."""
        x = np.asarray([row.get(f, 0.0) for f in self.features], dtype=np.float64)
        contrib = self._z(x) * np.asarray(self.weights)
        out = {f: round(float(c), 4) for f, c in zip(self.features, contrib, strict=True)}
        out["bias"] = round(self.bias, 4)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"features": list(self.features), "weights": list(self.weights),
                "bias": self.bias, "mean": list(self.mean), "scale": list(self.scale)}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Combiner:
        """Inverse of `to_dict`."""
        return cls(tuple(d["features"]), tuple(float(w) for w in d["weights"]),
                   float(d["bias"]), tuple(float(m) for m in d["mean"]),
                   tuple(float(s) for s in d["scale"]))


def combiner_file(model: str) -> Path:
    """The combiner to load for `model`: `combiner-<model>.json` if it was fitted
    (`python -m evals.fit_combiner --model`), else the bundled model's (see `fitted_file`)."""
    return fitted_file(COMBINER_FILE, model)


def load_combiner(path: Path = COMBINER_FILE) -> Combiner | None:
    """The fitted combiner, or None when no file has been fitted yet."""
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    return Combiner.from_dict(data["model"])


def feature_rows(rows: Sequence[Mapping[str, float]], features: Sequence[str] = FEATURES
                 ) -> np.ndarray:
    """A matrix of named features, in `features` order (missing ones are 0)."""
    return np.asarray([[r.get(f, 0.0) for f in features] for r in rows], dtype=np.float64)
