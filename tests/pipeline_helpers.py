"""The tiny-corpus pipeline that the API, follow-up, citation and evidence tests share:
the hashing embedder (no model), environment ignored, its own data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.pipeline import Pipeline
from rag.settings import Settings

TINY = Path(__file__).parent / "data" / "tiny"
# Three eval-set rows on the tiny corpus: two answerable, one not.
TINY_EVAL_ROWS: list[dict[str, Any]] = [
    {"id": "b1", "question": "How do bees make honey?", "expected_sources": ["bees"],
     "expected_quote": "Honey bees collect nectar from flowers"},
    {"id": "v1", "question": "What buried Pompeii?", "expected_sources": ["volcano"],
     "expected_quote": "buried the Roman town of Pompeii under ash"},
    {"id": "u1", "question": "What is the capital of Peru?", "expected_sources": [],
     "expected_quote": None},
]



def tiny_pipeline(data_dir: Path, **overrides: Any) -> Pipeline:
    """A pipeline over tests/data/tiny with the hashing embedder; `overrides` are settings."""
    settings = Settings.load(env={}, model="hash", corpus=str(TINY), data_dir=str(data_dir),
                             **overrides)
    return Pipeline.open(settings, status=lambda _: None, progress=False)
