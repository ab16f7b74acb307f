"""Citations in the course's style (rag/cite.py), the card's "Copy citation" button, and the
BibTeX/RIS export (GET /api/cite). Expected strings are written out by hand from the style
guides' rules; each test says which rule it follows."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import bibtexparser
import pytest
import rispy
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pdf_helpers import text_pdf
from pipeline_helpers import tiny_pipeline

from corpus.document import Document
from corpus.loaders import load_file
from rag import bibexport, cite
from rag.settings import Settings, SettingsError
from ui.render import render_answer

READINGS = Path(__file__).resolve().parents[1] / "corpus" / "readings"
LIH_QUOTE = "Our slogan consists of three words: вся власть советам, vsya vlast’ sovetam."
PDF_QUOTE = "Dual power cannot last for long."


@pytest.fixture(scope="module")
def lih() -> Document:
    """The Lih article: author Lars T. Lih, date 2014-08-18, publisher and url null."""
    doc = load_file(READINGS / "lih-all-power-to-the-soviets.md")[0]
    assert (doc.author, doc.date, doc.publisher, doc.url) == ("Lars T. Lih", "2014-08-18",
                                                              None, None)
    return doc


@pytest.fixture(scope="module")
def pdf_doc(tmp_path_factory: pytest.TempPathFactory) -> Document:
    """A PDF reading with title and author metadata (no date, no publisher) and two pages."""
    path = tmp_path_factory.mktemp("pdf") / "notes.pdf"
    path.write_bytes(text_pdf([["Councils met in every town that spring."],
                           [PDF_QUOTE, "One power must give way."]],
                          b"<< /Title (Notes on Dual Power) /Author (Jane Smith) >>"))
    doc = load_file(path)[0]
    assert (doc.title, doc.author, doc.date, doc.publisher) == ("Notes on Dual Power",
                                                                "Jane Smith", None, None)
    return doc


def _pdf_pages(doc: Document) -> tuple[object, object]:
    start = doc.text.index(PDF_QUOTE)
    return doc.pages_for(start, start + len(PDF_QUOTE))


# -- the acceptance examples: three styles x {Lih, a PDF reading} ----------------------------

# Chicago 18 author-date. Web page (CMOS 14.104, 15.51): Author. Year. "Title." Site, Month
# Day. URL. -- no site and no url here, so both are left out. Names in full, family first
# (15.12); headline-style title (8.159); period inside the closing quotation mark (6.9).
# In text (15.23): (Author Year), no page for a web page without one.
LIH_CHICAGO = ("“Our slogan consists of three words: вся власть советам, vsya vlast’ sovetam.” "
               "(Lih 2014)\n\n"
               "Lih, Lars T. 2014. “‘All Power to the Soviets’: Biography of a Slogan.” "
               "August 18.")
# MLA 9. Author. Title. Publisher, Date, Location. -- a self-contained work's title is in
# italics (plain text here; see the HTML test), no publisher or url: left out; day month year
# with abbreviated month (MLA 5.84). In text (6.2): (Author), no page when there is none.
LIH_MLA = ("“Our slogan consists of three words: вся власть советам, vsya vlast’ sovetam.” "
           "(Lih)\n\n"
           "Lih, Lars T. ‘All Power to the Soviets’: Biography of a Slogan. 18 Aug. 2014.")
# APA 7. Webpage (10.16): Author, A. A. (Year, Month Day). Title. Site. URL. -- initials
# (9.8), no site or url. In text (8.10): (Author, Year). The title keeps the reading's own
# capitalisation: APA wants sentence case, which this one already is; CSL never re-cases it.
LIH_APA = ("“Our slogan consists of three words: вся власть советам, vsya vlast’ sovetam.” "
           "(Lih, 2014)\n\n"
           "Lih, L. T. (2014, August 18). ‘All Power to the Soviets’: Biography of a slogan.")

# The PDF: a self-contained document with author and title, no date. Chicago: "n.d." for no
# date (CMOS 15.44), with a comma in text: (Smith, n.d., 2); title in italics (HTML).
PDF_CHICAGO = ("“Dual power cannot last for long.” (Smith, n.d., 2)\n\n"
               "Smith, Jane. n.d. Notes on Dual Power.")
# MLA 9: no date is simply left out (MLA 2.119 lists only the elements a source has); the page
# follows the name with no comma (6.2): (Smith 2).
PDF_MLA = ("“Dual power cannot last for long.” (Smith 2)\n\n"
           "Smith, Jane. Notes on Dual Power.")
# APA 7: (n.d.) for no date (9.17), "p." before the page in text (8.13).
PDF_APA = ("“Dual power cannot last for long.” (Smith, n.d., p. 2)\n\n"
           "Smith, J. (n.d.). Notes on Dual Power.")


@pytest.mark.parametrize("style, expected", [("chicago-author-date", LIH_CHICAGO),
                                             ("mla", LIH_MLA), ("apa", LIH_APA)])
def test_lih_copied_citation_matches_the_style_guide(lih: Document, style: str,
                                                      expected: str) -> None:
    start = lih.text.index(LIH_QUOTE)
    pages = lih.pages_for(start, start + len(LIH_QUOTE))
    assert cite.copy_text(lih, LIH_QUOTE, style, *pages).text == expected


@pytest.mark.parametrize("style, expected", [("chicago-author-date", PDF_CHICAGO),
                                             ("mla", PDF_MLA), ("apa", PDF_APA)])
def test_pdf_copied_citation_matches_the_style_guide(pdf_doc: Document, style: str,
                                                     expected: str) -> None:
    assert _pdf_pages(pdf_doc) == (2, 2)
    assert cite.copy_text(pdf_doc, PDF_QUOTE, style, *_pdf_pages(pdf_doc)).text == expected


def test_a_quote_across_two_pages_cites_the_range(pdf_doc: Document) -> None:
    # Chicago and MLA: the bare range with an en dash; APA: "pp." for pages (8.13).
    assert cite.in_text(pdf_doc, "chicago-author-date", 2, 3).text == "(Smith, n.d., 2–3)"
    assert cite.in_text(pdf_doc, "mla", 2, 3).text == "(Smith 2–3)"
    assert cite.in_text(pdf_doc, "apa", 2, 3).text == "(Smith, n.d., pp. 2–3)"


def test_html_keeps_the_styles_italics(lih: Document, pdf_doc: Document) -> None:
    # MLA and APA italicise a self-contained work's title; Chicago quotes a web page's title.
    assert "<i>‘All Power to the Soviets’: Biography of a Slogan</i>" in cite.reference(
        lih, "mla").html
    assert "<i>Notes on Dual Power</i>" in cite.reference(pdf_doc, "apa").html
    assert "<i>" not in cite.reference(lih, "chicago-author-date").html


def test_a_web_article_with_site_and_url() -> None:
    # The Red Pepper reading: the site is the container (Chicago 15.51, MLA 2.75, APA 10.16).
    doc = load_file(READINGS / "redpepper-dual-power.md")[0]
    url = "https://www.redpepper.org.uk/key-words/key-words-dual-power/"
    assert cite.reference(doc, "chicago-author-date").text == (
        f"Price, Wayne. 2025. “Key Words: Dual Power.” Red Pepper, October 31. {url}.")
    assert cite.reference(doc, "mla").text == (
        f"Price, Wayne. “Key Words: Dual Power.” Red Pepper, 31 Oct. 2025, {url}.")
    assert cite.reference(doc, "apa").text == (
        f"Price, W. (2025, October 31). Key words: Dual Power. Red Pepper. {url}")


# -- missing metadata is left out, never invented --------------------------------------------


def test_an_unsigned_undated_reading_starts_with_its_title_once() -> None:
    # No author: the title moves to the author's place (CMOS 15.32, MLA 2.18, APA 9.12), and
    # appears once (CSL suppresses the variable that stood in).
    doc = load_file(READINGS / "dual-power-overview.md")[0]
    assert doc.author == "Encyclopedia-style overview (unsigned)" and doc.date is None
    assert cite.reference(doc, "chicago-author-date").text == "“Dual Power.” n.d."
    assert cite.reference(doc, "mla").text == "Dual Power."  # MLA: no date, no "n.d."
    assert cite.reference(doc, "apa").text == "Dual power. (n.d.)."


@pytest.mark.parametrize("style", list(cite.STYLES))
def test_nothing_is_invented(style: str) -> None:
    doc = Document(id="bare", text="x", title="A bare reading", source="bare.pdf")
    ref = cite.copy_text(doc, "x", style).text
    for invented in ("Anonymous", "Unknown", "Accessed", "http", "Retrieved", "Preprint"):
        assert invented not in ref
    assert ("n.d." in ref) == (style != "mla")
    bib = bibexport.bibtex([doc])
    assert "author" not in bib and "year" not in bib and "url" not in bib
    assert set(rispy.loads(bibexport.ris([doc]))[0]) == {"type_of_reference", "id", "title"}


def test_names() -> None:
    assert cite.authors("Lars T. Lih") == [{"family": "Lih", "given": "Lars T."}]
    assert cite.authors("Lih, Lars T.") == [{"family": "Lih", "given": "Lars T."}]
    # An organisation stays whole, never split into "Resistance, B.".
    assert cite.authors("Beyond Resistance") == [{"literal": "Beyond Resistance"}]
    assert cite.authors("Socialist Worker (unsigned)") == []
    assert cite.authors(None) == [] and cite.authors("  ") == []


def test_dates() -> None:
    assert cite.date_parts("2014-08-18") == [2014, 8, 18]
    assert cite.date_parts("2017") == [2017]
    assert cite.date_parts("Spring 2019") is None  # not guessed at
    assert cite.date_parts("2014-13-01") is None


# -- citeproc-py's gaps, filled in (see rag/cite.py's docstring) ------------------------------


def test_citeproc_gaps_stay_filled(lih: Document) -> None:
    chicago = cite.reference(lih, "chicago-author-date").text
    assert chicago.startswith("Lih, Lars T.")  # initialize="false"
    assert "Slogan.”" in chicago and "”." not in chicago  # punctuation-in-quote
    assert cite.in_text(lih, "mla").text == "(Lih)"  # disambiguate="true" is false


# -- BibTeX and RIS ---------------------------------------------------------------------------


def test_bibtex_round_trips(lih: Document, pdf_doc: Document) -> None:
    lib = bibtexparser.parse_string(bibexport.bibtex([lih, pdf_doc, lih]))
    assert not lib.failed_blocks
    keys = [e.key for e in lib.entries]
    assert keys == ["lih-all-power-to-the-soviets", "notes", "lih-all-power-to-the-soviets-2"]
    first = lib.entries[0]
    assert first.entry_type == "misc"
    assert first["title"] == "{‘All Power to the Soviets’: Biography of a slogan}"
    assert first["author"] == "Lih, Lars T."
    assert (first["year"], first["date"]) == ("2014", "2014-08-18")
    assert "url" not in first.fields_dict and "howpublished" not in first.fields_dict
    assert lib.entries[1]["author"] == "Smith, Jane"


def test_bibtex_escapes_and_protects() -> None:
    doc = Document(id="odd id/1", text="x", title="50% of {GDP} & $5_a#b ~c^d \\e",
                   author="Beyond Resistance", publisher="A & B", url="https://x.org/a b{c}",
                   source="odd.md")
    entry = bibtexparser.parse_string(bibexport.bibtex([doc])).entries[0]
    assert entry.key == "odd-id-1"
    assert entry["title"] == ("{50{\\%} of {\\{}GDP{\\}} {\\&} {\\$}5{\\_}a{\\#}b "
                              "{\\textasciitilde}c{\\textasciicircum}d {\\textbackslash}e}")
    assert entry["author"] == "{Beyond Resistance}"  # braces: one corporate name
    assert entry["howpublished"] == "A {\\&} B"
    assert entry["url"] == "https://x.org/a%20b%7Bc%7D"


def test_ris_round_trips(lih: Document) -> None:
    red = load_file(READINGS / "redpepper-dual-power.md")[0]
    text = bibexport.ris([lih, red])
    assert text.startswith("TY  - ELEC\n")  # no "1." line before a record: not RIS
    records = rispy.loads(text)
    assert records[0] == {"type_of_reference": "ELEC", "id": "lih-all-power-to-the-soviets",
                          "title": "‘All Power to the Soviets’: Biography of a slogan",
                          "authors": ["Lih, Lars T."], "year": "2014", "date": "2014/08/18/"}
    assert records[1]["secondary_title"] == "Red Pepper"
    assert records[1]["urls"] == ["https://www.redpepper.org.uk/key-words/key-words-dual-power/"]


def _balanced(value: str) -> bool:
    depth = 0
    for token in re.findall(r"\\.|[{}]", value):
        depth += {"{": 1, "}": -1}.get(token, 0)
        if depth < 0:
            return False
    return depth == 0


metadata = st.text(max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=metadata, author=st.none() | metadata, publisher=st.none() | metadata,
       date=st.none() | metadata | st.dates().map(str), url=st.none() | metadata,
       suffix=st.sampled_from([".md", ".pdf"]))
def test_any_metadata_formats_and_exports_cleanly(title: str, author: str | None,
                                                  publisher: str | None, date: str | None,
                                                  url: str | None, suffix: str) -> None:
    doc = Document(id="d", text="quoted words", title=title, author=author,
                   publisher=publisher, date=date, url=url, source=f"d{suffix}")
    for style in cite.STYLES:
        copied = cite.copy_text(doc, "quoted words", style, 3, 4)
        assert copied.text.startswith("“quoted words” (")
        # The rich copy holds no markup but the formatter's own (see the next test).
        assert not re.search(r"[<>]", re.sub(r"</?(i|br)>", "", copied.html)), copied.html
    lib = bibtexparser.parse_string(bibexport.bibtex([doc]))
    assert not lib.failed_blocks and len(lib.entries) == 1
    assert all(_balanced(str(f.value)) for f in lib.entries[0].fields)
    records = rispy.loads(bibexport.ris([doc]))
    assert len(records) == 1 and records[0]["id"] == "d"


@pytest.mark.parametrize("style", list(cite.STYLES))
def test_metadata_markup_is_escaped_in_the_rich_copy(style: str) -> None:
    # citeproc-py's HTML formatter writes values unescaped; rag/cite.py escapes them first.
    doc = Document(id="x", text="t", title="<img src=x onerror=alert(1)> & co",
                   author="<b>Jane</b> Smith", source="x.pdf")
    html = cite.copy_text(doc, "a <script>", style).html
    assert "<img" not in html and "<b>" not in html and "<script>" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; co" in html.lower()


# -- the setting, the card and the export route -----------------------------------------------


def test_the_setting() -> None:
    assert Settings().citation_style == "chicago-author-date"
    assert Settings.load(env={"RAG_CITATION_STYLE": "apa"}).citation_style == "apa"
    with pytest.raises(SettingsError, match="citation_style must be one of"):
        Settings.load(env={"RAG_CITATION_STYLE": "harvard"})


def test_the_card_carries_the_citation_and_the_export_links(lih: Document) -> None:
    start = lih.text.index(LIH_QUOTE)
    answer = {"citations": [{"n": 1, "doc_id": lih.id, "title": lih.title, "quote": LIH_QUOTE,
                             "start": start, "end": start + len(LIH_QUOTE)}]}
    html = render_answer(answer, {lih.id: lih}, citation_style="mla", base_url="http://h")
    assert 'class="cr-copy"' in html and "(MLA)" in html
    # Escaped into the attribute, line breaks included: no raw newline for Markdown to see.
    assert "\n" not in html
    cited = re.search(r'class="cr-copy" value="([^"]*)"', html)
    assert cited and unescape(cited.group(1)) == cite.copy_text(lih, LIH_QUOTE, "mla").text
    # The rich copy, with MLA's italic title, in a hidden span.
    assert ('<span class="cr-cite-rich" hidden>“Our slogan' in html
            and "<i>‘All Power to the Soviets’: Biography of a Slogan</i>" in html)
    assert ('href="http://h/api/cite?doc_id=lih-all-power-to-the-soviets&amp;format=bibtex"'
            in html)
    assert 'download="sources.ris"' in html


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    from ui.server import create_app

    return TestClient(create_app(tiny_pipeline(tmp_path_factory.mktemp("rag-data"))))


def test_export_route(client: TestClient) -> None:
    ids = [d["id"] for d in client.get("/api/documents").json()][:2]
    r = client.get("/api/cite", params={"doc_id": ids, "format": "bibtex"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="sources.bib"'
    assert [e.key for e in bibtexparser.parse_string(r.text).entries] == ids
    r = client.get("/api/cite", params={"doc_id": ids[0], "format": "ris"})
    assert r.headers["content-type"].startswith("application/x-research-info-systems")
    assert len(rispy.loads(r.text)) == 1


def test_export_route_errors(client: TestClient) -> None:
    r = client.get("/api/cite", params={"doc_id": "no-such-reading"})
    assert r.status_code == 404 and r.json() == {
        "error": "unknown document id 'no-such-reading'; GET /api/documents lists them"}
    assert client.get("/api/cite").status_code == 422
    assert set(client.get("/api/cite?doc_id=x&format=pdf").json()) == {"error"}
    assert client.post("/api/cite").status_code == 405
    assert "/api/cite" in client.get("/openapi.json").json()["paths"]
