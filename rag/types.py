"""The nouns of answering: `Hit`, `Citation`, `Answer`. `Answer.to_dict` is the one JSON
shape that the CLI (`rag ask --json`), the HTTP API and the evals all share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from index.passage import Passage
from rag.followup import NO_HISTORY
from rag.quotemarks import enclose
from rag.smalltalk import SMALL_TALK

ABSTAIN_TEXT = "The readings don't seem to answer this."
# Refusals that are no verdict on the readings: the message was no question about them, or
# leaned on an earlier question the conversation does not have.
NOT_A_VERDICT = frozenset({SMALL_TALK, NO_HISTORY})
# Said with a tentative answer (`Answer.tentative`), above its quotes: the chat's badge
# and the note after it (the terminal prints both on one line).
TENTATIVE_BADGE = "May not answer"
TENTATIVE_TEXT = ("These are the closest sentences, but they may not answer the question: "
                  "check them in context.")


@dataclass(frozen=True)
class Hit:
    """A retrieved passage. `row` is its row in the index; higher `score` is better."""

    passage: Passage
    score: float
    row: int


@dataclass(frozen=True)
class Citation:
    """One verbatim quote: `documents[doc_id].text[start:end] == quote`."""

    n: int
    doc_id: str
    title: str
    author: str | None
    url: str | None
    date: str | None
    quote: str
    start: int
    end: int
    score: float
    passage_start: int
    passage_end: int
    # Set when the quoted words are not the document author's (e.g. "reader comment").
    role: str | None = None
    # Why it scored so: each signal's share of the combiner's log-odds (empty without one).
    score_parts: tuple[tuple[str, float], ...] = ()
    # The original's pages the quote is on (a PDF's, or Markdown's `{{page N}}`), or None.
    page_start: int | str | None = None
    page_end: int | str | None = None


@dataclass(frozen=True)
class Answer:
    """Quotes with citations, or an abstention with the closest passages as "possibly related"."""

    question: str
    citations: tuple[Citation, ...]
    passages: tuple[Hit, ...]
    abstained: bool
    confidence: float
    settings: dict[str, Any] = field(default_factory=dict)
    # Why the readings cannot answer, when a check (not only a low score) found it.
    abstain_reason: str | None = None
    # Per passage, the span of its best-scoring sentence (to highlight), or None.
    best_spans: tuple[tuple[int, int] | None, ...] = ()
    # The earlier question this one was read as a follow-up to ("And in July?"), or None.
    followup_of: str | None = None
    # Misspelt words of the question and the readings' words they were read as
    # (("Kerensy", "Kerensky"),), see rag/spelling.py.
    respelled: tuple[tuple[str, str], ...] = ()
    # Quoted, but scoring under `Settings.confident_threshold`: answers this sure were right
    # only about half the time on the eval set, so the student is told to check them.
    tentative: bool = False

    @property
    def text(self) -> str:
        """The answer as plain text: each quote followed by its marker [n]."""
        if self.abstained:
            if self.abstain_reason in NOT_A_VERDICT:
                return self.abstain_reason  # not about what the readings say
            return f"{ABSTAIN_TEXT} {self.abstain_reason}" if self.abstain_reason else ABSTAIN_TEXT
        return " ".join(f"{enclose(c.quote, spaced=False)} [{c.n}]" for c in self.citations)

    def _best_spans(self) -> tuple[tuple[int, int] | None, ...]:
        missing = len(self.passages) - len(self.best_spans)
        return self.best_spans + (None,) * max(0, missing)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of `rag ask --json` and `POST /api/ask`."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "confidence": round(self.confidence, 4),
            "tentative": self.tentative,
            "citations": [
                {
                    "n": c.n, "doc_id": c.doc_id, "title": c.title, "author": c.author,
                    "url": c.url, "date": c.date, "quote": c.quote, "start": c.start,
                    "end": c.end, "score": round(c.score, 4), "role": c.role,
                    "passage_start": c.passage_start, "passage_end": c.passage_end,
                    "score_parts": dict(c.score_parts),
                    "page_start": c.page_start, "page_end": c.page_end,
                }
                for c in self.citations
            ],
            "passages": [
                {"doc_id": h.passage.doc_id, "start": h.passage.start, "end": h.passage.end,
                 "text": h.passage.text, "score": round(h.score, 6),
                 "best_start": best[0] if best else None, "best_end": best[1] if best else None}
                for h, best in zip(self.passages, self._best_spans(), strict=True)
            ],
            "settings": self.settings,
            "followup_of": self.followup_of,
            "respelled": [{"asked": a, "read_as": r} for a, r in self.respelled],
        }
