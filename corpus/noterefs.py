"""Footnote references in HTML written as the readings write theirs: "[1]".

A web page or an EPUB marks a note with a superscript number, often a link to the note:
`Petrograd.<sup><a href="#fn1">1</a></sup> The`. As text that is "Petrograd.1 The": the
number runs into the sentence (it reads as a decimal, and the segmenter does not know where
the sentence ends), and a quote ends "...of Petrograd.1". Written "[1]", it is the marker
the segmenter joins to its sentence and the quoter leaves out of a quote. A note's link back
to its reference ("↩") is dropped: it is a control, not text. A superscript or subscript
number that is no note (an exponent, a formula's index) is written with superscript or
subscript digits, "10⁶", "H₂O", rather than run into the number before it.
"""

from __future__ import annotations

import re
from typing import Any

from corpus.html_meta import parse_html

# What a note reference shows: a number, a letter or a symbol, perhaps in brackets.
_NOTE_LABEL = re.compile(r"^\[?\(?([0-9]{1,3}|[a-z]|[*†‡§¶])\)?\]?$")
_BACK_LINK = frozenset({"↩", "↩︎", "↑", "^"})
_EPUB_TYPE = "{http://www.idpf.org/2007/ops}type"
# Digits and signs as superscript and subscript characters.
SCRIPT_CHARS = "0123456789+-−"
SCRIPTS = {"sup": str.maketrans(SCRIPT_CHARS, "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁻"),
           "sub": str.maketrans(SCRIPT_CHARS, "₀₁₂₃₄₅₆₇₈₉₊₋₋")}
_NOTE_NAME = re.compile(r"fn|note|ref|cite", re.I)
# After these, a superscript number is a note: "...of Petrograd.¹", "“...”²".
_PUNCTUATION = frozenset('.,;:!?)]”"’\'')


def mark_note_refs(html: str) -> str:
    """`html` with each note reference replaced by "[label]" and back links removed; the
    page as given when it has none, or cannot be parsed."""
    lowered = html.lower()
    if not any(k in lowered for k in ("<sup", "<sub", "noteref", "footnote", "endnote")) and (
            not any(b in html for b in _BACK_LINK)):
        return html
    import lxml.html

    root = parse_html(html)
    if root is None:
        return html
    changed = False
    labels: dict[str, str] = {}  # a note's id -> the label its reference shows
    for el in list(root.iter("sup", "sub", "a")):
        label = (el.text_content() or "").strip()
        if el.tag == "a" and label in _BACK_LINK and (el.get("href") or "").startswith("#"):
            _replace(el, "")
        elif el.tag != "sub" and _is_reference(el) and (m := _NOTE_LABEL.match(label)):
            for a in el.iter("a"):
                labels[(a.get("href") or "").lstrip("#")] = m.group(1)
            _replace(el, f"[{m.group(1)}]")
        elif el.tag in SCRIPTS and len(el) == 0 and label and all(
                c in SCRIPT_CHARS for c in label):
            # An exponent or an index ("m<sup>2</sup>", "10<sup>6</sup>", "H<sub>2</sub>O"):
            # flattened, "106 cells" would misstate the reading; "10⁶ cells" does not.
            _replace(el, label.translate(SCRIPTS[el.tag]))
        else:
            continue
        changed = True
    for note in list(root.iter("aside")):
        # An EPUB 3 footnote is an <aside>, which main-text extraction drops as a sidebar:
        # the note's words would be lost. As a paragraph opening with its label, it reads as
        # the readings' own notes do ("[1] Rabinowitch, ...").
        kinds = _kinds(note)
        if "footnote" in kinds or "endnote" in kinds:
            note.tag = "div"
            label = labels.get(note.get("id", ""))
            if label is not None:
                first = next((p for p in note.iter("p") if p.text_content().strip()), note)
                first.text = f"[{label}] " + (first.text or "").lstrip()
            changed = True
    return lxml.html.tostring(root, encoding="unicode") if changed else html


def _is_reference(el: Any) -> bool:
    """A link marked as a note reference (EPUB's epub:type="noteref", role="doc-noteref"), or
    one in a superscript; a superscript holding an in-page link, or named as a note ("fn",
    "note", "ref", "cite" in its class or id), or after punctuation or a word
    (`after_note_mark`). Not one after a number or a letter or two: "m²", "10⁶"."""
    parent = el.getparent()
    if el.tag == "a":
        return "noteref" in _kinds(el) or (parent is not None and parent.tag == "sup")
    if parent is not None and parent.tag == "a":
        return False  # the link around it decides
    if any((a.get("href") or "").startswith("#") for a in el.iter("a")):
        return True
    if _NOTE_NAME.search(f"{el.get('class', '')} {el.get('id', '')}"):
        return True
    return after_note_mark(_text_before(el))


def _kinds(el: Any) -> str:
    """What an element says it is: its EPUB type (namespaced, or as an HTML parser reads
    `epub:type`) and its ARIA role ("noteref", "footnote", "doc-endnote")."""
    return f"{el.get(_EPUB_TYPE, '')} {el.get('epub:type', '')} {el.get('role', '')}"


def after_note_mark(text_before: str) -> bool:
    """Whether a superscript number after `text_before` is a note reference: it follows
    punctuation ("Petrograd.¹", "crisis,⁴") or a word of three letters or more ("Lenin³");
    after a number or a short unit ("10⁶", "m²", "cm³") it is an exponent."""
    t = text_before.rstrip()
    if t[-1:] in _PUNCTUATION:
        return True
    word = re.search(r"[^\W\d_]+$", t)
    return word is not None and len(word.group()) >= 3


def _text_before(el: Any) -> str:
    prev = el.getprevious()
    if prev is not None:
        return prev.tail or ""
    parent = el.getparent()
    return (parent.text or "") if parent is not None else ""


def _replace(el: Any, text: str) -> None:
    """Put `text` where `el` was, keeping the text that follows it."""
    tail = el.tail or ""
    parent = el.getparent()
    if parent is None:
        return
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + text + tail
    else:
        parent.text = (parent.text or "") + text + tail
    parent.remove(el)
