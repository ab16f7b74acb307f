"""Shared fixtures: every test gets its own data directory and no network."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

TINY_CORPUS = Path(__file__).parent / "data" / "tiny"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the data directory at a fresh temp folder, and ignore any local rag.toml."""
    d = tmp_path / "rag-data"
    monkeypatch.setenv("RAG_DATA_DIR", str(d))
    for name in ("RAG_CONFIG", "RAG_MODEL", "RAG_CORPUS", "RAG_INDEX", "RAG_MODE", "RAG_K"):
        monkeypatch.delenv(name, raising=False)
    return d


@pytest.fixture
def tiny_corpus() -> Path:
    """A three-document corpus in three formats (md with attributions, txt, html)."""
    return TINY_CORPUS
