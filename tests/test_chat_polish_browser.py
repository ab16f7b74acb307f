"""The newcomer's polish (issue 10, item 6) in real Chromium against the real server: the
`<gradio-app>` stays inside a 500 px box on a course page, example buttons ask (by mouse and
keyboard), the readings list links to the full texts, quote marks never double up, and the
settings speak plainly. Screenshots go to test-artifacts/ (chat-polish-*)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import (
    chromium,
    free_port,
    running_server,
    screenshot_path,
    static_site,
)

from ui.chat import EXAMPLES

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT = 90_000  # ms; the first question also embeds its passages' sentences
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
BOX_HEIGHT = 500
# A course page as a teacher might write it, with its own `main` rule (which a web component,
# having no shadow DOM, would also apply to Gradio's <main>) and a 500 px box for the chat.
COURSE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Week 6: Dual power</title>
<style>
  body {{ margin: 0; background: #f6f5f1; font: 17px/1.6 Georgia, serif; }}
  main {{ max-width: 46rem; margin: 0 auto; padding: 1.5rem 1.25rem; }}
  .chat {{ height: {box}px; border: 1px solid #d6d3cb; border-radius: 10px; background: #fff; }}
</style></head><body><main>
<h1>Week 6: Dual power</h1>
<p>Ask this week's readings; every answer is a quote with its source.</p>
<script type="module" src="{app}/embed/gradio.js"></script>
<div class="chat" id="box"><gradio-app src="{app}/embed/"></gradio-app></div>
<p id="after">Before the seminar: bring one quote you agree with.</p>
</main></body></html>"""
# Boxes of what must stay inside the course page's box, and whether the chat scrolls.
MEASURE = """() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom};
  };
  const chat = document.querySelector('#cr-chat');
  let scrolls = false;
  for (const el of [chat, ...chat.querySelectorAll('*')]) {
    const y = getComputedStyle(el).overflowY;
    if (/(auto|scroll)/.test(y) && el.scrollHeight > el.clientHeight + 1) scrolls = true;
  }
  return {box: box(document.querySelector('#box')),
          app: box(document.querySelector('gradio-app .gradio-container')),
          chat: box(chat), question: box(document.querySelector('#cr-question')),
          after: box(document.querySelector('#after')), scrolls};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The real server, and a course site on another origin that its CORS list names."""
    tmp = tmp_path_factory.mktemp("polish-server")
    site_dir = tmp / "site"
    site_dir.mkdir()
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    with running_server(tmp / "rag-data", tmp / "server.log", ["--cors-origin", origin]) as url:
        (site_dir / "week6.html").write_text(COURSE_PAGE.format(app=url, box=BOX_HEIGHT),
                                             encoding="utf-8")
        with static_site(site_dir, site_port) as site:
            yield {"url": url, "site": site}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium, module-scoped (Playwright's sync API keeps an event loop
    running in this thread while it is open)."""
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A desktop-sized page with fresh localStorage."""
    context = browser.new_context(viewport=DESKTOP)
    yield context.new_page()
    context.close()


def wait_for_answers(scope: Any, n: int) -> Any:
    """The n-th answer (1-based) once it is there."""
    answer = scope.locator("#cr-chat .cr-answer").nth(n - 1)
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    return answer


def ask(scope: Any, question: str, n: int = 1) -> Any:
    """Type a question, press Enter, wait for the n-th answer."""
    box = scope.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    return wait_for_answers(scope, n)


def assert_inside(m: dict[str, Any]) -> None:
    """The web component, the chat and the question box all within the course page's box."""
    box = m["box"]
    assert box["bottom"] - box["top"] == pytest.approx(BOX_HEIGHT, abs=2)
    for name in ("app", "chat", "question"):
        assert box["top"] - 1 <= m[name]["top"] and m[name]["bottom"] <= box["bottom"] + 1, (
            f"{name} runs past the {BOX_HEIGHT} px box: {m[name]} vs {box}")
    assert m["after"]["top"] >= box["bottom"] - 1


def test_web_component_stays_inside_a_500px_box(page: Any, server: dict[str, str]) -> None:
    page.goto(server["site"] + "/week6.html", wait_until="networkidle")
    page.locator("#cr-chat").wait_for(timeout=30_000)
    assert_inside(page.evaluate(MEASURE))
    # The embed's examples are buttons on the empty chat.
    assert page.get_by_role("button", name=EXAMPLES[0]).first.is_visible()
    page.screenshot(path=screenshot_path("chat-polish-web-component-empty"), full_page=True)
    ask(page, "What did Kalinin say about Lenin's April Theses?")
    ask(page, "What does the Russian word sovet mean?", 2)
    measured = page.evaluate(MEASURE)
    assert_inside(measured)
    assert measured["scrolls"], "a long conversation should scroll inside the chat"
    page.screenshot(path=screenshot_path("chat-polish-web-component-500px"), full_page=True)


def test_iframe_embed_still_fits_its_frame(page: Any, server: dict[str, str]) -> None:
    page.goto(server["url"] + "/ui-static/embed-example.html", wait_until="networkidle")
    frame = page.frame_locator("iframe")
    ask(frame, "What does the Russian word sovet mean?")
    question = frame.get_by_label("Your question").bounding_box()
    iframe = page.locator("iframe").bounding_box()
    assert question and iframe
    assert iframe["y"] <= question["y"] and (question["y"] + question["height"]
                                             <= iframe["y"] + iframe["height"])
    page.screenshot(path=screenshot_path("chat-polish-iframe-embed"), full_page=True)


def test_full_page_examples_readings_and_plain_settings(page: Any,
                                                        server: dict[str, str]) -> None:
    page.goto(server["url"] + "/", wait_until="networkidle")
    # The readings it covers, each linked to its full text.
    page.get_by_text("The 5 readings it answers from").click()
    links = page.locator(".cr-readings a")
    assert links.count() == 5
    href = links.first.get_attribute("href") or ""
    assert href.startswith("/read/")
    assert page.context.request.get(server["url"] + href).ok
    # Settings in a student's words.
    page.get_by_text("Settings", exact=True).first.click()
    for label in ("Best of both (recommended)", "By meaning", "By exact words",
                  "How widely to look (passages)"):
        page.get_by_text(label, exact=True).first.wait_for(state="visible", timeout=5_000)
    body = page.locator("body").inner_text()
    assert "BM25" not in body and "dense" not in body.lower() and "(k)" not in body
    page.screenshot(path=screenshot_path("chat-polish-full-page-open"), full_page=True)
    # An example button asks its question, and the buttons stay for another one.
    page.get_by_role("button", name=EXAMPLES[2]).click()
    answer = wait_for_answers(page, 1)
    assert "sovet" in answer.locator(".cr-quotes").inner_text()
    second = page.get_by_role("button", name=EXAMPLES[0])
    assert second.is_visible()
    page.screenshot(path=screenshot_path("chat-polish-full-page"), full_page=True)


def test_example_buttons_work_from_the_keyboard(page: Any, server: dict[str, str]) -> None:
    page.goto(server["url"] + "/", wait_until="networkidle")
    button = page.get_by_role("button", name=EXAMPLES[0])
    button.focus()
    assert page.evaluate("document.activeElement.textContent.trim()") == EXAMPLES[0]
    page.keyboard.press("Enter")
    wait_for_answers(page, 1)


def test_quote_marks_never_double_up(page: Any, server: dict[str, str]) -> None:
    page.goto(server["url"] + "/", wait_until="networkidle")
    # The overview's first sentence opens with "Dual Power" in straight quotes.
    answer = ask(page, "Who first used the term dual power?")
    quote = answer.locator(".cr-quote").first.inner_text()
    assert quote.startswith("“\u202f‘Dual Power’ (Russian"), quote
    assert '"' not in quote and "“\"" not in quote and "“‘" not in quote
    # The source card still shows the reading's own marks, exactly.
    assert '"Dual Power"' in answer.locator(".cr-source mark").first.inner_text()
    answer.screenshot(path=screenshot_path("chat-polish-quote-marks"))


def test_full_page_at_phone_width(browser: Any, server: dict[str, str]) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        page = context.new_page()
        page.goto(server["url"] + "/", wait_until="networkidle")
        page.get_by_role("button", name=EXAMPLES[1]).click()
        wait_for_answers(page, 1)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page scrolls sideways by {overflow}px at phone width"
        page.screenshot(path=screenshot_path("chat-polish-phone"), full_page=True)
    finally:
        context.close()
