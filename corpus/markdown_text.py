"""A Markdown reading's inline markup read as the words it shows.

An instructor's notes in Markdown carry emphasis, links and code spans: quoted as written, a
student reads "its newspaper **Pravda** was shut" or "[the April Theses](https://...)".
Quotes are verbatim slices of a document's text, so the text itself is made the words a
Markdown viewer shows: "its newspaper Pravda was shut", "the April Theses". Only inline
markup changes. Lines, headings' "#", list markers, block quotes' ">", code blocks and
`{{page N}}` markers stay as written, so that everything that reads lines (headings, lists,
hard-wrapped text, pages) sees the file as before. markdown-it-py (CommonMark) parses it; a
block whose lines cannot be matched to its source is left as written.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

# Inline tokens whose own text is shown; the rest (emphasis, links' and images' brackets,
# inline HTML tags) show nothing of their own.
_SHOWN = frozenset({"text", "code_inline"})
_BREAKS = frozenset({"softbreak", "hardbreak"})


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark")


def plain_inline(body: str) -> str:
    """`body` with the inline markup of each paragraph and heading replaced by the text it
    shows (an image by its description); nothing else changes."""
    lines = body.split("\n")
    for token in _parser().parse(body):
        if token.type != "inline" or token.map is None or not token.children:
            continue
        first, end = token.map
        shown = _render(token.children)
        if shown is not None:
            _replace(lines, first, end, token.content.split("\n"), shown.split("\n"))
    return "\n".join(lines)


def _render(children: Sequence[Any]) -> str | None:
    out = []
    for child in children:
        if child.type in _SHOWN:
            out.append(child.content)
        elif child.type in _BREAKS:
            out.append("\n")
        elif child.type == "image":
            # The description is the image's children, as a viewer shows it when the image
            # cannot load.
            out.append(_render(child.children or []) or "")
    return "".join(out)


def _replace(lines: list[str], first: int, end: int, source: list[str],
             shown: list[str]) -> None:
    """Put `shown` in place of `source` in `lines[first:end]`, line by line, each where its
    source line sits after the block's prefix ("# ", "- ", "> "); or change nothing when
    the lines do not correspond one to one (a code span across a line break)."""
    if not (len(source) == len(shown) == end - first):
        return
    spots = []
    for n, (src, line) in enumerate(zip(source, lines[first:end], strict=True)):
        at = line.find(src) if src else -1
        if at < 0 and src:
            return
        spots.append((first + n, at, src))
    for (row, at, src), text in zip(spots, shown, strict=True):
        if at >= 0:
            line = lines[row]
            lines[row] = line[:at] + text.strip(" ") + line[at + len(src):]
