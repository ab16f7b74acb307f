"""The API docs (`/docs`, Swagger UI) load only from this server: the page references local
assets, under a proxy prefix too, and in real Chromium it renders with every other host
blocked. `/redoc` leads there (ReDoc's bundle fetches a logo from its vendor's CDN).
Screenshots go to test-artifacts/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from browser_helpers import chromium, running_server, screenshot_path
from fastapi.testclient import TestClient

from rag.pipeline import Pipeline
from rag.settings import Settings
from ui.server import DOCS_STATIC_PATH, create_app

TINY = Path(__file__).parent / "data" / "tiny"
LOAD_TIMEOUT = 30_000  # ms
# Every URL the docs page names: src=, href= and url: '…' (Swagger UI's spec).
REFERENCED = re.compile(r"""(?:src|href)="([^"]+)"|url: '([^']+)'""")


# The pages, without a browser


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The whole server app over the tiny corpus with the hash embedder."""
    settings = Settings.load(env={}, model="hash", corpus=str(TINY),
                             data_dir=str(tmp_path_factory.mktemp("rag-data")))
    return create_app(Pipeline.open(settings, status=lambda _: None, progress=False))


def referenced(html: str) -> list[str]:
    """The URLs a page loads or links to."""
    return [a or b for a, b in REFERENCED.findall(html)]


@pytest.mark.parametrize("root_path", ["", "/course-chat"])
def test_the_docs_page_references_only_local_assets_under_the_root_path(
        app: Any, root_path: str) -> None:
    # As uvicorn does with --root-path: the prefix is in the scope's root_path and in front
    # of each path (the proxy stripped it; uvicorn puts it back).
    with TestClient(app, root_path=root_path) as client:
        r = client.get(f"{root_path}/docs")
        assert r.status_code == 200
        urls = referenced(r.text)
        assert f"{root_path}/openapi.json" in urls
        assert len(urls) == 4, urls  # the spec, the script, the stylesheet, the favicon
        for url in urls:
            assert url.startswith(f"{root_path}/"), url  # a path on this server, not a host
            assert client.get(url).status_code == 200, url
        assert "cdn" not in r.text and "fonts.googleapis" not in r.text


def test_the_docs_assets_are_served_from_here(app: Any) -> None:
    with TestClient(app) as client:
        for name, kind in [("swagger-ui-bundle.js", "javascript"), ("swagger-ui.css", "css")]:
            r = client.get(f"{DOCS_STATIC_PATH}/{name}")
            assert r.status_code == 200 and kind in r.headers["content-type"]
            assert len(r.content) > 100_000  # the real bundle, not a stub


def test_redoc_leads_to_the_docs_under_the_root_path_too(app: Any) -> None:
    with TestClient(app, root_path="/course-chat", follow_redirects=False) as client:
        r = client.get("/course-chat/redoc")
        assert r.status_code == 307
        assert r.headers["location"] == "docs"  # relative: /course-chat/docs in a browser


# In Chromium, against the real `rag serve`


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a free localhost port."""
    tmp = tmp_path_factory.mktemp("docs-server")
    with running_server(tmp / "rag-data", tmp / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright."""
    pytest.importorskip("playwright.sync_api")
    with chromium() as b:
        yield b


class OfflinePage:
    """A page whose requests to any host but 127.0.0.1 are aborted and recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.elsewhere: list[str] = []
        self.failed: list[str] = []
        self.local: list[str] = []
        self.context.route("**/*", self._route)
        self.page = self.context.new_page()
        self.page.on("requestfailed", lambda r: self.failed.append(r.url))

    def _route(self, route: Any) -> None:
        url = route.request.url
        if urlsplit(url).hostname == "127.0.0.1":
            self.local.append(url)
            route.continue_()
        else:
            self.elsewhere.append(url)
            route.abort()


@pytest.fixture
def offline(browser: Any) -> Iterator[OfflinePage]:
    """A fresh offline page."""
    o = OfflinePage(browser)
    yield o
    o.context.close()


@pytest.mark.browser
@pytest.mark.slow
def test_swagger_ui_renders_offline(server: str, offline: OfflinePage) -> None:
    page = offline.page
    page.goto(f"{server}/docs", wait_until="networkidle")
    ask = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/ask$"))
    ask.wait_for(timeout=LOAD_TIMEOUT)
    assert ask.is_visible()
    assert page.locator(".opblock-summary-path", has_text="/healthz").is_visible()
    assert page.get_by_text("Cited readings").first.is_visible()
    page.screenshot(path=screenshot_path("docs-swagger-offline"), full_page=False)
    assert offline.elsewhere == []  # nothing was even attempted elsewhere
    assert offline.failed == []
    assert any(u.endswith(f"{DOCS_STATIC_PATH}/swagger-ui-bundle.js") for u in offline.local)


@pytest.mark.browser
@pytest.mark.slow
def test_redoc_leads_to_swagger_ui_offline(server: str, offline: OfflinePage) -> None:
    page = offline.page
    page.goto(f"{server}/redoc", wait_until="networkidle")
    assert urlsplit(page.url).path == "/docs"
    ask = page.locator(".opblock-summary-path", has_text=re.compile(r"^/api/ask$"))
    ask.wait_for(timeout=LOAD_TIMEOUT)
    assert ask.is_visible()
    assert offline.elsewhere == []
    assert offline.failed == []
