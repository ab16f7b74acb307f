"""Eval sets: JSONL of {id, question, expected_sources, expected_quote}, and locating an
expected quote in a document while ignoring case, whitespace and typographic punctuation."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evals.jsonl import at, read_jsonl

DEFAULT_EVAL_SET = Path(__file__).resolve().parent / "eval_set.jsonl"
# Questions to decide changes on and to calibrate with, never to report (README, "Evals").
DEFAULT_DEV_SET = Path(__file__).resolve().parent / "dev_set.jsonl"
# Two-turn cases: each item's `history` holds the earlier question(s) of its conversation.
DEFAULT_FOLLOWUPS = Path(__file__).resolve().parent / "followups.jsonl"

# Typographic quotes and dashes count as their plain forms when matching quotes.
_FOLD = str.maketrans({"‘": "'", "’": "'", "‚": "'", "‛": "'", "“": '"', "”": '"',
                       "„": '"', "‟": '"', "–": "-", "—": "-", "‐": "-", "‑": "-",
                       "−": "-", "\u00a0": " "})


class EvalSetError(ValueError):
    """A malformed eval set; the message names the file and line."""


@dataclass(frozen=True)
class EvalItem:
    """One question. Unanswerable when `expected_sources` is empty."""

    id: str
    question: str
    expected_sources: tuple[str, ...]
    expected_quote: str | None
    tags: tuple[str, ...] = ()
    # Earlier questions of the same conversation, oldest first (follow-up cases only).
    history: tuple[str, ...] = ()

    @property
    def answerable(self) -> bool:
        """True when the readings are expected to answer it."""
        return bool(self.expected_sources)


def normalise(text: str) -> tuple[str, list[int]]:
    """Fold case, quotes, dashes and whitespace runs; also return, for each output
    character, the offset of the input character it came from."""
    out: list[str] = []
    offsets: list[int] = []
    prev_space = True  # drops leading whitespace
    for i, ch in enumerate(text.translate(_FOLD)):
        if ch.isspace():
            if not prev_space:
                out.append(" ")
                offsets.append(i)
            prev_space = True
            continue
        for folded in ch.casefold():
            out.append(folded)
            offsets.append(i)
        prev_space = False
    while out and out[-1] == " ":
        out.pop()
        offsets.pop()
    return "".join(out), offsets


def find_quote(text: str, quote: str) -> list[tuple[int, int]]:
    """Every (start, end) in `text` where `quote` occurs, modulo normalisation."""
    hay, offsets = normalise(text)
    needle, _ = normalise(quote)
    if not needle:
        return []
    spans = []
    pos = hay.find(needle)
    while pos >= 0:
        spans.append((offsets[pos], offsets[pos + len(needle) - 1] + 1))
        pos = hay.find(needle, pos + 1)
    return spans


def contains_quote(passage_text: str, quote: str) -> bool:
    """True if `quote` occurs in `passage_text`, modulo normalisation."""
    return normalise(quote)[0] in normalise(passage_text)[0]


def _fail(path: Path, line: int, msg: str) -> EvalSetError:
    return EvalSetError(at(path, line, msg))


def load_eval_set(path: Path | str, documents: dict[str, str] | None = None
                  ) -> list[EvalItem]:
    """Parse and check an eval set. With `documents` (id -> text), every source id must exist
    and every expected quote must be found in one of its expected sources."""
    path = Path(path)
    if not path.exists():
        raise EvalSetError(f"eval set not found: {path}")
    items: list[EvalItem] = []
    seen: set[str] = set()
    for no, obj in read_jsonl(path, EvalSetError):
        item = _item(obj, path, no)
        if item.id in seen:
            raise _fail(path, no, f"duplicate id {item.id!r}")
        seen.add(item.id)
        if documents is not None:
            _check_against(item, documents, path, no)
        items.append(item)
    if not items:
        raise EvalSetError(f"eval set {path} has no questions")
    return items


def _item(obj: dict, path: Path, no: int) -> EvalItem:
    for key in ("id", "question", "expected_sources"):
        if key not in obj:
            raise _fail(path, no, f"missing key {key!r}")
    if not isinstance(obj["question"], str) or not obj["question"].strip():
        raise _fail(path, no, "'question' must be a non-empty string")
    sources = obj["expected_sources"]
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise _fail(path, no, "'expected_sources' must be a list of doc ids")
    quote = obj.get("expected_quote")
    if sources and (not isinstance(quote, str) or not quote.strip()):
        raise _fail(path, no, "an answerable question needs an 'expected_quote' string")
    if not sources and quote:
        raise _fail(path, no, "an unanswerable question (no sources) cannot have a quote")
    tags = obj.get("tags", [])
    if not isinstance(tags, list):
        raise _fail(path, no, "'tags' must be a list")
    history = obj.get("history", [])
    if not isinstance(history, list) or not all(
            isinstance(h, str) and h.strip() for h in history):
        raise _fail(path, no, "'history' must be a list of earlier questions (strings)")
    return EvalItem(str(obj["id"]), obj["question"], tuple(sources), quote or None,
                    tuple(str(t) for t in tags), tuple(history))


def _check_against(item: EvalItem, documents: dict[str, str], path: Path, no: int) -> None:
    unknown = [s for s in item.expected_sources if s not in documents]
    if unknown:
        raise _fail(path, no, f"unknown doc id {unknown[0]!r} in expected_sources")
    if item.expected_quote and not any(
            find_quote(documents[s], item.expected_quote) for s in item.expected_sources):
        raise _fail(path, no, "expected_quote not found in any expected source")


def quote_spans(item: EvalItem, documents: dict[str, str]) -> dict[str, list[tuple[int, int]]]:
    """Where the expected quote sits in each expected source (doc id -> spans)."""
    if not item.expected_quote:
        return {}
    return {s: spans for s in item.expected_sources
            if (spans := find_quote(documents[s], item.expected_quote))}


def tags_of(items: Iterable[EvalItem]) -> dict[str, int]:
    """Count of questions per tag."""
    counts: dict[str, int] = {}
    for it in items:
        for t in it.tags:
            counts[t] = counts.get(t, 0) + 1
    return counts
