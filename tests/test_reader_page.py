"""The reader view (ui/reader_page.py, ui/reader_layout.py): blocks, lists, reader comments
with their authors, page markers, the back link, and a highlight that covers exactly
text[start:end] however it crosses them; nothing of the text lost or doubled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from corpus.document import Attribution, Document, PageSpan
from corpus.loaders import load_file
from corpus.pages import strip_page_markers
from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.reader_layout import layout
from ui.reader_page import render_article, render_reader_page
from ui.server import create_app

ROOT = Path(__file__).resolve().parents[1]
LIH = load_file(ROOT / "corpus" / "readings" / "lih-all-power-to-the-soviets.md")[0]
TINY = Path(__file__).parent / "data" / "tiny"
EVIL = '<img src=x onerror=alert(1)>'
ARTICLE_TAGS = {"article", "p", "ul", "li", "section", "h2", "span", "mark"}


def nonspace(text: str) -> str:
    return re.sub(r"\s+", "", text)


@dataclass
class Parsed:
    """What a reader sees in the article, and where the page put its own additions: each
    event is recorded with how many non-space characters of the reading came before it."""

    text: list[str] = field(default_factory=list)
    marks: list[str] = field(default_factory=list)
    mark_ids: list[str | None] = field(default_factory=list)
    mark_at: list[int] = field(default_factory=list)
    pages: list[tuple[str, int]] = field(default_factory=list)
    sections: list[tuple[str, int]] = field(default_factory=list)
    heads: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)

    @property
    def content(self) -> str:
        return "".join(self.text)

    def seen(self) -> int:
        return len(nonspace(self.content))


class _ArticleParser(HTMLParser):
    """Collects the article's text, leaving out elements of class `reader-aside`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Parsed()
        self.stack: list[tuple[str, bool, bool]] = []  # (tag, aside, mark)
        self.aside_text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.out.tags.add(tag)
        aside = "reader-aside" in (a.get("class") or "").split()
        if tag == "mark":
            self.out.marks.append("")
            self.out.mark_ids.append(a.get("id"))
            self.out.mark_at.append(self.out.seen())
        if tag == "section":
            self.out.sections.append((a.get("aria-label") or "", self.out.seen()))
        if aside:
            self.aside_text = []
        self.stack.append((tag, aside, tag == "mark"))

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1][0] == tag, (tag, self.stack)
        _, aside, _ = self.stack.pop()
        if aside:
            label = "".join(self.aside_text)
            if tag == "span":
                self.out.pages.append((label, self.out.seen()))
            else:
                self.out.heads.append(label)

    def handle_data(self, data: str) -> None:
        if any(aside for _, aside, _ in self.stack):
            self.aside_text.append(data)
            return
        self.out.text.append(data)
        if any(mark for _, _, mark in self.stack):
            self.out.marks[-1] += data


def parse(article: str) -> Parsed:
    p = _ArticleParser()
    p.feed(article)
    p.close()
    assert not p.stack
    return p.out


def check_span(doc: Document, start: int, end: int) -> Parsed:
    """The article for the span, with the invariants every rendering must keep."""
    out = parse(render_article(doc, start, end))
    assert out.tags <= ARTICLE_TAGS
    assert nonspace(out.content) == nonspace(doc.text)
    if 0 <= start < end <= len(doc.text) and doc.text[start:end].strip():
        assert nonspace("".join(out.marks)) == nonspace(doc.text[start:end])
        assert out.mark_ids[0] == "cited" and out.mark_ids.count("cited") == 1
        # The highlight starts on the span's first visible character, nowhere else.
        assert out.mark_at[0] == len(nonspace(doc.text[:start]))
    elif not 0 <= start < end <= len(doc.text):
        assert not out.marks
    return out


# -- synthetic documents -----------------------------------------------------------------

WORD = st.text(alphabet="ab<>&\"'é", min_size=1, max_size=6)
MARKER = st.sampled_from(["• ", "- ", "* ", "1. ", "12) "])


@st.composite
def blocks(draw: st.DrawFn) -> str:
    """A paragraph (maybe hard-wrapped) or a list (maybe with an intro line)."""
    if draw(st.booleans()):
        lines = draw(st.lists(st.lists(WORD, min_size=1, max_size=5), min_size=1, max_size=3))
        return "\n".join(" ".join(line) for line in lines)
    intro = draw(st.lists(WORD, max_size=3))
    entries = draw(st.lists(st.tuples(MARKER, st.lists(WORD, min_size=1, max_size=4)),
                            min_size=1, max_size=4))
    items = [m + " ".join(ws) for m, ws in entries]
    return "\n".join(([" ".join(intro)] if intro else []) + items)


@st.composite
def documents(draw: st.DrawFn) -> Document:
    """A document of paragraphs and lists, with attributions and pages at random offsets
    (or, half the time, at line starts, as real comments and pages mostly are)."""
    sep = draw(st.sampled_from(["\n\n", "\n \n", "\n\n\n"]))
    text = sep.join(draw(st.lists(blocks(), min_size=1, max_size=6)))
    n = len(text)
    line_starts = [0] + [m.end() for m in re.finditer(r"\n", text)]
    offset = (st.sampled_from(line_starts) if draw(st.booleans())
              else st.integers(0, n))
    cuts = sorted(draw(st.lists(offset, max_size=6)))
    authors = st.sampled_from(["Felipe Stuart C.", EVIL, "Jo & <b>Reader</b>"])
    roles = st.sampled_from(["reader comment", "translator's <note>"])
    attributions = tuple(Attribution(a, b, draw(authors), draw(roles))
                         for a, b in zip(cuts[::2], cuts[1::2], strict=False))
    starts = sorted(set(draw(st.lists(offset, max_size=5))))
    pages = tuple(PageSpan(i + 1, s, e) for i, (s, e)
                  in enumerate(zip(starts, [*starts[1:], n], strict=False)) if s < e)
    return Document(id="d", text=text, title="t", attributions=attributions, pages=pages)


@settings(max_examples=300, deadline=None)
@given(documents(), st.data())
def test_every_character_once_and_the_mark_exactly_on_the_span(doc: Document,
                                                              data: st.DataObject) -> None:
    n = len(doc.text)
    start = data.draw(st.integers(-2, n + 2))
    end = data.draw(st.integers(-2, n + 2))
    out = check_span(doc, start, end)
    text = doc.text
    # Words stay whole and apart wherever the structure does not cut inside a word.
    cuts = {x for a in doc.attributions for x in (a.start, a.end)}
    if all(c in (0, n) or text[c - 1].isspace() or text[c].isspace() for c in cuts):
        assert out.content.split() == text.split()
    # Each page marker sits just before the page's first visible character; a page with
    # any visible text has its marker.
    shown = [(label, at) for label, at in out.pages]
    numbers = [int(part.removeprefix("p. ")) for label, _ in shown for part in label.split(", ")]
    assert numbers == sorted(numbers)
    for label, at in shown:
        first = int(label.split(", ")[0].removeprefix("p. "))
        assert at == len(nonspace(text[:doc.pages[first - 1].start]))
    for p in doc.pages:
        if text[p.start:p.end].strip():
            assert p.number in numbers
    # One section per attribution with visible text, starting at its first character.
    visible = [a for a in layout(doc).comments if text[a.start:a.end].strip()]
    assert [at for _, at in out.sections] == [len(nonspace(text[:a.start])) for a in visible]
    assert [label for label, _ in out.sections] == [
        ("Comment by " if a.role == "reader comment" else "By ") + a.author for a in visible]


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_lih_reading_keeps_every_character_for_any_span(data: st.DataObject) -> None:
    n = len(LIH.text)
    # Spans near the comments half the time: that is where they cross the most structure.
    near = LIH.text.index("[8] The relevant")
    start = data.draw(st.one_of(st.integers(0, n - 1), st.integers(near, n - 1)))
    end = data.draw(st.integers(start + 1, min(n, start + 3000)))
    check_span(LIH, start, end)


# -- the Lih reading -----------------------------------------------------------------------

def test_lih_comments_are_marked_with_their_authors() -> None:
    article = render_article(LIH, None, None)
    out = parse(article)
    assert out.heads == ["Reader comments", "Comment by Felipe Stuart C.",
                         "Comment by Björn-Olav Kvidal"]
    assert [label for label, _ in out.sections] == ["Comment by Felipe Stuart C.",
                                                    "Comment by Björn-Olav Kvidal"]
    first = LIH.text.index("1. A fascinating and important contribution")
    assert out.sections[0][1] == len(nonspace(LIH.text[:first]))
    # The footnotes are Lih's: before the heading, outside any comment.
    heading = article.index("Reader comments</h2>")
    assert article.index("[8] The relevant excerpt") < heading < article.index(
        "1. A fascinating")
    assert article.count("<section") == 2 and not out.pages


def test_lih_lists_stay_lists() -> None:
    article = render_article(LIH, None, None)
    lists = re.findall(r'<ul class="reader-list">(.*?)</ul>', article, re.S)
    assert [len(re.findall("<li>", ul)) for ul in lists] == [3, 4, 4]
    bullet = '<li><span class="reader-bullet">{}</span>{}'
    assert bullet.format("1. ", "The tsarist vlast") in lists[0]
    assert bullet.format("3. ", "The Provisional") in lists[0]
    assert bullet.format("• ", "Constant re-elections ensure accountability</li>") in lists[2]
    # The numbered comment openings are paragraphs, not a list.
    assert "<p>1. A fascinating and important contribution from Lars Lih.</p>" in article


def test_a_span_from_the_footnotes_into_a_comment_is_highlighted_exactly() -> None:
    start = LIH.text.index("Martov’s essay is a valuable")
    end = LIH.text.index("As a Sandinista") + len("As a Sandinista")
    out = check_span(LIH, start, end)
    assert len(out.marks) == 3 and out.marks[0].startswith("Martov’s essay")
    assert out.marks[-1] == "As a Sandinista"


def test_page_shows_back_link_byline_and_commenters() -> None:
    page = render_reader_page(LIH, None, None, "/x/reader.css", chat_url="/course-chat/")
    assert '<a class="reader-back" href="/course-chat/">← Back to the chat</a>' in page
    assert ('Includes reader comments by <a href="#comments">Felipe Stuart C. and '
            'Björn-Olav Kvidal</a>') in page
    assert 'id="comments"' in page


# -- pages, escaping, the route ------------------------------------------------------------

PDF_LIKE, PDF_PAGES = strip_page_markers(
    "{{page 11}}\nFirst paragraph on page eleven.\n\nA paragraph that runs over {{page 12}} "
    "onto page twelve.\n\n{{page xiii}}\n• an item\n• another item")
PDF = Document(id="pdf", text=PDF_LIKE, title="Scanned", pages=PDF_PAGES)


def test_page_numbers_are_marked_where_pages_start() -> None:
    article = render_article(PDF, None, None)
    assert '<p><span class="reader-aside reader-page">p. 11</span>First paragraph' in article
    assert 'runs over <span class="reader-aside reader-page">p. 12</span>onto page' in article
    assert ('<ul class="reader-list">\n<li><span class="reader-aside reader-page">p. xiii'
            '</span><span class="reader-bullet">• </span>an item</li>') in article
    # A highlight across a page break is split around the marker, never wrapping it.
    start, end = PDF_LIKE.index("runs over"), PDF_LIKE.index("onto page") + 4
    out = check_span(PDF, start, end)
    assert out.marks == ["runs over ", "onto"]
    assert '</mark><span class="reader-aside reader-page">p. 12</span><mark>onto' in \
        render_article(PDF, start, end)


def test_names_and_labels_with_markup_are_text() -> None:
    text = "Body text.\n\nA comment."
    doc = Document(id=EVIL, text=text, title=EVIL, author=EVIL,
                   attributions=(Attribution(text.index("A comment"), len(text), EVIL),),
                   pages=(PageSpan(EVIL, 0, len(text)),))
    page = render_reader_page(doc, 0, 4, "x.css", chat_url='/"><script>')
    assert "<img" not in page and "<script>" not in page
    assert "Comment by &lt;img src=x onerror=alert(1)&gt;" in page
    assert "p. &lt;img src=x onerror=alert(1)&gt;" in page
    assert 'href="/&quot;&gt;&lt;script&gt;"' in page


@pytest.fixture(scope="module")
def proxied_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings.load(env={}, model="hash", corpus=str(TINY),
                             data_dir=str(tmp_path_factory.mktemp("rag-data")))
    pipeline = Pipeline.open(settings, status=lambda _: None, progress=False)
    with TestClient(create_app(pipeline, root_path="/course-chat")) as c:
        yield c


def test_the_route_links_back_to_the_chat_under_the_prefix(proxied_client: TestClient
                                                           ) -> None:
    page = proxied_client.get("/read/bees", params={"start": 0, "end": 5})
    assert page.status_code == 200
    assert 'class="reader-back" href="/course-chat/"' in page.text
    assert '<mark id="cited">' in page.text
