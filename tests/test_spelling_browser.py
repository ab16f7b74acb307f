"""A misspelt name, a "thanks" and a tentative answer in the real chat (Chromium, `rag
serve`, the bundled readings and models): the answer says how the name was read, the thanks
is not answered, and quotes the readings are less sure of come after a "May not answer"
note while a sure answer has none. Screenshots in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import chat_page, screenshot_path
from test_followup_browser import _ask

from rag.types import TENTATIVE_TEXT

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chat_page(tmp_path_factory.mktemp("spelling-browser")) as pg:
        yield pg


def test_a_misspelt_name_is_read_as_spelt_and_thanks_is_not_a_question(page: Any) -> None:
    answer = _ask(page, "What did Trotksy argue about dual power?")
    note = answer.locator(".cr-respelled")
    assert note.is_visible() and note.inner_text() == "Read “Trotksy” as “Trotsky”."
    assert "Trotsky" in answer.locator(".cr-quote").first.inner_text()
    thanks = _ask(page, "Thanks!")
    assert thanks.locator(".cr-badge").inner_text() == "Not a question"
    assert thanks.locator(".cr-related").count() == 0
    thanks.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("spelling-chat"))


def test_a_tentative_answer_says_so_and_a_sure_one_does_not(page: Any) -> None:
    # Scored 0.64 and 0.06 by the shipped reader and combiner (confident_threshold 0.24).
    sure = _ask(page, "Who was in the Provisional Government?")
    assert sure.locator(".cr-quote").count() >= 1
    assert sure.locator(".cr-tentative").count() == 0
    unsure = _ask(page, "What does Wayne Price believe?")
    note = unsure.locator(".cr-tentative")
    assert note.is_visible()
    assert note.locator(".cr-badge").inner_text() == "May not answer"
    assert TENTATIVE_TEXT in note.inner_text()
    quote = unsure.locator(".cr-quote").first
    assert quote.is_visible()
    assert note.bounding_box()["y"] < quote.bounding_box()["y"]
    unsure.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("tentative-chat"))
