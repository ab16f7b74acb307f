"""Thumbs up/down votes, appended to a local JSONL file.

A line holds the question, the answer, its citations, the vote and the time, and nothing
about who voted: no IP address, session, cookie or browser. Instructors can read the file to
see which answers students found wrong.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
        data = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write call per line in append mode, so concurrent servers don't interleave.
            with self.path.open("a", encoding="utf-8") as f:
                f.write(data)
        return line
