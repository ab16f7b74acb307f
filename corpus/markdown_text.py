"""A Markdown reading's inline markup read as the words it shows.

An instructor's notes in Markdown carry emphasis, links and code spans: quoted as written, a
student reads "its newspaper **Pravda** was shut" or "[the April Theses](https://...)".
Quotes are verbatim slices of a document's text, so the text itself is made the words a
Markdown viewer shows: "its newspaper Pravda was shut", "the April Theses". Only inline
markup changes. Lines, headings' "#", list markers, block quotes' ">", code blocks and
`{{page N}}` markers stay as written, so that everything that reads lines (headings, lists,
hard-wrapped text, pages) sees the file as before. Footnote markers become "[1]", as the
readings write theirs. markdown-it-py (CommonMark) parses it; a
block whose lines cannot be matched to its source is left as written.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

# Inline tokens whose own text is kept; the rest (emphasis, links' and images' brackets)
# show nothing of their own. Inline HTML stays as written: what a tag would show cannot be
# told without rendering it, and dropping a tag could drop words.
_SHOWN = frozenset({"text", "code_inline", "html_inline"})
_BREAKS = frozenset({"softbreak", "hardbreak"})
# A footnote definition's label, "[^1]:" or "[^note]:", opening its first line.
_LABEL = re.compile(r"^(\s*)\[\^[^\]\s]+\]:")


@functools.cache
def _parser() -> Any:
    from markdown_it import MarkdownIt
    from mdit_py_plugins.footnote import footnote_plugin

    return MarkdownIt("commonmark").use(footnote_plugin)


def plain_inline(body: str) -> str:
    """`body` with the inline markup of each paragraph and heading replaced by the text it
    shows (an image by its description); nothing else changes. Footnotes ("...
    Petrograd.[^1]", "[^1]: Rabinowitch, p. 135.") are numbered as a viewer numbers them
    and written as the readings write theirs, "[1]": a marker that the segmenter joins to
    its sentence and the quoter leaves out of a quote."""
    lines = body.split("\n")
    note: int | None = None  # the number of the footnote whose definition comes next
    for token in _parser().parse(body, {}):
        if token.type == "footnote_open":
            note = int(token.meta["id"]) + 1
        if token.type != "inline" or token.map is None or not token.children:
            continue
        first, end = token.map
        shown = _render(token.children)
        _replace(lines, first, end, token.content.split("\n"), shown.split("\n"))
        if note is not None:
            lines[first] = _LABEL.sub(rf"\g<1>[{note}]", lines[first], count=1)
            note = None
    return "\n".join(lines)


def _render(children: Sequence[Any]) -> str:
    out = []
    for child in children:
        if child.type in _SHOWN:
            out.append(child.content)
        elif child.type in _BREAKS:
            out.append("\n")
        elif child.type == "footnote_ref":
            out.append(f"[{int(child.meta['id']) + 1}]")
        elif child.type == "image":
            # The description is the image's children, as a viewer shows it when the image
            # cannot load.
            out.append(_render(child.children or []))
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
