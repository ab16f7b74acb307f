"""Page spans of a reading: from a PDF's pages, or from `{{page N}}` markers in Markdown.

Both are pure functions that return the quotable text and the `PageSpan`s into exactly that
text, so `text[span.start:span.end]` is the page's part of it."""

from __future__ import annotations

import re
from collections.abc import Sequence

from corpus.document import PageSpan

# `{{page 12}}`, `{{page xii}}`, `{{ Page A-3 }}`: a page break of the original, the label
# being the page that starts there. Braces are rare in prose, so a marker is hard to write
# by accident, and it stays readable in any Markdown viewer.
PAGE_MARKER = re.compile(r"\{\{[ \t]*page[ \t]+([^{}\s]+)[ \t]*\}\}", re.IGNORECASE)


def page_number(label: str | None, index: int) -> int | str:
    """A page's label as a citation shows it: digits as an int, other labels ("xii") as
    text, and the 1-based `index` when there is no label."""
    label = (label or "").strip()
    if not label:
        return index
    return int(label) if label.isascii() and label.isdigit() else label


def _cut(text: str, start: int, end: int) -> tuple[int, int]:
    """How much to remove for the marker at text[start:end], so no trace is left: its whole
    line when it stands alone, or the marker and the spaces after it when it sits between
    words (else "one {{page 2}} two" would quote as "one  two")."""
    line_start = text.rfind("\n", 0, start) + 1
    line_end = text.find("\n", end)
    line_end = len(text) if line_end < 0 else line_end
    if not text[line_start:start].strip(" \t") and not text[end:line_end].strip(" \t"):
        return line_start, min(line_end + 1, len(text))
    if start > line_start and text[start - 1] in " \t":
        after = end
        while after < line_end and text[after] in " \t":
            after += 1
        return start, after
    return start, end


def _spans(starts: Sequence[tuple[int | str, int]], length: int) -> tuple[PageSpan, ...]:
    """Each page runs from its start to the next page's start (or the end); empty pages
    (two breaks in a row, a blank page) hold no text and are left out."""
    if not starts:
        return ()
    ends = [s for _, s in starts[1:]] + [length]
    return tuple(PageSpan(number, start, end)
                 for (number, start), end in zip(starts, ends, strict=True) if start < end)


def strip_page_markers(text: str) -> tuple[str, tuple[PageSpan, ...]]:
    """The text with its `{{page N}}` markers removed, and the pages they mark out.

    Text before the first marker has no page. Offsets are into the returned text, which is
    stripped of outer blank space as `normalise_text` leaves it; text without markers is
    returned unchanged."""
    parts: list[str] = []
    starts: list[tuple[int | str, int]] = []
    pos = length = 0
    for m in PAGE_MARKER.finditer(text):
        cut_start, cut_end = _cut(text, m.start(), m.end())
        cut_start = max(cut_start, pos)
        parts.append(text[pos:cut_start])
        length += cut_start - pos
        starts.append((page_number(m.group(1), len(starts) + 1), length))
        pos = max(cut_end, pos)
    if not starts:
        return text, ()
    parts.append(text[pos:])
    joined = "".join(parts)
    clean = joined.strip()
    lead = len(joined) - len(joined.lstrip())
    shifted = [(n, min(max(s - lead, 0), len(clean))) for n, s in starts]
    return clean, _spans(shifted, len(clean))


# A page's running header or footer: its digits masked, so "Page 3" and "Page 4" (or a
# bare page number) are one line.
_DIGITS = re.compile(r"\d+")
# Lines at each edge of a page that may be a running header or footer.
EDGE_LINES = 2
# A line is running when it sits at a page's edge on at least this share of the pages: under
# half, because books alternate them (the author on even pages, the title on odd ones) and
# a first page often has none.
RUNNING_SHARE = 0.4
# One page cannot tell a running line from its own first or last line; of two pages, a
# line must stand at the edge of both.
MIN_PAGES_FOR_RUNNING = 2
# The end of a sentence: a page that ends otherwise runs on to the next page.
_ENDS_SENTENCE = re.compile(r"[.!?][\"'’”)\]]*\s*$")


def _mask(line: str) -> str:
    return _DIGITS.sub("#", " ".join(line.split()))


def _edges(lines: list[str]) -> tuple[list[int], list[int]]:
    """Indexes of the first and the last `EDGE_LINES` non-blank lines."""
    full = [i for i, line in enumerate(lines) if line.strip()]
    return full[:EDGE_LINES], full[-EDGE_LINES:]


def running_lines(pages: Sequence[str]) -> frozenset[str]:
    """The running headers and footers of a PDF's pages, digits masked (`_mask`): lines that
    stand among the first or the last two of at least 40% of the pages (of two or more),
    such as the journal's name or "Page 3"."""
    if len(pages) < MIN_PAGES_FOR_RUNNING:
        return frozenset()
    seen: dict[str, int] = {}
    for page in pages:
        lines = page.split("\n")
        head, tail = _edges(lines)
        for key in {_mask(lines[i]) for i in head + tail}:
            seen[key] = seen.get(key, 0) + 1
    need = max(2, RUNNING_SHARE * len(pages))
    return frozenset(k for k, n in seen.items() if n >= need and k)


def _body(page: str, running: frozenset[str]) -> str:
    """The page less its running lines at either edge (never a line between two kept)."""
    lines = page.split("\n")
    head, tail = _edges(lines)
    start, end = 0, len(lines)
    for i in head:
        if _mask(lines[i]) not in running:
            break
        start = i + 1
    for i in reversed(tail):
        if i < start or _mask(lines[i]) not in running:
            break
        end = i
    return "\n".join(lines[start:end])


def join_pages(pages: Sequence[tuple[int | str, str]]) -> tuple[str, tuple[PageSpan, ...]]:
    """One text from (page number, page text) pairs, with each page's span. Running headers
    and footers (the same line at the top or bottom of most pages, page numbers too) are
    left out, and blank pages dropped. Pages are separated by a blank line, except where a
    page ends mid-sentence: there a line break, so that the sentence running on to the next
    page is read whole (`index.chunking.wraps`), not as two fragments. A page's span ends
    where the next page's text starts, so every offset of the text has a page."""
    texts = [raw.replace("\r\n", "\n").replace("\r", "\n") for _, raw in pages]
    running = running_lines(texts)
    text_parts: list[str] = []
    starts: list[tuple[int | str, int]] = []
    length = 0
    for (number, _), raw in zip(pages, texts, strict=True):
        # Per page, what `normalise_text` does to the whole: the joined text is the same.
        page = _body(raw, running).strip()
        if not page:
            continue
        if text_parts:
            gap = "\n\n" if _ENDS_SENTENCE.search(text_parts[-1]) else "\n"
            text_parts.append(gap)
            length += len(gap)
        starts.append((number, length))
        text_parts.append(page)
        length += len(page)
    return "".join(text_parts), _spans(starts, length)
