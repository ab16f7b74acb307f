"""A hostile reading in real Chromium, against the real server (`rag serve --corpus` over a
folder holding only it): markup in its body, title, author, date and publisher, and a
`javascript:` url. In the chat, the embed and the reader view it must stay text: no dialog
fires, no element of it reaches the DOM, and the url never becomes a link."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import chromium, running_server, screenshot_path

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TITLE = """<b onmouseover="alert('title')">Bold</b></div><script>alert("title")</script>"""
AUTHOR = """<b onmouseover=alert(2)>B. Writer</b></div><script>alert("author")</script>"""
DATE = """<img src=x onerror=alert("date")>"""
PUBLISHER = """</p><iframe src="javascript:alert(4)"></iframe>"""
BODY_IMG = """<img src=x onerror=alert("body")>"""
BODY_SCRIPT = "<script>alert(1)</script>"
HOSTILE = f"""---
title: '{TITLE.replace("'", "''")}'
author: '{AUTHOR}'
url: 'javascript:alert(1)'
date: '{DATE}'
publisher: '{PUBLISHER}'
---
# Honey <script>alert("heading")</script>

Honey bees store nectar in wax cells and fan it with their wings until it thickens into \
honey {BODY_IMG}. The finished honey is capped with a thin layer of wax {BODY_SCRIPT}.

A strong colony keeps the brood nest at about thirty-five degrees all year round.
"""
QUESTION = "How do bees turn nectar into honey?"
ANSWER_TIMEOUT = 90_000  # ms
DESKTOP = {"width": 1280, "height": 900}

# Everything of the reading that would act if it were markup: handlers that call alert,
# javascript: in any URL attribute, scripts that call alert, the injected tags themselves.
# Walks open shadow roots too, as a <gradio-app> may use one.
FIND_INJECTED = """() => {
  const found = [];
  const visit = (root) => {
    for (const el of root.querySelectorAll('*')) {
      for (const a of el.attributes) {
        const name = a.name.toLowerCase(), value = a.value.trim().toLowerCase();
        if (name.startsWith('on') && value.includes('alert')) found.push(el.tagName + '@' + name);
        if (['href', 'src', 'action', 'formaction', 'xlink:href', 'data'].includes(name)
            && value.startsWith('javascript:')) found.push(el.tagName + '@' + name);
      }
      if (el.tagName === 'SCRIPT' && el.textContent.includes('alert(')) found.push('SCRIPT');
      if (el.tagName === 'IMG' && el.getAttribute('src') === 'x') found.push('IMG[src=x]');
      if (el.tagName === 'IFRAME' && el.closest('#cr-chat, main.reader')) found.push('IFRAME');
      if (el.tagName === 'B' && el.closest('#cr-chat, main.reader')) found.push('B');
      if (el.shadowRoot) visit(el.shadowRoot);
    }
  };
  visit(document);
  return found;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server over a corpus folder holding only the hostile reading."""
    tmp = tmp_path_factory.mktemp("hostile-server")
    corpus = tmp / "readings"
    corpus.mkdir()
    (corpus / "hostile.md").write_text(HOSTILE, encoding="utf-8")
    with running_server(tmp / "rag-data", tmp / "server.log", ["--corpus", str(corpus)]) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright."""
    with chromium() as b:
        yield b


class Tab:
    """One fresh browser context and page, recording every dialog that opens."""

    def __init__(self, browser: Any, base: str) -> None:
        self.base = base
        self.context = browser.new_context(viewport=DESKTOP)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.context.on("page", lambda p: p.on("dialog", self._dialog))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


@pytest.fixture
def tab(browser: Any, server: str) -> Iterator[Tab]:
    t = Tab(browser, server)
    yield t
    t.context.close()


def test_the_server_keeps_the_reading_as_written(tab: Tab) -> None:
    """The premise: the API hands out the hostile strings unchanged (they are data), except
    the `javascript:` url, which the loader drops: a course site's script may make `url` a
    link."""
    doc = tab.context.request.get(f"{tab.base}/api/documents/hostile").json()
    assert (doc["title"], doc["author"], doc["url"], doc["date"], doc["publisher"]) == (
        TITLE, AUTHOR, None, DATE, PUBLISHER)
    assert BODY_IMG in doc["text"] and BODY_SCRIPT in doc["text"]


def ask(page: Any, question: str) -> Any:
    """Ask in the chat and wait for the answer (not an abstention: it must cite)."""
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    answer = page.locator("#cr-chat .cr-answer").last
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    return answer


def assert_inert(tab: Tab, page: Any) -> None:
    """No dialog, and nothing of the reading's markup live in the DOM, after giving broken
    images time to fire and hovering what would carry a mouseover handler."""
    for el in page.locator(".cr-title, .cr-author, h1").all():
        el.hover()
    page.wait_for_timeout(500)
    assert tab.dialogs == []
    assert page.evaluate(FIND_INJECTED) == []


def assert_card_shows_text(answer: Any) -> None:
    """The cited card: quote, title and byline shown as the literal strings, no link out."""
    # As a quote within a quote, its double quotes are shown as single ones.
    assert BODY_IMG.replace('"body"', "‘body’") in answer.locator(".cr-quotes").inner_text()
    card = answer.locator(".cr-source").first
    assert card.locator(".cr-title").inner_text() == TITLE
    byline = card.locator(".cr-byline").inner_text()
    assert AUTHOR in byline and DATE in byline and PUBLISHER in byline
    assert BODY_IMG in card.locator("mark").inner_text()
    # The javascript: url is neither the title's link nor an "Original source" link.
    assert card.locator("a.cr-title, a.cr-orig").count() == 0
    hrefs = [a.get_attribute("href") or "" for a in answer.locator("a").all()]
    assert hrefs and not any(h.strip().lower().startswith("javascript:") for h in hrefs)


def test_chat_shows_the_hostile_reading_as_text(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/", wait_until="networkidle")
    answer = ask(page, QUESTION)
    assert answer.locator(".cr-source").count() >= 1
    assert_card_shows_text(answer)
    assert_inert(tab, page)
    page.screenshot(path=screenshot_path("hostile-chat"), full_page=True)
    # A reload rebuilds the chat from the browser's stored answers: still text.
    page.reload(wait_until="networkidle")
    restored = page.locator("#cr-chat .cr-answer").last
    restored.wait_for(timeout=30_000)
    assert_card_shows_text(restored)
    assert_inert(tab, page)


def test_embed_shows_the_hostile_reading_as_text(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/embed/", wait_until="networkidle")
    answer = ask(page, "What is honey capped with?")
    assert BODY_SCRIPT in answer.locator(".cr-quotes").inner_text()
    assert answer.locator(".cr-source .cr-title").first.inner_text() == TITLE
    assert_inert(tab, page)
    page.screenshot(path=screenshot_path("hostile-embed"), full_page=True)


def test_reader_view_shows_the_hostile_reading_as_text(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/", wait_until="networkidle")
    answer = ask(page, QUESTION)
    href = answer.locator("a.cr-read").first.get_attribute("href")
    assert href and "/read/hostile?" in href
    with tab.context.expect_page() as opened:
        answer.locator("a.cr-read").first.click()
    reader = opened.value
    reader.wait_for_load_state("networkidle")
    assert reader.title() == TITLE
    assert reader.get_by_role("heading", level=1).inner_text() == TITLE
    byline = reader.locator(".cr-byline").inner_text()
    assert AUTHOR in byline and DATE in byline and PUBLISHER in byline
    assert BODY_IMG in reader.locator("mark#cited").inner_text()
    text = reader.locator("article").inner_text()
    assert BODY_SCRIPT in text and '<script>alert("heading")</script>' in text
    assert reader.get_by_text("Original source").count() == 0
    assert_inert(tab, reader)  # the context's dialog log covers the new page too
    reader.screenshot(path=screenshot_path("hostile-reader"), full_page=True)


def test_unknown_reader_id_with_markup_is_text(tab: Tab) -> None:
    page = tab.page
    page.goto(tab.base + "/read/%3Cimg%20src%3Dx%20onerror%3Dalert(9)%3E")
    assert "<img src=x onerror=alert(9)>" in page.inner_text("body")
    assert_inert(tab, page)
