"""Read the JSON Lines files of evals (eval sets, BEIR corpora and queries) with errors that
name the file and line, `path:line: message`, as compilers do."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def at(path: Path, line: int, message: str) -> str:
    """`path:line: message`."""
    return f"{path}:{line}: {message}"


def read_jsonl(path: Path, error: type[Exception]) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line. A line that is not a JSON object, or a
    file that cannot be read, raises `error` with a one-line message."""
    try:
        with path.open(encoding="utf-8") as f:
            for n, line in enumerate(f, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as e:
                    raise error(at(path, n, f"not valid JSON ({e.msg})")) from None
                if not isinstance(row, dict):
                    raise error(at(path, n, "each line must be a JSON object"))
                yield n, row
    except (OSError, UnicodeDecodeError) as e:
        raise error(f"cannot read {path}: {e}") from None
