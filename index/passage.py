"""The `Passage` noun: a run of whole sentences of one document, with exact offsets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from index.modeltext import for_models


@dataclass(frozen=True)
class Passage:
    """`document.text[start:end] == text`; `sentences` are (start, end) pairs in the same frame.

    `context` is a short header (title, who wrote these words) that is indexed with the
    passage but never quoted: questions often name the reading or the writer ("according
    to Lih", "the second reader comment"), and the passage text alone rarely does.
    """

    doc_id: str
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...]
    context: str = ""

    @property
    def retrieval_text(self) -> str:
        """What the retrievers see: the context header, then the passage."""
        text = for_models(self.text)
        return f"{self.context}\n\n{text}" if self.context else text

    @property
    def id(self) -> str:
        """A readable id; stable as long as the chunking settings are."""
        return f"{self.doc_id}:{self.start}-{self.end}"

    def sentence_text(self, i: int) -> str:
        """The text of sentence `i`, sliced from the passage (never rewritten)."""
        s, e = self.sentences[i]
        return self.text[s - self.start:e - self.start]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the passages table."""
        return {"doc_id": self.doc_id, "start": self.start, "end": self.end, "text": self.text,
                "sentences": [list(s) for s in self.sentences], "context": self.context}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Passage:
        """Inverse of `to_dict`."""
        return cls(d["doc_id"], d["start"], d["end"], d["text"],
                   tuple((int(a), int(b)) for a, b in d["sentences"]), d.get("context", ""))
