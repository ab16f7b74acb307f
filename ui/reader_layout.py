"""A reading's text cut into the blocks the reader view shows: paragraphs, list items, and
which reader comment (attribution) each belongs to, all as offsets into `Document.text`.

Nothing here copies or rewrites text: each block is `text[start:end]`, so the page built from
them can be checked against the text character for character, and a cited span lands on the
same characters the citation names. Only whitespace between blocks is left out.

The cleaned readings carry no Markdown markup: paragraphs are separated by blank lines, a list
is consecutive lines of one paragraph that start with "• ", "- ", "* " or "1. ", and a block
quote is simply a paragraph of its own (so keeping paragraphs keeps them).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, replace
from typing import Literal

from corpus.document import Attribution, Document, PageSpan

# A blank line (possibly holding spaces) ends a paragraph.
_SEPARATOR = re.compile(r"\n[^\S\n]*\n\s*")
# A bullet starts a list item wherever it stands; a number ("1. ", "2) ") only where a
# paragraph has two or more such lines, so a lone numbered paragraph (Lih's comments begin
# "1. A fascinating…", "2. Lars T. Lih wrote:") stays a paragraph.
_BULLET = re.compile(r"[^\S\n]*[-*•‣◦▪][^\S\n]")
_NUMBER = re.compile(r"[^\S\n]*\d{1,3}[.)][^\S\n]")

Kind = Literal["p", "li"]


@dataclass(frozen=True)
class Block:
    """One paragraph or list item: `text[start:end]`, inside attribution number `comment`
    of `Layout.comments` (None for the document's author). A list item's own bullet or
    number is `text[start:lead]` (lead is None for a paragraph)."""

    kind: Kind
    start: int
    end: int
    comment: int | None = None
    lead: int | None = None


@dataclass(frozen=True)
class Layout:
    """A document's blocks in text order, the attributions they refer to, and where each page
    marker goes (offset of the block character it precedes, with the page labels)."""

    blocks: tuple[Block, ...]
    comments: tuple[Attribution, ...]
    page_marks: tuple[tuple[int, tuple[int | str, ...]], ...]


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    """The span without whitespace at either end (empty if it is all whitespace)."""
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def paragraphs(text: str) -> list[tuple[int, int]]:
    """(start, end) of each blank-line-separated paragraph, without surrounding whitespace."""
    spans, pos = [], 0
    for m in _SEPARATOR.finditer(text):
        spans.append((pos, m.start()))
        pos = m.end()
    spans.append((pos, len(text)))
    return [(s, e) for s, e in (_strip(text, *span) for span in spans) if s < e]


def _lines(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """(start, end) of each line of text[start:end]."""
    lines, pos = [], start
    while True:
        nl = text.find("\n", pos, end)
        if nl < 0:
            lines.append((pos, end))
            return lines
        lines.append((pos, nl))
        pos = nl + 1


def items(text: str, start: int, end: int) -> list[Block]:
    """A paragraph as list items and plain runs. A line that starts no item continues the one
    before it: a wrapped list item, or the next line of a hard-wrapped paragraph."""
    lines = _lines(text, start, end)
    numbered = [_NUMBER.match(text, s, e) for s, e in lines]
    several = sum(m is not None for m in numbered) >= 2
    out: list[Block] = []
    for (s, e), number in zip(lines, numbered, strict=True):
        marker = _BULLET.match(text, s, e) or (number if several else None)
        if marker:
            out.append(Block("li", s, e, lead=marker.end()))
        elif out:
            out[-1] = replace(out[-1], end=e)
        else:
            out.append(Block("p", s, e))
    return out


def clean_attributions(doc: Document) -> tuple[Attribution, ...]:
    """The attributions in text order, clipped to the text and to each other (the first one
    wins an overlap, as `Document.author_at` does), empty ones dropped."""
    out: list[Attribution] = []
    for a in sorted(doc.attributions, key=lambda a: (a.start, a.end)):
        start = max(a.start, out[-1].end if out else 0, 0)
        end = min(a.end, len(doc.text))
        if start < end:
            out.append(replace(a, start=start, end=end))
    return tuple(out)


def _page_marks(blocks: tuple[Block, ...], pages: tuple[PageSpan, ...]
                ) -> tuple[tuple[int, tuple[int | str, ...]], ...]:
    """Each page's marker goes before its first character that a block shows: a page that
    starts in the blank space between paragraphs is marked at the next paragraph."""
    ends = [b.end for b in blocks]
    marks: dict[int, list[int | str]] = {}
    for page in pages:
        i = bisect_right(ends, page.start)
        if i < len(blocks) and blocks[i].start < page.end:
            marks.setdefault(max(page.start, blocks[i].start), []).append(page.number)
    return tuple((offset, tuple(labels)) for offset, labels in sorted(marks.items()))


def layout(doc: Document) -> Layout:
    """The document's blocks: paragraphs cut into list items, and cut again wherever an
    attribution starts or ends, so every block has one author."""
    text = doc.text
    comments = clean_attributions(doc)
    cuts = sorted({x for a in comments for x in (a.start, a.end)})
    starts = [a.start for a in comments]
    blocks: list[Block] = []
    for ps, pe in paragraphs(text):
        for item in items(text, ps, pe):
            bounds = [item.start, *(c for c in cuts if item.start < c < item.end), item.end]
            for a, z in zip(bounds, bounds[1:], strict=False):
                a, z = _strip(text, a, z)
                if a < z:
                    i = bisect_right(starts, a) - 1
                    inside = i >= 0 and a < comments[i].end
                    # Only the piece that starts where the item does holds its bullet.
                    lead = item.lead if item.lead is not None and a == item.start else None
                    blocks.append(Block(item.kind, a, z, i if inside else None,
                                        None if lead is None else min(lead, z)))
    frozen = tuple(blocks)
    return Layout(frozen, comments, _page_marks(frozen, doc.pages))
