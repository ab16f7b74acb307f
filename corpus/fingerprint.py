"""A corpus folder as the file system sees it, in one digest: each reading's path, size and
modification time, and the same for the loaders' own source files.

A start compares it with the digest recorded at the last build. Only when they differ does it
read and parse every file to find out whether the texts changed: a folder of PDFs takes
seconds to parse, and its stat takes milliseconds. A digest that differs costs one full check,
never a wrong answer; one that matches while a text changed would need a file rewritten with
its old size and modification time, which editors and copies do not do."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from corpus.collection import reading_names

# Bump when what goes into the digest changes.
STAT_VERSION = 1
_LOADERS = Path(__file__).resolve().parent


def _stat_line(path: Path | str, rel: str) -> bytes:
    st = os.stat(path)
    return f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode()


def folder_stat(directory: Path | str) -> str:
    """The digest of `directory`'s readings (every file `load_corpus` looks at), and of the
    loader modules, so that a change to how files are read also counts as a change."""
    root = Path(directory)
    h = hashlib.sha256(f"corpus-stat-v{STAT_VERSION}\n".encode())
    for path in sorted(_LOADERS.glob("*.py")):
        h.update(_stat_line(path, f"loader:{path.name}"))
    for name, rel in reading_names(root):
        h.update(_stat_line(name, rel))
    return h.hexdigest()
