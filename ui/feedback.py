"""Thumbs up/down votes, appended to a local JSONL file.

A line holds the question, the answer, its citations, the vote and the time, and nothing
about who voted: no IP address, session, cookie or browser. Instructors can read the file to
see which answers students found wrong.

Several servers (or workers) may share one file: each line goes out in one `write` to a
file opened with O_APPEND, under an exclusive `flock` on that file, so lines are whole and
never interleaved, however long.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # Windows has no flock: O_APPEND and the thread lock only
    fcntl = None  # type: ignore[assignment]

VOTES = ("up", "down")

# Only these citation fields go to the log: enough to find the quote again, and no more.
_CITATION_KEYS = ("n", "doc_id", "title", "quote", "start", "end")


class FeedbackLog:
    """Append-only JSONL file of votes; safe to call from several threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self._lock = threading.Lock()

    def record(self, answer: Mapping[str, Any], vote: str) -> dict[str, Any]:
        """Append one vote on an answer (the `Answer.to_dict()` shape); return the line."""
        if vote not in VOTES:
            raise ValueError(f"vote must be one of {', '.join(VOTES)}, got {vote!r}")
        settings = answer.get("settings") or {}
        line = {
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
            "vote": vote,
            "question": answer.get("question"),
            "answer": answer.get("answer"),
            "abstained": bool(answer.get("abstained")),
            "citations": [{k: c.get(k) for k in _CITATION_KEYS}
                          for c in answer.get("citations") or []],
            "settings": {k: settings.get(k) for k in ("mode", "k", "model") if k in settings},
        }
        try:
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (JSON allows "\ud800"): escape it
            data = (json.dumps(line) + "\n").encode("ascii")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _append(self.path, data)
        return line


def _append(path: Path, data: bytes) -> None:
    """Append `data` (whole lines) to `path`, atomically with respect to other appenders."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        end = None
        if fcntl is not None:
            # O_APPEND makes each write land at the end, but a long line may take more
            # than one write (and NFS does not honour O_APPEND): the lock covers all of them,
            # and makes the end of the file this writer's to check and to take back.
            fcntl.flock(fd, fcntl.LOCK_EX)
            end = os.fstat(fd).st_size
            if end and os.pread(fd, 1, end - 1) != b"\n":
                # A writer killed mid-line left a fragment: end it, so this line stays whole.
                data = b"\n" + data
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            # A full disk can stop a line half-way: take it back rather than leave a
            # fragment for the next line to be glued to.
            if end is not None:
                os.ftruncate(fd, end)
            raise
    finally:
        os.close(fd)  # also releases the lock
