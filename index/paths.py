"""Where the project keeps its files: one data folder that one environment variable moves.

It lives in `index` because the index stage is the first to write there (indexes, assembled
models); `rag` and `ui` import it from here, never the other way round.
"""

from __future__ import annotations

import os
from pathlib import Path


def default_data_dir() -> Path:
    """Where indexes live: $RAG_DATA_DIR, else the XDG data home."""
    if env := os.environ.get("RAG_DATA_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "cited-readings"
