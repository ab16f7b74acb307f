"""BibTeX and RIS for the documents an answer cites, for a student's reference manager.

Built from the same metadata mapping as the formatted references (`rag.cite`): names split
the same way, dates only when ISO, nothing invented. The entries are written by maintained
libraries (bibtexparser, rispy), with LaTeX escaping by pylatexenc.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote as url_quote

import bibtexparser
import rispy
from bibtexparser.model import Entry, Field
from pylatexenc.latexencode import UnicodeToLatexEncoder

from corpus.document import Document
from rag.cite import CitationStyleError, authors, clean_text, date_parts, is_web

FORMATS = ("bibtex", "ris")
_BIB_KEY_UNSAFE = re.compile(r"[^A-Za-z0-9_:-]")


@lru_cache(maxsize=1)
def _latex() -> UnicodeToLatexEncoder:
    return UnicodeToLatexEncoder(non_ascii_only=False, unknown_char_policy="keep",
                                 replacement_latex_protection="braces-almost-all")


def latex_escape(text: str) -> str:
    """Text for a BibTeX field: LaTeX's special ASCII characters escaped by pylatexenc
    (braces included, so a value can never unbalance its entry), other Unicode kept as it is
    (the file is UTF-8, which biber and bibtexu read)."""
    out = []
    for ch in clean_text(text):
        if ord(ch) < 128 and not ch.isalnum() and ch not in " .,:;'!?()[]-/=+*@`":
            out.append(_latex().unicode_to_latex(ch))
        else:
            out.append(ch)
    return "".join(out)


def _bib_name(name: dict[str, str]) -> str:
    """One BibTeX name: "Family, Given" for a person, {Whole Name} for an organisation (the
    braces stop BibTeX from splitting it into given and family names)."""
    if "literal" in name:
        return "{" + latex_escape(name["literal"]) + "}"
    parts = [latex_escape(name["family"])]
    if "suffix" in name:
        parts.append(latex_escape(name["suffix"]))
    if "given" in name:
        parts.append(latex_escape(name["given"]))
    return ", ".join(parts)


def _safe_url(url: str) -> str:
    """A url for BibTeX's verbatim url field: characters that could close the field or end
    the line are percent-encoded; the rest is kept."""
    return url_quote(clean_text(url), safe="/:?#[]@!$&'()*+,;=%-._~")


def bib_key(doc: Document, taken: set[str]) -> str:
    """A BibTeX key from the document id, unique among `taken`."""
    base = _BIB_KEY_UNSAFE.sub("-", doc.id) or "reading"
    key, n = base, 2
    while key in taken:
        key, n = f"{base}-{n}", n + 1
    taken.add(key)
    return key


def bibtex(docs: Iterable[Document]) -> str:
    """A BibTeX file (UTF-8) with one @misc entry per reading, written by bibtexparser.

    @misc, not biblatex's @online, so classic BibTeX styles read it too; `date` (ISO) is
    there for biblatex, `year` for BibTeX. Titles are brace-protected, so a style that
    lowercases titles keeps "Soviets" capitalised."""
    library = bibtexparser.Library()
    taken: set[str] = set()
    for doc in docs:
        fields = [Field("title", "{" + latex_escape(doc.title or doc.id) + "}")]
        names = authors(doc.author)
        if names:
            fields.append(Field("author", " and ".join(_bib_name(n) for n in names)))
        parts = date_parts(doc.date)
        if parts:
            fields.append(Field("year", str(parts[0])))
            fields.append(Field("date", "-".join(f"{p:02d}" for p in parts)))
        if clean_text(doc.publisher):
            fields.append(Field("howpublished" if is_web(doc) else "publisher",
                                latex_escape(doc.publisher or "")))
        if clean_text(doc.url):
            fields.append(Field("url", _safe_url(doc.url or "")))
        library.add(Entry("misc", bib_key(doc, taken), fields))
    return str(bibtexparser.write_string(library))


def _ris_date(parts: Sequence[int]) -> str:
    """RIS DA: "YYYY/MM/DD/" with the parts given (RIS leaves missing ones empty)."""
    padded = [f"{parts[0]:04d}", *(f"{p:02d}" for p in parts[1:])]
    return "/".join(padded + [""] * (3 - len(padded))) + "/"


def ris(docs: Iterable[Document]) -> str:
    """An RIS file (written by rispy): ELEC (web page) or GEN (document) records."""
    records = []
    for doc in docs:
        rec: dict[str, Any] = {"type_of_reference": "ELEC" if is_web(doc) else "GEN",
                               "id": clean_text(doc.id), "title": clean_text(doc.title) or doc.id}
        names = authors(doc.author)
        if names:
            rec["authors"] = [n["literal"] if "literal" in n else ", ".join(
                n[k] for k in ("family", "given", "suffix") if k in n) for n in names]
        parts = date_parts(doc.date)
        if parts:
            rec["year"] = str(parts[0])
            rec["date"] = _ris_date(parts)
        if clean_text(doc.publisher):
            rec["secondary_title" if is_web(doc) else "publisher"] = clean_text(doc.publisher)
        if clean_text(doc.url):
            rec["urls"] = [clean_text(doc.url)]
        records.append(rec)
    return str(rispy.dumps(records, implementation=_RisWriter))


class _RisWriter(rispy.RisWriter):
    """rispy's writer without its "1." line before each record, which is not RIS."""

    def set_header(self, count: int) -> str:
        return ""


def export(docs: Iterable[Document], fmt: str) -> str:
    """`bibtex(docs)` or `ris(docs)` by name."""
    if fmt == "bibtex":
        return bibtex(docs)
    if fmt == "ris":
        return ris(docs)
    raise CitationStyleError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
