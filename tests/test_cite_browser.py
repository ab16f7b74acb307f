"""The source card's "Copy citation" button and "Cite all sources" links in real Chromium,
against the real server: they survive Gradio's sanitiser, the button copies the citation
(through the clipboard API, and by selection where there is none), the links download.
Gradio's sanitiser drops data-* attributes, so the text rides in the button's `value`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import chromium, running_server, screenshot_path

from rag.quotemarks import enclose

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SOVET = "What does the Russian word sovet mean?"
ANSWER_TIMEOUT = 90_000  # ms
# Chicago author-date (the default citation_style); see tests/test_cite.py for the rules.
LIH_REFERENCE = ("(Lih 2014)\n\nLih, Lars T. 2014. “‘All Power to the Soviets’: Biography of "
                 "a Slogan.” August 18.")
# Chromium without a clipboard API (as on a plain-http course server): record what the
# page's selection copy would put on the clipboard.
NO_CLIPBOARD = """
Object.defineProperty(Navigator.prototype, "clipboard", { get: () => undefined });
document.execCommand = (command) => {
  const el = document.activeElement;
  window.__copied = command === "copy" && el && "value" in el
    ? el.value.substring(el.selectionStart, el.selectionEnd) : null;
  return command === "copy";
};
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("cite-browser")
    with running_server(tmp / "rag-data", tmp / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Module-scoped Chromium (Playwright's sync API allows one event loop per thread)."""
    with chromium() as b:
        yield b


def lih_card(page: Any) -> Any:
    """Ask the sovet question; the first source card quoting Lih's article."""
    box = page.get_by_label("Your question")
    box.fill(SOVET)
    box.press("Enter")
    answer = page.locator("#cr-chat .cr-answer").first
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    card = answer.locator(".cr-source").filter(has_text="All Power to the Soviets").first
    card.wait_for()
    return card


def test_copy_citation_puts_quote_and_reference_on_the_clipboard(browser: Any,
                                                                 server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900},
                                  permissions=["clipboard-read", "clipboard-write"])
    try:
        page = context.new_page()
        page.goto(server + "/", wait_until="networkidle")
        card = lih_card(page)
        button = card.locator("button.cr-copy")
        # Gradio's sanitiser kept the button and its data.
        assert button.is_visible()
        assert "Copy citation" in button.inner_text() and "(Chicago)" in button.inner_text()
        quote = " ".join(card.locator("mark").inner_text().split())
        assert button.get_attribute("value") == f"{enclose(quote, spaced=False)} {LIH_REFERENCE}"
        assert button.locator(".cr-cite-rich").is_hidden()
        card.screenshot(path=screenshot_path("cite-copy-button-card"))
        button.click()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cr-copy-label')].some(b => b.textContent "
            "=== 'Copied')")
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == f"{enclose(quote, spaced=False)} {LIH_REFERENCE}"
        card.screenshot(path=screenshot_path("cite-copy-button-copied"))
        # The label comes back.
        page.wait_for_function(
            "() => [...document.querySelectorAll('.cr-copy-label')].every(b => "
            "b.textContent.startsWith('Copy citation'))", timeout=5000)

        # "Cite all sources": BibTeX and RIS of the answer's readings.
        links = page.locator("#cr-chat .cr-cite-all a")
        assert links.all_inner_texts() == ["BibTeX", "RIS"]
        page.locator("#cr-chat .cr-answer").first.screenshot(
            path=screenshot_path("cite-all-sources-answer"))
        bib = context.request.get(links.first.get_attribute("href"))
        assert bib.ok and "@misc{lih-all-power-to-the-soviets," in bib.text()
        assert "filename=\"sources.bib\"" in bib.headers["content-disposition"]
        with page.expect_download() as download:
            links.nth(1).click()
        saved = Path(download.value.path())
        assert saved.read_text(encoding="utf-8").startswith("TY  - ELEC")
    finally:
        context.close()


def test_copy_citation_without_a_clipboard_api_copies_the_selection(browser: Any,
                                                                    server: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(NO_CLIPBOARD)
    try:
        page = context.new_page()
        page.goto(server + "/", wait_until="networkidle")
        card = lih_card(page)
        button = card.locator("button.cr-copy")
        button.click()
        page.wait_for_function("() => window.__copied !== undefined")
        assert page.evaluate("window.__copied") == button.get_attribute("value")
        assert page.locator(".cr-copy-text").count() == 0  # copied, so the box is gone
    finally:
        context.close()
