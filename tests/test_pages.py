"""Page numbers: a PDF's pages and Markdown's `{{page N}}` markers, through to each citation's
`page_start`/`page_end` and the chat's source card."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pdf_helpers import text_pdf

from corpus.document import Document, PageSpan
from corpus.loaders import load_file
from corpus.pages import PAGE_MARKER, join_pages, running_lines, strip_page_markers
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.cli import main
from ui.render import render_answer


def _pdf(pages: list[list[str]], page_labels: bytes = b"") -> bytes:
    """A PDF with one page per list of lines; `page_labels` is an optional /PageLabels entry
    for the catalog."""
    return text_pdf(pages, b"<< /Title (Field Notes) /Author (P. Author) >>", page_labels)


PAGE_1 = "Beekeepers harvest golden honey from wooden hives in late summer."
PAGE_2 = "Glaciers carve deep valleys over many thousands of years."
PAGE_3 = "Volcanoes erupt molten rock and grey ash across the plain."
PDF_PAGES = [[PAGE_1, "Worker bees guard the entrance of the colony."],
             [PAGE_2, "Meltwater from the glacier feeds rivers in the spring."],
             [PAGE_3, "Lava cools into black basalt near the coast."]]
# A sentence that runs from page 2 onto page 3 of the original, as a Markdown reading.
TREATY = """---
title: The Peace
---
{{page 1}}
The armistice talks began in December 1917 at the fortress.

{{page 2}}
Delegates argued about borders and grain for many weeks.

The Treaty of Brest-Litovsk was signed {{page 3}} in March 1918 by the Bolshevik government.

{{page 4}}
The peace ended the Russian part in the war.
"""
SPANNING = "The Treaty of Brest-Litovsk was signed in March 1918 by the Bolshevik government."


@pytest.fixture
def paged_corpus(tmp_path: Path) -> Path:
    corpus = tmp_path / "readings"
    corpus.mkdir()
    (corpus / "field-notes.pdf").write_bytes(_pdf(PDF_PAGES))
    (corpus / "peace.md").write_text(TREATY, encoding="utf-8")
    (corpus / "plain.md").write_text("# Plain\n\nOwls hunt small mice at night in the barn.\n",
                                     encoding="utf-8")
    return corpus


def _cite(corpus: Path, question: str, phrase: str,
          capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    """Ask through `rag ask --json` and return the citation whose quote holds `phrase`."""
    code = main(["ask", question, "--json", "--corpus", str(corpus), "--model", "hash",
                 "--mode", "bm25", "-k", "3"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    matching = [c for c in data["citations"] if phrase in c["quote"]]
    assert matching, data["citations"]
    return matching[0]


def test_pdf_pages_are_recorded_with_each_page_s_text(tmp_path: Path) -> None:
    path = tmp_path / "field-notes.pdf"
    path.write_bytes(_pdf(PDF_PAGES))
    (doc,) = load_file(path)
    assert [p.number for p in doc.pages] == [1, 2, 3]
    for span, lines in zip(doc.pages, PDF_PAGES, strict=True):
        assert all(line in doc.text[span.start:span.end] for line in lines)
    # Contiguous: every character of the text is on some page.
    assert doc.pages[0].start == 0 and doc.pages[-1].end == len(doc.text)
    assert all(a.end == b.start for a, b in zip(doc.pages, doc.pages[1:], strict=False))
    start = doc.text.index(PAGE_2)
    assert doc.pages_for(start, start + len(PAGE_2)) == (2, 2)
    across = doc.text.index(PDF_PAGES[1][1])
    assert doc.pages_for(across, doc.text.index(PAGE_3) + 5) == (2, 3)


def test_pdf_page_labels_are_the_printed_numbers(tmp_path: Path) -> None:
    path = tmp_path / "book.pdf"
    # Roman numerals for the front matter, then 1, 2, ... as printed.
    path.write_bytes(_pdf(PDF_PAGES, b"/PageLabels << /Nums [0 << /S /r >> 2 << /S /D >>] >> "))
    (doc,) = load_file(path)
    assert [p.number for p in doc.pages] == ["i", "ii", 1]
    start = doc.text.index(PAGE_2)
    assert doc.pages_for(start, start + 10) == ("ii", "ii")


def test_citations_carry_their_pages(paged_corpus: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--corpus", str(paged_corpus), "--model", "hash"]) == 0
    capsys.readouterr()
    first = _cite(paged_corpus, "Who harvests golden honey from wooden hives?", PAGE_1, capsys)
    assert (first["doc_id"], first["page_start"], first["page_end"]) == ("field-notes", 1, 1)
    second = _cite(paged_corpus, "What carves deep valleys over thousands of years?", PAGE_2,
                   capsys)
    assert (second["page_start"], second["page_end"]) == (2, 2)
    spanning = _cite(paged_corpus, "When was the Treaty of Brest-Litovsk signed?",
                     "signed in March 1918", capsys)
    assert spanning["doc_id"] == "peace"
    assert (spanning["page_start"], spanning["page_end"]) == (2, 3)
    # The marker is not part of the quote, and the offsets point at the clean text.
    assert spanning["quote"] == SPANNING
    plain = _cite(paged_corpus, "What do owls hunt at night in the barn?", "Owls", capsys)
    assert (plain["page_start"], plain["page_end"]) == (None, None)
    # The terminal's source line names the pages too.
    assert main(["ask", "When was the Treaty of Brest-Litovsk signed?", "--corpus",
                 str(paged_corpus), "--model", "hash"]) == 0
    assert "(pp. 2–3, chars " in capsys.readouterr().out


def test_markdown_markers_become_pages_and_leave_no_trace(tmp_path: Path) -> None:
    path = tmp_path / "peace.md"
    path.write_text(TREATY, encoding="utf-8")
    (doc,) = load_file(path)
    assert "{{" not in doc.text and SPANNING in doc.text
    assert [p.number for p in doc.pages] == [1, 2, 3, 4]
    start = doc.text.index(SPANNING)
    assert doc.pages_for(start, start + len(SPANNING)) == (2, 3)
    assert doc.text.startswith("The armistice talks")


def test_documents_without_pages_serialise_as_before() -> None:
    doc = Document(id="a", text="Some text.", title="A")
    assert "pages" not in doc.to_dict()
    paged = Document(id="a", text="Some text.", title="A", pages=(PageSpan("xii", 0, 10),))
    assert paged.to_dict()["pages"] == [{"number": "xii", "start": 0, "end": 10}]
    assert Document.from_dict(json.loads(json.dumps(paged.to_dict()))) == paged
    assert paged.content_hash != doc.content_hash
    # An index saved before pages existed has no "pages" key and still loads.
    old = {k: v for k, v in doc.to_dict().items() if k != "pages"}
    assert Document.from_dict(old).pages == ()


@st.composite
def paged_documents(draw: st.DrawFn) -> tuple[Document, int, int]:
    """A document with pages (possibly starting after some unpaged text, as Markdown can),
    and a span of its text."""
    length = draw(st.integers(1, 200))
    cuts = sorted(draw(st.sets(st.integers(0, length - 1), min_size=1, max_size=12)))
    bounds = [*cuts, length]
    pages = tuple(PageSpan(i + 1, a, b) for i, (a, b) in enumerate(zip(bounds, bounds[1:],
                                                                        strict=False)))
    start = draw(st.integers(0, length - 1))
    end = draw(st.integers(start + 1, length))
    return Document(id="d", text="x" * length, title="D", pages=pages), start, end


@given(paged_documents())
def test_pages_for_names_the_pages_a_span_overlaps(case: tuple[Document, int, int]) -> None:
    doc, start, end = case
    first, last = doc.pages_for(start, end)
    overlapping = [p.number for p in doc.pages if p.start < end and start < p.end]
    if start >= doc.pages[0].start:
        assert first == overlapping[0] and last == overlapping[-1]
    else:
        # Text before the first page has no page; the end's page is still known if paged.
        assert first is None
        assert last == (overlapping[-1] if end > doc.pages[0].start else None)


_WORDS = st.text(st.sampled_from("abc xyz.\n"), min_size=0, max_size=40)
_LABELS = st.one_of(st.integers(1, 999).map(str), st.sampled_from(["i", "xii", "A-3"]))
_SEPARATORS = st.sampled_from(["", " ", "\n", "\n\n", " \n", "\t"])


@given(st.lists(st.tuples(_LABELS, _SEPARATORS, _WORDS, _SEPARATORS), min_size=1,
                max_size=8, unique_by=lambda t: t[0]),
       _WORDS)
def test_page_markers_map_each_page_s_words_to_its_span(
        pages: list[tuple[str, str, str, str]], lead: str) -> None:
    marked = lead.strip() + "".join(f"{before}{{{{page {label}}}}}{after}{words}"
                                    for label, before, words, after in pages)
    text, spans = strip_page_markers(marked)
    assert not PAGE_MARKER.search(text)
    assert text == text.strip()
    by_label = {str(s.number): s for s in spans}
    for label, _, words, _ in pages:
        # Each page's words (less outer blank space, which may go with a marker) are
        # within its span, and a page with no words has none.
        if words.strip():
            span = by_label[label]
            assert words.strip() in text[span.start:span.end]
    for a, b in zip(spans, spans[1:], strict=False):
        assert 0 <= a.start < a.end <= b.start < b.end <= len(text)


@given(st.lists(st.text(st.sampled_from("ab .\n\r"), max_size=30), min_size=1, max_size=6))
def test_join_pages_keeps_each_page_s_text_in_its_span(texts: list[str]) -> None:
    from corpus.loaders import normalise_text

    text, spans = join_pages(list(enumerate(texts, start=1)))
    running = running_lines([t.replace("\r\n", "\n").replace("\r", "\n") for t in texts])
    assert text == normalise_text(text)
    by_number = {s.number: s for s in spans}
    for n, raw in enumerate(texts, start=1):
        page = normalise_text(raw)
        if page and not running:
            span = by_number[n]
            assert text[span.start:span.start + len(page)] == page
        if n in by_number:  # what a page keeps is its own text, in its own span
            span = by_number[n]
            assert normalise_text(text[span.start:span.end]) in page
    assert not spans or (spans[0].start == 0 and spans[-1].end == len(text))
    for a, b in zip(spans, spans[1:], strict=False):
        # A blank line between pages, or one line break where a page ends mid-sentence.
        gap = text[a.start:b.start][len(normalise_text(text[a.start:b.start])):]
        assert gap in ("\n", "\n\n")


_HEADER = "Journal of Field Studies"
_RUNNING_PAGES = [
    [_HEADER, "Bees fan their wings to cool the hive on hot afternoons, and the", "1"],
    [_HEADER, "workers carry water back to the comb in their crops.", "2"],
    [_HEADER, "Glaciers carve deep valleys over many thousands of years.", "3"],
]


def test_a_two_page_reading_loses_its_running_header_too() -> None:
    pages = ["\n".join(p) for p in _RUNNING_PAGES[:2]]
    text, _ = join_pages(list(enumerate(pages, start=1)))
    assert text == "\n".join([_RUNNING_PAGES[0][1], _RUNNING_PAGES[1][1]])


def test_running_headers_and_page_numbers_are_left_out() -> None:
    pages = ["\n".join(p) for p in _RUNNING_PAGES]
    assert running_lines(pages) == {_HEADER, "#"}
    text, spans = join_pages(list(enumerate(pages, start=1)))
    assert _HEADER not in text and not any(line.strip().isdigit() for line in text.split("\n"))
    # Page 1 ends mid-sentence: one line break, so the sentence is read whole.
    assert "and the\nworkers carry" in text
    assert "comb in their crops.\n\nGlaciers" in text
    assert [text[s.start:s.end].strip() for s in spans][2] == _RUNNING_PAGES[2][1]


@pytest.mark.parametrize(("pages", "line"), [
    # One page cannot tell a running line from its own first line.
    ([["Notes", "Bees fan their wings.", "Notes"]], "Notes"),
    # Of two pages, a line must stand at the edge of both.
    ([["Notes", "Bees fan their wings."],
      ["Ants farm fungus.", "More.", "Notes", "Yet more.", "End.", "Fin."]], "Notes"),
    # A line repeated away from the pages' edges is the text's own.
    ([[f"Bee {n}.", f"Ant {n}.", "Same line.", f"Moth {n}.", f"Wasp {n}.", f"Fly {n}."]
      for n in "abc"], "Same line."),
])
def test_lines_that_are_not_running_are_kept(pages: list[list[str]], line: str) -> None:
    texts = ["\n".join(p) for p in pages]
    assert line not in running_lines(texts)
    text, _ = join_pages(list(enumerate(texts, start=1)))
    assert text.count(line) == sum(p.count(line) for p in pages)


def test_a_sentence_running_on_to_the_next_pdf_page_is_quoted_whole(tmp_path: Path) -> None:
    path = tmp_path / "field.pdf"
    path.write_bytes(_pdf(_RUNNING_PAGES))
    settings = Settings.load(env={}, model="hash", corpus=str(tmp_path),
                             data_dir=str(tmp_path / "data"), abstain_threshold=-1.0)
    pipeline = Pipeline.open(settings, status=lambda _: None, progress=False)
    answer = pipeline.ask("What do the workers carry back to the comb?")
    quote = answer.citations[0]
    assert " ".join(quote.quote.split()) == (
        "Bees fan their wings to cool the hive on hot afternoons, and the workers carry "
        "water back to the comb in their crops.")
    assert (quote.page_start, quote.page_end) == (1, 2)


def _answer(page_start: object, page_end: object) -> dict[str, object]:
    return {"abstained": False, "citations": [
        {"n": 1, "doc_id": "d", "title": "Field Notes", "quote": "Bees.", "start": 0, "end": 5,
         "page_start": page_start, "page_end": page_end}], "passages": []}


def test_the_source_card_shows_the_page() -> None:
    assert '<span class="cr-pages"> p. 12</span>' in render_answer(_answer(12, 12), {})
    assert "pp. 12–13" in render_answer(_answer(12, 13), {})
    assert "p. xii" in render_answer(_answer("xii", None), {})
    assert "cr-pages" not in render_answer(_answer(None, None), {})
    # Pages come back from the browser's storage: never trusted as HTML.
    hostile = render_answer(_answer("<b>x</b>", "<b>x</b>"), {})
    assert "<b>x</b>" not in hostile and "p. &lt;b&gt;x&lt;/b&gt;" in hostile
    assert "cr-pages" not in render_answer(_answer(True, {"a": 1}), {})


WRAPPED_PAGE = ["Dual power arose in Petrograd after the February Revolution, when the",
                "Soviet and the Provisional Government both claimed authority. Lenin argued",
                "that this could not last. The councils of workers grew quickly in the spring",
                "and soon every town in Russia had one."]


def test_a_pdf_s_wrapped_lines_are_quoted_as_whole_sentences(tmp_path: Path) -> None:
    corpus = tmp_path / "pdfs"
    corpus.mkdir()
    (corpus / "notes.pdf").write_bytes(_pdf([WRAPPED_PAGE]))
    settings = Settings.load(env={}, model="hash", corpus=str(corpus),
                             data_dir=str(tmp_path / "data"), abstain_threshold=-1.0)
    pipeline = Pipeline.open(settings, status=lambda _: None, progress=False)
    answer = pipeline.ask("What did Lenin argue could not last?")
    quotes = [c.quote for c in answer.citations]
    assert "Lenin argued\nthat this could not last." in quotes or any(
        q.endswith("Lenin argued\nthat this could not last.") for q in quotes)
    text = pipeline.documents["notes"].text
    for c in answer.citations:
        assert text[c.start:c.end] == c.quote
        assert c.quote[0].isupper() and c.quote.endswith(".")  # a sentence, not a line
