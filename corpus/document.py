"""The `Document` noun: one reading, its exact text and its metadata."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Attribution:
    """A stretch of a document written by someone other than its author (e.g. a reader comment)."""

    start: int
    end: int
    author: str
    role: str = "reader comment"


@dataclass(frozen=True)
class Document:
    """One reading. `text` is exactly what citations point into."""

    id: str
    text: str
    title: str
    author: str | None = None
    publisher: str | None = None
    date: str | None = None
    url: str | None = None
    source: str = ""
    attributions: tuple[Attribution, ...] = field(default=())

    def author_at(self, offset: int) -> tuple[str | None, str | None]:
        """(author, role) of the words at `offset`; role is None for the document's author."""
        for a in self.attributions:
            if a.start <= offset < a.end:
                return a.author, a.role
        return self.author, None

    @property
    def content_hash(self) -> str:
        """A hash of everything that would change the index or a citation."""
        payload = json.dumps(self.to_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def metadata(self) -> dict[str, Any]:
        """The document's metadata, without its text."""
        return {
            "id": self.id,
            "title": self.title,
            "author": self.author,
            "publisher": self.publisher,
            "date": self.date,
            "url": self.url,
        }

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (the index stores documents this way, never pickled)."""
        d = asdict(self)
        d["attributions"] = [asdict(a) for a in self.attributions]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """Inverse of `to_dict`."""
        attrs = tuple(Attribution(**a) for a in d.get("attributions", ()))
        return cls(**{**d, "attributions": attrs})
