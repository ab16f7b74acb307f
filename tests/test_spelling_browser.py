"""A misspelt name and a "thanks" in the real chat (Chromium, `rag serve`, the bundled
readings): the answer says how the name was read, and the thanks is not answered.
Screenshot in test-artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import chat_page, screenshot_path
from test_followup_browser import _ask

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
