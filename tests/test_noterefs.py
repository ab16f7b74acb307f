"""HTML note references and superscripts as text (corpus/noterefs.py)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.loaders import html_to_text, load_file
from corpus.noterefs import mark_note_refs
from index.chunking import sentences

PAGE = """<html><head><title>The July Days</title></head><body><article>
<p>In early July 1917 armed soldiers filled the streets of Petrograd.<sup><a href="#fn1"
id="r1">1</a></sup> The Bolshevik leaders were caught between the crowd and their own
caution.<sup>2</sup> Lenin fled to Finland<sup class="fn">3</sup> in July, and the party
went <a epub:type="noteref" href="#n4">4</a> underground for several weeks.</p>
<p>The Provisional Government counted 5 m<sup>2</sup> of posters, 10<sup>-6</sup> of the
city's H<sub>2</sub>O, and the 19<sup>th</sup> century's lessons were not forgotten.</p>
<ol><li id="fn1">Rabinowitch, Prelude to Revolution, p. 135. <a href="#r1">↩</a></li></ol>
</article></body></html>"""


def test_note_references_become_bracketed_markers() -> None:
    text = html_to_text(PAGE)
    assert "Petrograd.[1] The Bolshevik" in text
    assert "caution.[2] Lenin fled to Finland[3] in July" in text
    assert "went [4] underground" in text
    assert "↩" not in text


def test_exponents_and_indexes_keep_their_meaning() -> None:
    text = html_to_text(PAGE)
    assert "5 m² of posters, 10⁻⁶ of the" in text and "H₂O" in text
    assert "19th century" in text  # a word in a superscript is no number


def test_the_marker_stays_with_its_sentence(tmp_path: Path) -> None:
    (tmp_path / "july.html").write_text(PAGE, encoding="utf-8")
    (doc,) = load_file(tmp_path / "july.html")
    said = [doc.text[s:e] for s, e in sentences(doc.text)]
    assert "In early July 1917 armed soldiers filled the streets of Petrograd.[1]" in said


def test_an_epub_page_with_its_xml_declaration() -> None:
    """EPUB pages open with an XML declaration, which lxml refuses in a str."""
    page = ('<?xml version="1.0" encoding="utf-8"?>\n<html xmlns:epub="http://www.idpf.org/'
            '2007/ops"><body><p>Soldiers filled the streets of Petrograd.<a epub:type="noteref"'
            ' href="#n1">1</a> The leaders hesitated for many long days that summer.</p>'
            "</body></html>")
    assert "Petrograd.[1] The leaders" in html_to_text(page)


def test_an_epub_footnote_aside_is_kept_with_its_label() -> None:
    """Main-text extraction drops an <aside>; an EPUB 3 footnote is one."""
    page = ('<html xmlns:epub="http://www.idpf.org/2007/ops"><body><p>Soldiers filled the '
            'streets of Petrograd.<a epub:type="noteref" href="#n1">1</a> The leaders '
            "hesitated for many long days that summer.</p>"
            '<aside epub:type="footnote" id="n1"><p>Rabinowitch, <i>Prelude to '
            "Revolution</i>, p. 135.</p></aside>"
            "<p>Lenin fled to Finland and Trotsky was arrested by the government.</p>"
            "</body></html>")
    text = html_to_text(page)
    assert "\n\n[1] Rabinowitch, Prelude to Revolution, p. 135.\n\n" in text


def test_a_page_without_notes_is_left_as_it_is() -> None:
    page = "<html><body><p>The soviets met <b>daily</b> in 1917.</p></body></html>"
    assert mark_note_refs(page) is page


_PIECES = st.sampled_from([
    "<p>", "</p>", "<sup>", "</sup>", "<sub>", "</sub>", '<a href="#n1">', "</a>", "↩", "1",
    "12", "-", "x", "Lenin.", " ", "<b>", "</b>", '<a epub:type="noteref">', "&amp;", "<",
    '<?xml version="1.0" encoding="utf-8"?>', "\x00",
])


@settings(max_examples=150, deadline=None, derandomize=True)
@given(pieces=st.lists(_PIECES, max_size=30))
def test_any_markup_gives_text_or_the_page_back(pieces: list[str]) -> None:
    page = "".join(pieces)
    out = mark_note_refs(page)
    assert isinstance(out, str)
    # Nothing is invented: every letter of the result was in the page.
    assert set(c for c in out if c.isalpha()) <= set(c for c in page if c.isalpha()) | set(
        "htmlbodypsupa")
