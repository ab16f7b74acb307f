"""Render an `Answer` for a terminal: quotes with markers, then the sources in context."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping

from corpus.document import Document
from rag.types import TENTATIVE_BADGE, TENTATIVE_TEXT, Answer
from ui.render import pages_label


def _byline(doc: Document, author: str | None, role: str | None) -> str:
    who = f"{author} ({role})" if role else (author or "unknown author")
    parts = [f"“{doc.title}”", who, doc.date or "n.d."]
    if doc.url:
        parts.append(doc.url)
    return ", ".join(parts)


def render_answer(answer: Answer, documents: Mapping[str, Document], width: int = 88) -> str:
    """Plain text with the quoted sentence marked »like this« inside its passage."""
    lines: list[str] = []
    if answer.followup_of:
        lines += [f"(Read as a follow-up to “{answer.followup_of}”.)", ""]
    if answer.respelled:
        read = ", ".join(f"“{a}” as “{r}”" for a, r in answer.respelled)
        lines += [f"(Read {read}.)", ""]
    if answer.abstained:
        lines.append(answer.text)
        if answer.passages:
            lines += ["", "Possibly related (not an answer):"]
            for h in answer.passages[:3]:
                doc = documents[h.passage.doc_id]
                snippet = textwrap.shorten(" ".join(h.passage.text.split()), 200)
                lines.append(f"  - {doc.title} [{h.passage.start}:{h.passage.end}]: {snippet}")
        return "\n".join(lines)
    if answer.tentative:
        lines += textwrap.wrap(f"({TENTATIVE_BADGE}: {TENTATIVE_TEXT})", width) + [""]
    lines += textwrap.wrap(answer.text, width) + ["", "Sources:"]
    for c in answer.citations:
        doc = documents[c.doc_id]
        pages = pages_label(c.page_start, c.page_end)
        where = f"{pages}, chars {c.start}-{c.end}" if pages else f"chars {c.start}-{c.end}"
        lines.append(f"[{c.n}] {_byline(doc, c.author, c.role)}  ({where})")
        before = doc.text[c.passage_start:c.start]
        after = doc.text[c.end:c.passage_end]
        context = " ".join(f"{before}»{c.quote}«{after}".split())
        lines += textwrap.wrap(context, width, initial_indent="    ", subsequent_indent="    ")
    return "\n".join(lines)
