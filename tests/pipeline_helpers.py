"""The tiny-corpus pipeline that the API, follow-up, citation and evidence tests share:
the hashing embedder (no model), environment ignored, its own data directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.pipeline import Pipeline
from rag.settings import Settings

TINY = Path(__file__).parent / "data" / "tiny"


def tiny_pipeline(data_dir: Path, **overrides: Any) -> Pipeline:
    """A pipeline over tests/data/tiny with the hashing embedder; `overrides` are settings."""
    settings = Settings.load(env={}, model="hash", corpus=str(TINY), data_dir=str(data_dir),
                             **overrides)
    return Pipeline.open(settings, status=lambda _: None, progress=False)
