"""A PDF page's text with its superscript note numbers marked, as the readings mark theirs.

pypdf's text runs a note reference into its sentence: "the streets of Petrograd.1 The
Bolshevik leaders", "caution.12 Lenin". The number reads as part of the text (a decimal,
a count), the segmenter cannot see where the sentence ends, and a quote ends ".1". pypdf
reports each run of text with its font size and position (`visitor_text`), so a run of
one to three digits set smaller than the text before it on the same line is a superscript
or a subscript. Written "[1]", a note is the marker the segmenter joins to its sentence and
the quoter leaves out of a quote; an exponent or an index ("m2", "H2O") is written with
superscript or subscript digits ("m²", "H₂O"), as the HTML loader writes them
(`corpus.noterefs`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from corpus.noterefs import SCRIPT_CHARS, SCRIPTS, after_note_mark

_NUMBER = re.compile(r"^(\s*)(\d{1,3})(\s*)$")
# Set at most this share of the text before it, a run is set small.
SMALLER = 0.85
# A baseline this share of the font size above or below the text before it is raised or
# lowered; pypdf does not apply the text-rise operator, so a superscript set with it shows
# only its smaller size, and is taken as raised (notes far outnumber indexes in readings).
SHIFT = 0.15


@dataclass(frozen=True)
class _Run:
    text: str
    size: float
    baseline: float


def page_text(page: Any) -> str:
    """`page.extract_text()`, with small digit runs written as notes or scripts."""
    runs: list[_Run] = []

    def visit(text: str, cm: Any, tm: Any, font: Any, size: float) -> None:
        # The text matrix times the current transformation: the run's vertical scale and
        # its baseline in page space.
        c = tm[2] * cm[0] + tm[3] * cm[2]
        d = tm[2] * cm[1] + tm[3] * cm[3]
        f = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        runs.append(_Run(text, abs(size) * math.hypot(c, d), f))

    text = page.extract_text(visitor_text=visit) or ""
    if "".join(r.text for r in runs) != text:
        return text  # the runs do not add up to the text: leave it as pypdf gives it
    out: list[str] = []
    before: _Run | None = None  # the last run of text on this line
    for run in runs:
        if "\n" in run.text:
            before = None
        elif (before is not None and (m := _NUMBER.match(run.text))
              and (kind := _script(run, before)) is not None):
            # pypdf may put a space before the number where the gap looks like one; a
            # superscript sits against what it marks ("Petrograd.[1]", not "Petrograd. [1]",
            # which would open the next sentence).
            out.append(_written(m.group(2), kind, "".join(out)) + m.group(3))
            continue
        elif run.text.strip():
            before = run
        out.append(run.text)
    return "".join(out)


def _script(run: _Run, before: _Run) -> str | None:
    """"sup" or "sub" for a (digit) run set small beside `before` on its line, else None."""
    if before.size <= 0:
        return None
    if run.size > SMALLER * before.size:
        return None
    lowered = before.baseline - run.baseline > SHIFT * before.size
    return "sub" if lowered else "sup"


def _written(number: str, kind: str, text_before: str) -> str:
    """A superscript after punctuation or a word is a note, "[12]"; after a digit or a
    letter or two ("10", "m", "cm") it is an exponent, "⁶"; a subscript is an index, "₂"."""
    if kind == "sup" and after_note_mark(text_before):
        return f"[{number}]"
    assert all(c in SCRIPT_CHARS for c in number)
    return number.translate(SCRIPTS[kind])
