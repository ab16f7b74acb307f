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
class PageSpan:
    """One page of the original: its printed number and its characters `text[start:end]`.

    `number` is the page's label (an int for plain numbers, text such as "xii" otherwise)."""

    number: int | str
    start: int
    end: int


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
    # The original's pages, in order (PDFs, and Markdown with `{{page N}}` markers); empty
    # when unknown. Text outside every span (before a reading's first marker) has no page.
    pages: tuple[PageSpan, ...] = field(default=())

    def author_at(self, offset: int) -> tuple[str | None, str | None]:
        """(author, role) of the words at `offset`; role is None for the document's author."""
        for a in self.attributions:
            if a.start <= offset < a.end:
                return a.author, a.role
        return self.author, None

    def page_at(self, offset: int) -> int | str | None:
        """The page holding the character at `offset`, or None if unknown."""
        for p in self.pages:
            if p.start <= offset < p.end:
                return p.number
        return None

    def pages_for(self, start: int, end: int) -> tuple[int | str | None, int | str | None]:
        """(first page, last page) of the span `text[start:end]`; None where unknown."""
        return self.page_at(start), self.page_at(max(start, end - 1))

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
        # Omitted when empty, so a reading without pages serialises (and hashes) exactly as
        # before pages existed, and a saved index needs no rebuild.
        if self.pages:
            d["pages"] = [asdict(p) for p in self.pages]
        else:
            del d["pages"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Document:
        """Inverse of `to_dict`."""
        attrs = tuple(Attribution(**a) for a in d.get("attributions", ()))
        pages = tuple(PageSpan(**p) for p in d.get("pages", ()))
        return cls(**{**d, "attributions": attrs, "pages": pages})
