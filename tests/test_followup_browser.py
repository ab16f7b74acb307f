"""A follow-up question in the real chat (Chromium, `rag serve`, the bundled readings): the
second turn is read against the first and says so. Screenshot in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import chat_page, screenshot_path

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT = 90_000  # ms
FIRST = "When did Rheta Childe Dorr arrive in Russia?"
FOLLOW_UP = "How long did she stay?"


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One desktop page on the chat of a real server (module-scoped, as the browser tests'
    Playwright sessions must be)."""
    with chat_page(tmp_path_factory.mktemp("followup-browser")) as pg:
        yield pg


def _ask(page: Any, question: str) -> Any:
    answers = page.locator("#cr-chat .cr-answer")
    before = answers.count()
    box = page.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    answer = answers.nth(before)
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    return answer


def test_follow_up_is_read_against_the_previous_question(page: Any) -> None:
    first = _ask(page, FIRST)
    assert first.locator(".cr-followup").count() == 0
    second = _ask(page, FOLLOW_UP)
    note = second.locator(".cr-followup")
    assert note.is_visible()
    assert note.inner_text() == f"Read as a follow-up to: “{FIRST}”"
    assert "end of August" in second.locator(".cr-quote").first.inner_text()
    second.scroll_into_view_if_needed()
    page.screenshot(path=screenshot_path("followup-chat"))


def test_follow_up_after_a_reload_still_has_its_history(page: Any) -> None:
    # The conversation lives in the browser; the history comes from it, so a reload keeps it.
    page.reload(wait_until="networkidle")
    page.locator("#cr-chat .cr-answer").nth(1).wait_for(timeout=ANSWER_TIMEOUT)
    third = _ask(page, "Why?")
    assert f"“{FOLLOW_UP}”" in third.locator(".cr-followup").inner_text()
