"""The reader view in real Chromium against the real server: Lih's reader comments are marked
with their authors, the back link reaches the chat, and a highlight that crosses into a
comment covers exactly the cited characters. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium, running_server, screenshot_path

from corpus.document import Document
from corpus.pages import strip_page_markers
from ui.reader_page import render_reader_page

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIH = "lih-all-power-to-the-soviets"
CSS = Path(__file__).resolve().parents[1] / "ui" / "static" / "reader.css"


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp: Path = tmp_path_factory.mktemp("reader-server")
    with running_server(tmp / "rag-data", tmp / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def page(base: str) -> Iterator[Any]:
    """One Chromium page (module-scoped: Playwright's sync API holds this thread's loop)."""
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        yield context.new_page()
        browser.close()


def lih_text(base: str) -> str:
    with urllib.request.urlopen(f"{base}/api/documents/{LIH}", timeout=10) as r:
        return str(json.load(r)["text"])


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_comments_are_marked_with_who_wrote_them(base: str, page: Any) -> None:
    page.goto(f"{base}/read/{LIH}")
    page.screenshot(path=screenshot_path("reader-top"))
    heading = page.get_by_role("heading", name="Reader comments")
    assert heading.count() == 1
    heading.scroll_into_view_if_needed()
    for name in ("Felipe Stuart C.", "Björn-Olav Kvidal"):
        head = page.locator(".reader-comment-head", has_text=f"Comment by {name}")
        assert head.count() == 1
        head.scroll_into_view_if_needed()
        assert head.is_visible()
        # The header heads the comment's own box, which starts with the comment's text.
        box = page.get_by_role("region", name=f"Comment by {name}")
        assert box.count() == 1
    # The footnotes before the heading stay Lih's, outside any comment box.
    assert page.locator(".reader-comment", has_text="[8] The relevant excerpt").count() == 0
    # Where the comments begin: the end of Lih's footnotes, the heading, the first comment.
    top = page.evaluate("document.getElementById('comments').getBoundingClientRect().top"
                        " + window.scrollY")
    page.evaluate(f"window.scrollTo(0, {top} - 260)")
    page.screenshot(path=screenshot_path("reader-comments"))
    # The whole comments region (both comment boxes' starts), as one tall image.
    second = page.evaluate("document.querySelectorAll('.reader-comment')[1]"
                           ".getBoundingClientRect().top + window.scrollY")
    page.screenshot(path=screenshot_path("reader-comments-region"), full_page=True,
                    clip={"x": 0, "y": top - 260, "width": 1280, "height": second - top + 700})


def test_lists_stay_lists(base: str, page: Any) -> None:
    page.goto(f"{base}/read/{LIH}")
    items = page.locator("article ul.reader-list > li")
    assert items.count() == 11
    assert items.nth(0).inner_text().startswith("1. The tsarist vlast")
    items.nth(3).scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("reader-list"))


PAGED = ("{{page 11}}\nThe first page begins here. " + "Words run on for a while. " * 12
         + "\n\nA paragraph that runs over {{page 12}} onto page twelve, mid-sentence.\n\n"
         "{{page 13}}\n• a bulleted item on page thirteen\n• and another item")


@pytest.mark.parametrize("width", [1280, 390])
def test_page_numbers_show_in_the_margin_or_inline(page: Any, width: int) -> None:
    text, pages = strip_page_markers(PAGED)
    doc = Document(id="paged", text=text, title="A scanned chapter", author="A. Author",
                   pages=pages)
    start = text.index("runs over")
    html = render_reader_page(doc, start, text.index("twelve") + 6, "about:blank")
    page.set_viewport_size({"width": width, "height": 700})
    page.set_content(html)
    page.add_style_tag(path=str(CSS))
    markers = page.locator(".reader-page")
    assert markers.all_inner_texts() == ["p. 11", "p. 12", "p. 13"]
    text_box = page.locator("article p").first.bounding_box()
    first = markers.first.bounding_box()
    assert text_box and first
    if width > 1000:  # in the margin, left of the text column
        assert first["x"] + first["width"] <= text_box["x"]
    else:  # inline, inside the column
        assert first["x"] >= text_box["x"]
    page.screenshot(path=screenshot_path(f"reader-pages-{width}"))
    page.set_viewport_size({"width": 1280, "height": 900})


def test_back_link_reaches_the_chat(base: str, page: Any) -> None:
    page.goto(f"{base}/read/{LIH}")
    back = page.get_by_role("link", name="← Back to the chat")
    assert back.is_visible()
    back.click()
    page.wait_for_url(f"{base}/")
    page.locator("textarea").first.wait_for(state="visible", timeout=60_000)


def test_a_highlight_into_a_comment_covers_exactly_the_span(base: str, page: Any) -> None:
    text = lih_text(base)
    start = text.index("Martov’s essay is a valuable")
    end = text.index("As a Sandinista in Nicaragua") + len("As a Sandinista in Nicaragua")
    page.goto(f"{base}/read/{LIH}?start={start}&end={end}#cited")
    marks = page.locator("article mark")
    assert marks.count() == 3
    pieces = marks.evaluate_all("ms => ms.map(m => m.textContent)")
    assert squash(" ".join(pieces)) == squash(text[start:end])
    cited = page.locator("#cited")
    assert cited.is_visible() and cited.inner_text().startswith("Martov’s essay")
    # The page opens scrolled to the highlight.
    assert page.evaluate("document.getElementById('cited').getBoundingClientRect().top"
                         " < window.innerHeight")
    # The last piece sits in Felipe Stuart C.'s comment box.
    assert page.get_by_role("region", name="Comment by Felipe Stuart C.").locator(
        "mark").count() == 2
    page.screenshot(path=screenshot_path("reader-cited-into-comment"))


def test_unknown_reading_is_a_404_with_the_id_as_text(base: str, page: Any) -> None:
    response = page.goto(f"{base}/read/%3Cb%3Enope%3Cb%3E")
    assert response.status == 404
    assert "<b>nope<b>" in page.inner_text("body")
