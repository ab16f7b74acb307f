"""The chat in real Chromium, against the real server (`rag serve`) with the bundled model and
the default readings. Screenshots go to test-artifacts/."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_helpers import (
    chromium,
    free_port,
    running_server,
    screenshot_path,
    static_site,
)

playwright_api = pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]

KALININ = "What did Kalinin say about Lenin's April Theses?"
SOVET = "What does the Russian word sovet mean?"
XSS = "<img src=x onerror=alert(1)>"
ANSWER_TIMEOUT = 90_000  # ms; the first question also embeds its passages' sentences
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


COURSE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Course site</title></head><body><h1>Week 6 on another site</h1>
<script type="module" src="{app}/embed/gradio.js"></script>
<gradio-app src="{app}/embed/"></gradio-app>
<script>
  window.askApi = (q) => fetch("{app}/api/ask", {{method: "POST",
      headers: {{"content-type": "application/json"}}, body: JSON.stringify({{question: q}})}})
    .then((r) => r.json()).catch((e) => "blocked: " + e);
</script></body></html>"""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The real server on a free localhost port, with a feedback file, and a course site on
    another port (another origin) that the server's CORS allow-list names."""
    tmp = tmp_path_factory.mktemp("browser-server")
    feedback = tmp / "feedback.jsonl"
    site_dir = tmp / "site"
    site_dir.mkdir()
    site_port = free_port()
    site_origin = f"http://127.0.0.1:{site_port}"
    with running_server(tmp / "rag-data", tmp / "server.log",
                        ["--feedback", str(feedback), "--cors-origin", site_origin]) as url:
        (site_dir / "index.html").write_text(COURSE_PAGE.format(app=url), encoding="utf-8")
        with static_site(site_dir, site_port) as site:
            yield {"url": url, "feedback": feedback, "site": site, "site_port": site_port}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright. Module-scoped, like the other browser
    test files' own: Playwright's sync API keeps an event loop running in this thread while it
    is open, and two at once (or a later `asyncio.run`) fail."""
    with chromium() as b:
        yield b


class Session:
    """One browser context (fresh localStorage) with a log of requests and dialogs."""

    def __init__(self, browser: Any, base: str, viewport: dict[str, int]) -> None:
        self.base = base
        self.context = browser.new_context(viewport=viewport)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.requests: list[str] = []
        self.context.on("request", lambda r: self.requests.append(r.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, path: str = "/") -> Any:
        """Load a page of the app and wait until the chat is ready."""
        self.page.goto(self.base + path, wait_until="networkidle")
        return self.page


@pytest.fixture
def desktop(browser: Any, server: dict[str, Any]) -> Iterator[Session]:
    """A desktop-sized browser session."""
    s = Session(browser, server["url"], DESKTOP)
    yield s
    s.context.close()


@pytest.fixture
def phone(browser: Any, server: dict[str, Any]) -> Iterator[Session]:
    """A phone-sized browser session."""
    s = Session(browser, server["url"], PHONE)
    yield s
    s.context.close()


def ask(scope: Any, question: str) -> Any:
    """Type a question into the chat (page or iframe), press Enter, wait for its answer."""
    answers = scope.locator("#cr-chat .cr-answer")
    before = answers.count()
    box = scope.get_by_label("Your question")
    box.fill(question)
    box.press("Enter")
    answer = answers.nth(before)
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    return answer


def document_text(base: str, doc_id: str, session: Session) -> str:
    """A document's full text from the API (through the same browser)."""
    r = session.context.request.get(f"{base}/api/documents/{doc_id}")
    assert r.ok
    return str(r.json()["text"])


def test_chat_answers_with_quotes_markers_and_sources(desktop: Session) -> None:
    page = desktop.open("/")
    assert page.get_by_role("heading", name="Ask the readings").is_visible()
    answer = ask(page, KALININ)
    quotes = answer.locator(".cr-quote")
    assert quotes.count() >= 1
    markers = answer.locator(".cr-marker").all_inner_texts()
    assert len(markers) == quotes.count()
    # "[1]" on screen; screen readers also hear "source" (visually hidden text).
    assert [re.sub(r"\s+|source", "", m) for m in markers] == [
        f"[{i}]" for i in range(1, len(markers) + 1)], markers
    sources = answer.locator(".cr-source")
    assert sources.count() == quotes.count()
    first = sources.first
    assert "All Power to the Soviets" in first.locator(".cr-title").inner_text()
    assert "Lars T. Lih" in first.locator(".cr-byline").inner_text()
    assert "2014-08-18" in first.locator(".cr-byline").inner_text()
    marked = first.locator("mark").inner_text()
    # The quote shows the reading's double quotes as single ones (a quote within a quote).
    nested = marked.replace("“", "‘").replace("”", "’")
    assert marked and nested in desktop.page.locator(".cr-quote").first.inner_text()
    # The acceptance: a quote from Lih's article, word for word.
    text = " ".join(document_text(desktop.base, "lih-all-power-to-the-soviets", desktop).split())
    titles = answer.locator(".cr-source .cr-title").all_inner_texts()
    lih = [q for q, t in zip(answer.locator(".cr-context mark").all_inner_texts(), titles,
                             strict=True) if "All Power to the Soviets" in t]
    assert lih and all(" ".join(q.split()) in text for q in lih), (lih, titles)
    page.screenshot(path=screenshot_path("chat-answer-desktop"))
    answer.screenshot(path=screenshot_path("chat-answer-card"))


def test_source_view_opens_the_reading_at_the_quote(desktop: Session) -> None:
    page = desktop.open("/")
    answer = ask(page, SOVET)
    quote = answer.locator(".cr-context mark").first.inner_text()
    with desktop.context.expect_page() as opened:
        answer.locator("a.cr-read").first.click()
    reader = opened.value
    reader.wait_for_load_state()
    assert "/read/lih-all-power-to-the-soviets" in reader.url
    cited = reader.locator("mark#cited")
    assert cited.inner_text() == quote
    assert cited.is_visible()
    assert reader.get_by_role("heading", level=1).inner_text().startswith("‘All Power")
    reader.screenshot(path=screenshot_path("reader-view"))


def test_example_questions_on_an_empty_chat(desktop: Session) -> None:
    page = desktop.open("/")
    example = page.get_by_text("What does dvoevlastie translate to in English?")
    assert example.is_visible()
    page.screenshot(path=screenshot_path("chat-empty-desktop"))
    example.click()
    answer = page.locator("#cr-chat .cr-answer").first
    answer.wait_for(timeout=ANSWER_TIMEOUT)
    assert "dual power" in answer.locator(".cr-quotes").inner_text()


def test_markup_in_a_question_is_shown_as_text_and_never_runs(desktop: Session) -> None:
    page = desktop.open("/")
    page.evaluate("window.__xss = 0")
    question = f"What is dual power? {XSS}"
    ask(page, question)
    time.sleep(0.5)  # give a broken image time to fire its onerror, if there were one
    assert desktop.dialogs == []
    users = page.locator('#cr-chat [data-testid="user"]')
    assert XSS in users.last.inner_text()
    assert page.locator("#cr-chat img[src='x']").count() == 0
    page.screenshot(path=screenshot_path("chat-markup-as-text"))


def test_not_in_the_readings_looks_different(desktop: Session) -> None:
    page = desktop.open("/")
    answer = ask(page, "What is the boiling point of mercury in kelvin?")
    assert "cr-abstain" in (answer.get_attribute("class") or "")
    assert "Not in the readings" in answer.inner_text()
    assert answer.locator(".cr-quote").count() == 0
    assert answer.locator(".cr-related li").count() >= 1
    page.screenshot(path=screenshot_path("chat-not-in-readings"))


def test_a_refusal_says_why_when_a_check_knows(desktop: Session) -> None:
    page = desktop.open("/")
    answer = ask(page, "What role did Nestor Makhno's army play in Ukraine?")
    assert "cr-abstain" in (answer.get_attribute("class") or "")
    reason = answer.locator(".cr-reason")
    assert "They never mention “Nestor”, “Makhno” or “Ukraine”." == reason.inner_text()
    assert answer.locator(".cr-quote").count() == 0
    page.screenshot(path=screenshot_path("chat-refusal-reason"))


def test_citations_survive_a_reload(desktop: Session) -> None:
    page = desktop.open("/")
    ask(page, SOVET)
    page.reload(wait_until="networkidle")
    restored = page.locator("#cr-chat .cr-answer").first
    restored.wait_for(timeout=30_000)
    assert "sovet" in restored.locator(".cr-quote").inner_text()
    assert restored.locator(".cr-source mark").count() == 1
    # The trash button forgets the conversation for good, reload included.
    key = "cited-readings-chat"
    stored = page.evaluate("k => localStorage.getItem(k)", key)
    assert stored
    page.locator("#cr-chat button[aria-label='Clear']").click()
    page.wait_for_function("([k, old]) => localStorage.getItem(k) !== old", arg=[key, stored])
    page.reload(wait_until="networkidle")
    page.get_by_text("What does dvoevlastie translate to in English?").wait_for()
    assert page.locator("#cr-chat .cr-answer").count() == 0


def test_thumbs_up_is_appended_to_the_feedback_file(desktop: Session,
                                                    server: dict[str, Any]) -> None:
    path: Path = server["feedback"]
    before = path.read_text(encoding="utf-8").count("\n") if path.exists() else 0
    page = desktop.open("/")
    ask(page, SOVET)
    page.locator("#cr-chat button[aria-label='Like']").last.click()
    deadline = time.monotonic() + 15
    lines: list[str] = []
    while time.monotonic() < deadline:
        lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        if len(lines) > before:
            break
        time.sleep(0.2)
    assert len(lines) > before, "no vote was written"
    vote = json.loads(lines[-1])
    assert vote["vote"] == "up" and vote["question"] == SOVET
    assert vote["citations"][0]["doc_id"] == "lih-all-power-to-the-soviets"
    assert not {"ip", "session", "user_agent", "cookie"} & set(vote)


def test_screen_readers_can_reach_messages_and_sources(desktop: Session) -> None:
    page = desktop.open("/")
    ask(page, SOVET)
    assert page.get_by_role("log").count() == 1
    assert page.get_by_role("article", name="You asked").count() >= 1
    answer = page.get_by_role("article", name="Answer").last
    assert answer.get_by_role("heading", name="Sources").is_visible()
    assert answer.get_by_role("list").first.get_by_role("listitem").count() >= 1
    # The raw HTML of a message is never what a screen reader gets as its label.
    labels = page.locator("#cr-chat [aria-label]").evaluate_all(
        "els => els.map(e => e.getAttribute('aria-label'))")
    assert not any("<" in (label or "") for label in labels)
    assert page.get_by_text("Settings", exact=True).first.is_visible()


def test_phone_width(phone: Session) -> None:
    page = phone.open("/")
    page.screenshot(path=screenshot_path("chat-empty-phone"))
    answer = ask(page, KALININ)
    assert answer.locator(".cr-source").count() >= 1
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px at phone width"
    page.screenshot(path=screenshot_path("chat-answer-phone"))
    page.screenshot(path=screenshot_path("chat-answer-phone-full"), full_page=True)


def test_embed_example_page_answers_in_its_iframe(desktop: Session) -> None:
    page = desktop.open("/ui-static/embed-example.html")
    frame = page.frame_locator("iframe")
    frame.get_by_label("Your question").wait_for(timeout=30_000)
    # The compact view: no header, settings or footer.
    assert frame.locator(".cr-header").count() == 0
    assert frame.get_by_text("Settings").count() == 0
    answer = ask(frame, SOVET)
    assert "“The Russian word ‘sovet’ simply means" in answer.locator(".cr-quote").inner_text()
    assert answer.locator(".cr-source").count() == 1
    # The question box stays inside the 560 px iframe: the chat fits it.
    box = frame.get_by_label("Your question").bounding_box()
    iframe = page.locator("iframe").bounding_box()
    assert box and iframe and box["y"] + box["height"] <= iframe["y"] + iframe["height"]
    page.screenshot(path=screenshot_path("embed-example-desktop"), full_page=True)


def test_embed_at_phone_width(phone: Session) -> None:
    page = phone.open("/ui-static/embed-example.html")
    frame = page.frame_locator("iframe")
    ask(frame, KALININ)
    page.screenshot(path=screenshot_path("embed-example-phone"), full_page=True)


def test_nothing_leaves_the_machine(desktop: Session) -> None:
    page = desktop.open("/")
    ask(page, SOVET)
    page.goto(desktop.base + "/ui-static/embed-example.html", wait_until="networkidle")
    outside = [u for u in desktop.requests
               if not u.startswith(desktop.base) and not u.startswith(("data:", "blob:"))]
    assert outside == []


def test_web_component_on_another_site(desktop: Session, server: dict[str, Any]) -> None:
    page = desktop.page
    page.goto(server["site"] + "/index.html", wait_until="networkidle")
    answer = ask(page, SOVET)
    assert "simply means" in answer.locator(".cr-quote").inner_text()
    # Source links point at the chat server, not at the course site that embeds it.
    href = answer.locator("a.cr-read").first.get_attribute("href") or ""
    assert href.startswith(server["url"] + "/read/lih-all-power-to-the-soviets?")
    page.screenshot(path=screenshot_path("web-component-other-origin"), full_page=True)


def test_cors_in_a_real_browser(desktop: Session, server: dict[str, Any]) -> None:
    page = desktop.page
    page.goto(server["site"] + "/index.html", wait_until="networkidle")
    allowed = page.evaluate("askApi('What does the Russian word sovet mean?')")
    assert allowed["citations"][0]["doc_id"] == "lih-all-power-to-the-soviets"
    # Same page from an origin that is not on the allow-list: the browser blocks the call.
    page.goto(f"http://localhost:{server['site_port']}/index.html", wait_until="load")
    blocked = page.evaluate("askApi('What does the Russian word sovet mean?')")
    assert isinstance(blocked, str) and blocked.startswith("blocked:")


def test_twenty_api_clients_at_once(server: dict[str, Any]) -> None:
    from bench_concurrency import one_round

    results = one_round(server["url"], clients=20, offset=0, timeout=180)
    assert all(r["ok"] for r in results), [r for r in results if not r["ok"]]
    assert sum(r["cited"] for r in results) >= 15
