"""Superscript note numbers in a PDF's text (corpus/pdftext.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pdf_helpers import pdf_file

from corpus.loaders import load_file
from corpus.noterefs import SCRIPTS
from corpus.pdftext import page_text
from index.chunking import sentences

UPRIGHT = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


class FakePage:
    """What pypdf's page gives `page_text`: runs of (text, font size, baseline)."""

    def __init__(self, runs: Sequence[tuple[str, float, float]]) -> None:
        self.runs = runs

    def extract_text(self, visitor_text: object = None) -> str:
        for text, size, baseline in self.runs:
            visit: Any = visitor_text
            visit(text, UPRIGHT, (1.0, 0.0, 0.0, 1.0, 0.0, baseline), {}, size)
        return "".join(t for t, _, _ in self.runs)


def test_notes_exponents_and_indexes() -> None:
    page = FakePage([
        ("the streets of Petrograd.", 12, 700), ("1", 8, 704), (" The leaders", 12, 700),
        ("\n", 12, 0), ("Lenin", 12, 686), ("12", 8, 690), (" fled, covering 5 m", 12, 686),
        ("2", 8, 690), (" of H", 12, 686), ("2", 8, 683), ("O.", 12, 686), ("\n", 12, 0),
        ("3", 8, 676), (" A note line starts with its number.", 8, 672),
        ("\n", 12, 0), ("Page", 12, 650), (" 12", 12, 650),
    ])
    assert page_text(page) == (
        "the streets of Petrograd.[1] The leaders\nLenin[12] fled, covering 5 m² of H₂O.\n"
        "3 A note line starts with its number.\nPage 12")


_RUN = st.tuples(st.sampled_from(["Lenin", " fled.", "1", "12", " 3", "\n", " ", "m", "10",
                                  ",", "2x", ""]),
                 st.sampled_from([6.0, 8.0, 12.0]), st.sampled_from([700.0, 703.0, 697.0]))


@settings(max_examples=300, deadline=None, derandomize=True)
@given(runs=st.lists(_RUN, max_size=12))
def test_only_small_digit_runs_change_and_nothing_else(runs: list[tuple[str, float, float]]
                                                       ) -> None:
    text = "".join(t for t, _, _ in runs)
    out = page_text(FakePage(runs))
    back = out.translate({ord(c): None for c in "[]"})
    for kind in ("sup", "sub"):
        back = back.translate({v: k for k, v in SCRIPTS[kind].items()})
    # Undo the marking and the page's own text comes back, character for character, but
    # for the space pypdf may put before a superscript.
    assert "".join(back.split()) == "".join(text.split())
    if all(size == 12.0 for _, size, _ in runs) or not any(
            t.strip() in ("1", "12", "10", "3") for t, _, _ in runs):
        assert out == text


def _two_size_pdf() -> bytes:
    """One line set in 12 pt with a note number in 8 pt, raised, after "Petrograd."."""
    ops = (b"BT /F1 12 Tf 72 720 Td (In early July soldiers filled the streets of Petrograd.) "
           b"Tj ET BT /F1 8 Tf 393 724 Td (1) Tj ET "
           b"BT /F1 12 Tf 398 720 Td ( The Bolshevik leaders hesitated.) Tj ET")
    return pdf_file([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [5 0 R] /Count 1 >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Title (July) >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 6 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream",
    ], info=4)


def test_a_pdf_note_number_stays_with_its_sentence(tmp_path: Path) -> None:
    (tmp_path / "july.pdf").write_bytes(_two_size_pdf())
    (doc,) = load_file(tmp_path / "july.pdf")
    said = [doc.text[s:e] for s, e in sentences(doc.text)]
    assert said[0] == "In early July soldiers filled the streets of Petrograd.[1]", doc.text
