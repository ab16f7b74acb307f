"""Helpers for the browser tests: a free port, the real server in a subprocess, Chromium."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Playwright's own browser download does not work offline; Debian's chromium does. The flags
# stop it from calling Google's services, which a closed network refuses noisily.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-gpu"]
# First start on a fresh machine builds the default index with the real model (~35 s here).
STARTUP_TIMEOUT = 300.0


def free_port() -> int:
    """A TCP port on localhost that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_path() -> str:
    """The Chromium binary, or an error that says how to get it."""
    path = CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium")
    if not path:
        raise RuntimeError(f"Chromium not found at {CHROMIUM}: `apt-get install chromium` "
                           "(.ci/run does), or deselect these tests with -m 'not browser'")
    return path


@contextmanager
def chromium() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright's sync API. Open it in a module-scoped
    fixture: the sync API keeps an event loop running in this thread while it is open, and a
    second one at once (or a later `asyncio.run`) fails."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), headless=True,
                                    args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@contextmanager
def running_server(data_dir: Path, log_path: Path, extra_args: Sequence[str] = ()
                   ) -> Iterator[str]:
    """`rag serve` on a free port with its own data dir; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               GRADIO_ANALYTICS_ENABLED="False", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ui.cli", "serve", "--port", str(port), *extra_args]
    url = f"http://127.0.0.1:{port}"
    with log_path.open("w", encoding="utf-8") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT
            while not _healthy(url):
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}:\n"
                                       + log_path.read_text(encoding="utf-8")[-3000:])
                if time.monotonic() > deadline:
                    raise RuntimeError("server did not start in time:\n"
                                       + log_path.read_text(encoding="utf-8")[-3000:])
                time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """No access log on the test output."""


@contextmanager
def static_site(directory: Path, port: int) -> Iterator[str]:
    """Serve a folder on another localhost port: a stand-in for a course site's origin."""
    httpd = ThreadingHTTPServer(("127.0.0.1", port), partial(_QuietHandler,
                                                             directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def screenshot_path(name: str) -> str:
    """Where a screenshot goes (the folder is git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return str(ARTIFACTS / f"{name}.png")


@contextmanager
def chat_page(tmp: Path) -> Iterator[Any]:
    """One desktop page (1280×900) on the chat of a real server with the bundled readings,
    its data dir and log under `tmp`."""
    with running_server(tmp / "rag-data", tmp / "server.log") as url, chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto(url + "/", wait_until="networkidle")
        yield page
        browser.close()
