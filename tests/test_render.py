"""HTML rendering of answers: everything escaped, quotes highlighted in context, sources listed."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.document import Attribution, Document
from rag.types import ABSTAIN_TEXT, TENTATIVE_TEXT
from ui.reader_page import render_reader_page
from ui.render import (
    esc,
    render_answer,
    render_question,
    safe_url,
)

EVIL = '<img src=x onerror=alert(1)><script>alert("x")</script>'
TEXT = ("First paragraph about bees.\n\nHoney bees collect nectar from flowers. They store it "
        "in wax cells.\n\nComment: I love bees. " + EVIL)
DOC = Document(id="bees", text=TEXT, title="Bees & <b>honey</b>", author="A. Keeper",
               date="2020-01-01", url="https://example.org/bees?a=1&b=2", publisher="Hive Press",
               attributions=(Attribution(TEXT.index("Comment:"), len(TEXT), "Jo <Reader>"),))
DOCS = {"bees": DOC}


def cite(n: int, quote: str, *, doc: Document = DOC, role: str | None = None,
         author: str | None = "A. Keeper", url: str | None = None) -> dict[str, Any]:
    """A citation dict as `Answer.to_dict()` makes it, for `quote` found in `doc`."""
    start = doc.text.index(quote)
    para_start = doc.text.rfind("\n\n", 0, start)
    para_end = doc.text.find("\n\n", start)
    return {"n": n, "doc_id": doc.id, "title": doc.title, "author": author,
            "url": doc.url if url is None else url, "date": doc.date, "quote": quote,
            "start": start, "end": start + len(quote), "score": 0.9, "role": role,
            "passage_start": 0 if para_start < 0 else para_start + 2,
            "passage_end": len(doc.text) if para_end < 0 else para_end}


def answer(*citations: dict[str, Any], abstained: bool = False,
           passages: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """An answer dict."""
    return {"question": "q", "answer": "a", "abstained": abstained, "confidence": 0.5,
            "citations": list(citations), "passages": passages or [], "settings": {}}


class _Tags(HTMLParser):
    """Collects start tags with attributes, and fails on nothing: just for inspection."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags(markup: str) -> list[tuple[str, dict[str, str | None]]]:
    """All start tags in markup."""
    p = _Tags()
    p.feed(markup)
    return p.tags


def assert_no_active_content(markup: str) -> None:
    """No script/img/iframe tags, no on* handlers, no javascript: links."""
    for tag, attrs in tags(markup):
        assert tag not in {"script", "img", "iframe", "object", "embed", "style", "b"}, tag
        assert not any(a.startswith("on") for a in attrs), attrs
        assert not str(attrs.get("href", "")).lower().startswith("javascript:")


def test_quote_is_marked_inside_its_passage_with_a_marker_and_a_source() -> None:
    out = render_answer(answer(cite(1, "Honey bees collect nectar from flowers.")), DOCS)
    assert "<mark>Honey bees collect nectar from flowers.</mark> They store it in wax cells." \
        in out
    assert '“Honey bees collect nectar from flowers.”<a class="cr-marker" href="#cr-src-1">' in out
    assert '<li class="cr-source" id="cr-src-1">' in out
    assert "Bees &amp; &lt;b&gt;honey&lt;/b&gt;" in out  # title escaped, not bold
    assert '<time class="cr-date">2020-01-01</time>' in out and "Hive Press" in out
    assert 'href="https://example.org/bees?a=1&amp;b=2"' in out
    assert "/read/bees?start=" in out
    assert_no_active_content(out)


def test_reader_comment_shows_the_commenter_and_role_escaped() -> None:
    c = cite(1, "Comment: I love bees.", role="reader comment", author="Jo <Reader>")
    out = render_answer(answer(c), DOCS)
    assert 'Jo &lt;Reader&gt; <span class="cr-role">(reader comment)</span>' in out
    assert "A. Keeper" not in out


def test_document_text_with_markup_is_shown_as_text() -> None:
    out = render_answer(answer(cite(1, "Comment: I love bees.")), DOCS)
    assert html.escape(EVIL) in out
    assert_no_active_content(out)


def test_several_citations_are_numbered_in_order() -> None:
    out = render_answer(answer(cite(1, "Honey bees collect nectar from flowers."),
                               cite(2, "They store it in wax cells.")), DOCS, uid="cr4")
    assert out.index(">1]</a>") < out.index(">2]</a>")
    assert [a.get("id") for t, a in tags(out) if t == "li"] == ["cr4-src-1", "cr4-src-2"]


def test_unsafe_urls_are_not_links() -> None:
    for url in ("javascript:alert(1)", " JaVaScRiPt:alert(1)", "data:text/html,<script>",
                "vbscript:x", "//evil.example", "ftp://x"):
        assert safe_url(url) is None, url
        c = cite(1, "They store it in wax cells.", url=url)
        out = render_answer(answer(c), {"bees": Document(**{**DOC.__dict__, "url": url})})
        assert "Original source" not in out
        assert_no_active_content(out)
    assert safe_url("https://example.org/x") == "https://example.org/x"


def test_abstention_looks_different_and_lists_related_passages() -> None:
    related = [{"doc_id": "bees", "start": 0, "end": 27, "text": "First paragraph about bees.",
                "score": 0.1},
               {"doc_id": "gone", "start": 0, "end": 5, "text": EVIL, "score": 0.05}]
    out = render_answer(answer(abstained=True, passages=related), DOCS)
    assert "cr-abstain" in out and "Not in the readings" in out
    assert esc(ABSTAIN_TEXT) in out
    assert "Possibly related passages" in out and "First paragraph about bees." in out
    assert "<mark>" not in out and "cr-quote" not in out
    assert_no_active_content(out)


def test_related_passage_marks_its_best_sentence_and_links_to_it() -> None:
    start = TEXT.index("Honey bees")
    end = TEXT.index("They store")
    para_end = TEXT.index("\n\nComment")
    related = [{"doc_id": "bees", "start": start, "end": para_end,
                "text": TEXT[start:para_end], "score": 0.1,
                "best_start": TEXT.index("They store"), "best_end": para_end},
               # A span outside its passage is ignored, never trusted.
               {"doc_id": "bees", "start": 0, "end": 27, "text": "First paragraph about bees.",
                "score": 0.05, "best_start": start, "best_end": end}]
    out = render_answer(answer(abstained=True, passages=related), DOCS)
    assert out.count("<mark>") == 1
    assert "<mark>They store it in wax cells.</mark>" in out
    assert f"start={TEXT.index('They store')}&amp;end={para_end}" in out
    assert_no_active_content(out)


def test_abstention_shows_its_reason_as_text() -> None:
    data = {**answer(abstained=True), "abstain_reason": f"They never mention {EVIL}."}
    out = render_answer(data, DOCS)
    assert esc(ABSTAIN_TEXT) in out and 'class="cr-reason"' in out
    assert esc(f"They never mention {EVIL}.") in out
    assert_no_active_content(out)


def test_stale_citation_falls_back_to_the_bare_quote() -> None:
    c = {**cite(1, "They store it in wax cells."), "quote": "Something the text no longer says."}
    out = render_answer(answer(c), DOCS)
    assert '<blockquote class="cr-context"><mark>Something the text no longer says.</mark>' in out
    assert "/read/" not in out
    missing = render_answer(answer({**c, "doc_id": "deleted"}), DOCS)
    assert "<mark>Something the text no longer says.</mark>" in missing


def test_output_has_no_newlines_so_markdown_never_touches_it() -> None:
    out = render_answer(answer(cite(1, "Honey bees collect nectar from flowers.")), DOCS)
    assert "\n" not in out
    assert "\n" not in render_question("line one\n\nline two *not emphasis*")


def test_long_context_is_trimmed_at_word_boundaries() -> None:
    text = "word " * 200 + "The quoted sentence. " + "tail " * 200
    doc = Document(id="long", text=text, title="Long")
    c = cite(1, "The quoted sentence.", doc=doc)
    c.update(passage_start=0, passage_end=len(text))
    out = render_answer(answer(c), {"long": doc})
    context = re.search(r'<blockquote class="cr-context">(.*?)</blockquote>', out).group(1)
    assert context.startswith("… word") and context.endswith("tail …")
    assert len(context) < 600


@given(st.text(max_size=200))
def test_any_question_is_escaped(question: str) -> None:
    out = render_question(question)
    assert all(tag == "p" or tag == "br" for tag, _ in tags(out))
    assert "\n" not in out


# No deadline: each card now formats its citation with citeproc (~60 ms), and a timing limit
# on a shared machine would make this an accidental timed test.
@settings(deadline=None)
@given(st.text(min_size=1, max_size=80), st.text(max_size=80), st.text(max_size=80))
def test_any_document_text_is_escaped(quote: str, before: str, after: str) -> None:
    text = before + quote + after
    doc = Document(id="d", text=text, title=before or "t", author=after or None)
    c = {"n": 1, "doc_id": "d", "title": doc.title, "author": doc.author, "url": None,
         "date": None, "quote": quote, "start": len(before), "end": len(before) + len(quote),
         "score": 1.0, "role": None, "passage_start": 0, "passage_end": len(text)}
    out = render_answer(answer(c), {"d": doc})
    # button, i: the card's "Copy citation" and its rich copy (rag/cite.py's italics).
    allowed = {"section", "h3", "h4", "div", "p", "a", "span", "ol", "li", "blockquote", "mark",
               "br", "time", "button", "i"}
    assert {t for t, _ in tags(out)} <= allowed
    assert_no_active_content(out)


def test_reader_page_highlights_the_span_and_escapes_everything() -> None:
    start = TEXT.index("Honey bees")
    page = render_reader_page(DOC, start, start + 39, "/ui-static/reader.css")
    assert '<mark id="cited">Honey bees collect nectar from flowers.</mark>' in page
    assert "<title>Bees &amp; &lt;b&gt;honey&lt;/b&gt;</title>" in page
    assert html.escape(EVIL) in page
    assert_no_active_content(page.replace('<link rel="stylesheet"', "<x"))
    # Offsets out of range: the document without a highlight, never an error.
    for s, e in ((None, None), (-5, 3), (10, 5), (0, 10**9)):
        assert "<mark" not in render_reader_page(DOC, s, e, "x.css")


def test_a_tentative_answer_says_it_may_not_answer_before_its_quotes() -> None:
    quote = "Honey bees collect nectar from flowers."
    out = render_answer({**answer(cite(1, quote)), "tentative": True}, DOCS)
    note = out.index('class="cr-tentative"')
    assert "May not answer" in out and html.escape(TENTATIVE_TEXT) in out
    assert note < out.index('class="cr-quote"')
    assert 'class="cr-tentative"' not in render_answer(answer(cite(1, quote)), DOCS)
    # A refusal is never tentative, whatever the flag says.
    refused = render_answer({**answer(abstained=True), "tentative": True}, DOCS)
    assert "cr-tentative" not in refused
